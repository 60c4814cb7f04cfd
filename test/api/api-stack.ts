/**
 * The API on a real listening port in front of the real contract stack (Temporal dev server, worker with the real
 * activities, test database, SMTP inbox), and a small fetch-based caller that authenticates as a role.
 */
import type { FastifyInstance } from 'fastify';
import { hmacHeaders } from '../../api/auth';
import { buildApi } from '../../api/server';
import { deepMerge, type SignflowConfig } from '../../temporal.config';
import { startContractStack, type ContractStack, type ContractStackOptions } from '../helpers/contract-stack';
import { getFreePort, type DevServerHandle } from '../../harness/temporal';

export const TEST_TOKENS = {
  crm: 'test-token-crm-0123456789abcdef',
  portal: 'test-token-portal-0123456789abcdef',
  staff: 'test-token-staff-0123456789abcdef',
  ops: 'test-token-ops-0123456789abcdef',
} as const;
export const TEST_HMAC_SECRET = 'test-hmac-secret-crm-0123456789abcdef';

export type TestRole = keyof typeof TEST_TOKENS;

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface CallOptions {
  /** Authenticate with this role's bearer token; omit for an anonymous call. */
  as?: TestRole;
  /** JSON body (serialised) or raw body bytes/string (sent as is). */
  body?: unknown;
  raw?: string | Buffer;
  headers?: Record<string, string>;
}

export async function call(baseUrl: string, method: string, path: string, opts: CallOptions = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.as) headers.authorization = `Bearer ${TEST_TOKENS[opts.as]}`;
  let body: string | Buffer | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(baseUrl + path, { method, headers, body, signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** An HMAC-signed CRM call, as a CRM would make it. */
export async function callHmac(
  baseUrl: string,
  method: string,
  path: string,
  body: string,
  opts: { secret?: string; now?: number; headers?: Record<string, string> } = {}
): Promise<HttpAnswer> {
  const signed = hmacHeaders(
    opts.secret ?? TEST_HMAC_SECRET,
    { method, url: path, rawBody: body },
    opts.now ?? Date.now()
  );
  return call(baseUrl, method, path, {
    raw: body === '' ? undefined : body,
    headers: { ...signed, ...(body === '' ? {} : { 'content-type': 'application/json' }), ...(opts.headers ?? {}) },
  });
}

export interface ApiStack {
  stack: ContractStack;
  config: SignflowConfig;
  app: FastifyInstance;
  /** `http://127.0.0.1:<port>` */
  url: string;
  call(method: string, path: string, opts?: CallOptions): Promise<HttpAnswer>;
  stop(): Promise<void>;
}

export interface ApiStackOptions extends ContractStackOptions {
  /** Dev mode: the signing page under /portal. */
  dev?: boolean;
  /** Partial `api` config on top of the test credentials. */
  api?: Record<string, unknown>;
  /** The API's request log (default: none), e.g. a stream the test reads. */
  logger?: { level?: string; stream?: { write(line: string): void } };
}

export async function startApiStack(server: DevServerHandle, opts: ApiStackOptions = {}): Promise<ApiStack> {
  // The port is chosen first so that the invitation mail's link points at this very API (the dev signing page).
  const port = await getFreePort();
  const portal = { baseUrl: `http://127.0.0.1:${port}/portal` };
  const stack = await startContractStack(server.env, {
    ...opts,
    config: deepMerge({ portal }, opts.config ?? {}),
  });
  try {
    const config: SignflowConfig = {
      ...stack.config,
      api: {
        ...stack.config.api,
        host: '127.0.0.1',
        dev: opts.dev ?? false,
        tokens: { ...TEST_TOKENS },
        hmacSecretCrm: TEST_HMAC_SECRET,
        ...(opts.api ?? {}),
      },
    };
    const app = await buildApi({ config, client: stack.client, db: stack.t.db }, { logger: opts.logger ?? false });
    await app.listen({ host: '127.0.0.1', port });
    const url = `http://127.0.0.1:${port}`;
    return {
      stack,
      config,
      app,
      url,
      call: (method, path, o) => call(url, method, path, o),
      stop: async () => {
        await app.close();
        await stack.stop();
      },
    };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}
