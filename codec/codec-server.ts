/**
 * Codec server for the Temporal UI (and `temporal workflow show --codec-endpoint`): decrypts payloads for people who
 * may see them, with the same keys as the worker. It speaks the Temporal codec server protocol:
 *
 *   POST <endpoint>/decode   (and /encode)
 *   Content-Type: application/json, X-Namespace: <namespace>, Authorization: Bearer <token> (when configured)
 *   {"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}   → the same shape back
 *
 * with <endpoint> = `http://<host>:<port>/codec`. Who may call it:
 * - a caller with one of `codec.server.tokens` as bearer token (CLI, proxies, a UI behind an auth proxy), or
 * - a browser that signed in once at `GET /codec/login` with such a token: it then holds an HttpOnly session cookie
 *   that the UI sends when "Include cross-origin credentials" is on (the dev UI has no login of its own to pass a
 *   token from);
 * - and only from the origins in `codec.server.corsOrigins`: any other browser origin is refused outright (403), not
 *   merely left without CORS headers.
 * Payload contents and tokens are never logged.
 *
 * Run standalone: `npx tsx codec/codec-server.ts` (reads the same environment as the worker).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { Payload } from '@temporalio/common';
import { ConfigError, loadConfig, type SignflowConfig } from '../temporal.config';
import { type AesGcmPayloadCodec, CodecDecryptError, CodecKeyNotFoundError, codecFromConfig } from './aes-gcm-codec';

export const CODEC_BASE_PATH = '/codec';
const SESSION_COOKIE = 'signflow_codec_session';
/** Eight hours: one working day of watching workflows, then sign in again. */
const SESSION_MAX_AGE_SECONDS = 8 * 60 * 60;
const BASE64 = '^[A-Za-z0-9+/_-]*={0,2}$';

/** A payload in proto3 JSON form: every bytes field (metadata values, data) is base64. */
interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

interface CodecBody {
  payloads?: JsonPayload[];
}

/**
 * `payloads` may be missing: proto3 JSON leaves out an empty list, so the Temporal CLI (1.9.1) sends `{}` for an event
 * without payloads, and the answer is then `{"payloads":[]}`.
 */
const bodySchema = {
  type: 'object',
  properties: {
    payloads: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          metadata: { type: 'object', additionalProperties: { type: 'string', pattern: BASE64 } },
          data: { type: 'string', pattern: BASE64 },
        },
      },
    },
  },
} as const;

function fromJson(p: JsonPayload): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v, 'base64');
  return { metadata, data: Buffer.from(p.data ?? '', 'base64') };
}

function toJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * Constant-time membership test. Both sides are hashed first so that the comparison does not leak lengths, and every
 * candidate is compared so that the position of a match does not leak either.
 */
function matchesAny(presented: string, digests: readonly Buffer[]): boolean {
  const p = sha256(presented);
  let ok = false;
  for (const d of digests) ok = timingSafeEqual(p, d) || ok;
  return ok;
}

/** The cookie value of a token: derived, so the cookie never holds the token itself. */
function sessionValue(token: string): string {
  return createHmac('sha256', token).update('signflow-codec-session-v1').digest('base64url');
}

function cookie(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function bearer(req: FastifyRequest): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

function reject(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ code, message });
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

function loginPage(message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>signflow codec server</title></head>
<body style="font-family:sans-serif;max-width:36em;margin:3em auto">
<h1>signflow codec server</h1><p>${escapeHtml(message)}</p>
<form method="post" action="${CODEC_BASE_PATH}/login"><label>Token <input type="password" name="token" autocomplete="off" required></label>
<button type="submit">Sign in</button></form>
<p>Then enable <em>Include cross-origin credentials</em> in the Temporal UI's codec server settings.</p></body></html>`;
}

export interface BuildCodecServerOptions {
  /** Fastify logger settings. @default false */
  logger?: FastifyServerOptions['logger'];
}

/**
 * Builds (does not start) the codec server for the configured keys, tokens and UI origins. Throws `ConfigError` when
 * no key or no token is configured: a codec server that cannot decrypt, or that anyone may call, is a mistake.
 */
export function buildCodecServer(config: SignflowConfig, options: BuildCodecServerOptions = {}): FastifyInstance {
  const codec: AesGcmPayloadCodec | undefined = codecFromConfig(config.codec);
  if (!codec) throw new ConfigError('codec server: no codec keys configured (SIGNFLOW_CODEC_KEYS)');
  const server = config.codec.server;
  if (server.tokens.length === 0) {
    throw new ConfigError('codec server: no bearer token configured (SIGNFLOW_CODEC_SERVER_TOKENS)');
  }
  const tokenDigests = server.tokens.map(sha256);
  const sessionDigests = server.tokens.map((t) => sha256(sessionValue(t)));
  const allowedOrigins = new Set(server.corsOrigins);
  // Dev only (see codec-config.ts): the dev Temporal UI decodes without a click; always also a CORS origin.
  const trustedOrigins = new Set(server.trustedOrigins);
  const namespace = config.temporal.namespace;

  const app = Fastify({ logger: options.logger ?? false, bodyLimit: server.maxBodyBytes });

  // The login form posts urlencoded; nothing else here takes it.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  // CORS first: a browser page from a foreign origin gets nothing, not even a 401 that tells it the path exists.
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    const isLogin = req.url.split('?')[0] === `${CODEC_BASE_PATH}/login`;
    // The login form is posted from the codec server's own page: its own origin is fine there, and only there.
    const sameOrigin = origin === `${req.protocol}://${req.headers.host ?? ''}`;
    if (!allowedOrigins.has(origin) && !(isLogin && sameOrigin)) {
      return reject(reply, 403, 'CORS_ORIGIN_NOT_ALLOWED', `origin ${origin} may not call this codec server`);
    }
    if (allowedOrigins.has(origin)) {
      void reply
        .header('Access-Control-Allow-Origin', origin)
        .header('Access-Control-Allow-Credentials', 'true')
        .header('Vary', 'Origin');
    }
    return undefined;
  });

  app.options(`${CODEC_BASE_PATH}/*`, async (_req, reply) => {
    return reply
      .code(204)
      .header('Access-Control-Allow-Methods', 'POST, OPTIONS')
      .header('Access-Control-Allow-Headers', 'Content-Type, Authorization, X-Namespace')
      .header('Access-Control-Max-Age', '600')
      .send();
  });

  const authenticate = async (req: FastifyRequest, reply: FastifyReply) => {
    const token = bearer(req);
    const session = cookie(req, SESSION_COOKIE);
    const origin = req.headers.origin;
    const ok =
      (token !== undefined && matchesAny(token, tokenDigests)) ||
      (session !== undefined && matchesAny(session, sessionDigests)) ||
      (typeof origin === 'string' && trustedOrigins.has(origin) && allowedOrigins.has(origin));
    if (!ok) {
      void reply.header('WWW-Authenticate', 'Bearer realm="signflow-codec"');
      return reject(reply, 401, 'UNAUTHENTICATED', 'a valid bearer token or codec session is required');
    }
    const ns = req.headers['x-namespace'];
    if (typeof ns === 'string' && ns !== '' && ns !== namespace) {
      return reject(
        reply,
        403,
        'NAMESPACE_NOT_SERVED',
        `this codec server serves namespace "${namespace}", not "${ns}"`
      );
    }
    return undefined;
  };

  for (const direction of ['encode', 'decode'] as const) {
    app.post<{ Body: CodecBody }>(
      `${CODEC_BASE_PATH}/${direction}`,
      { schema: { body: bodySchema }, preHandler: authenticate },
      async (req, reply) => {
        const unknown = Object.keys(req.body ?? {}).filter((k) => k !== 'payloads');
        if (unknown.length > 0) {
          return reject(reply, 400, 'INVALID_REQUEST', `request body has unknown field(s) ${unknown.join(', ')}`);
        }
        const payloads = (req.body?.payloads ?? []).map(fromJson);
        try {
          const out = direction === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
          return { payloads: out.map(toJson) };
        } catch (err) {
          if (err instanceof CodecKeyNotFoundError) return reject(reply, 422, 'CODEC_KEY_UNKNOWN', err.message);
          if (err instanceof CodecDecryptError) return reject(reply, 422, 'PAYLOAD_NOT_DECRYPTABLE', err.message);
          // A payload that is valid base64 but not a Payload message after decryption cannot happen without the key.
          throw err;
        }
      }
    );
  }

  // The endpoint itself, opened in a browser (the README and the banner print it): what it is and how to use it.
  app.get(CODEC_BASE_PATH, async (_req, reply) =>
    reply
      .type('text/plain; charset=utf-8')
      .send(
        'signflow codec server (Temporal remote codec protocol)\n\n' +
          `This URL is the codec endpoint for the Temporal UI and CLI: POST ${CODEC_BASE_PATH}/decode and ` +
          `${CODEC_BASE_PATH}/encode with {"payloads": [...]}.\n` +
          `Browser (Temporal UI): sign in once at ${CODEC_BASE_PATH}/login with a codec server token.\n` +
          "CLI: temporal workflow show ... --codec-endpoint <this URL> --codec-auth 'Bearer <token>'\n" +
          `Health: ${CODEC_BASE_PATH}/health\n`
      )
  );

  // Unauthenticated on purpose (readiness checks): it says nothing but "up".
  app.get(`${CODEC_BASE_PATH}/health`, async () => ({ ok: true }));

  app.get(`${CODEC_BASE_PATH}/login`, async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .send(loginPage('Sign in with a codec server token to decode in the Temporal UI.'))
  );

  app.post<{ Body: { token?: unknown } }>(`${CODEC_BASE_PATH}/login`, async (req, reply) => {
    const token = typeof req.body?.token === 'string' ? req.body.token : '';
    if (!matchesAny(token, tokenDigests)) {
      return reply.code(401).type('text/html; charset=utf-8').send(loginPage('That token is not valid here.'));
    }
    // SameSite=Strict still travels with the UI's fetches: localhost:8233 and localhost:8888 are the same site.
    const attributes = `Path=${CODEC_BASE_PATH}; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MAX_AGE_SECONDS}`;
    return reply
      .header(
        'Set-Cookie',
        `${SESSION_COOKIE}=${sessionValue(token)}; ${attributes}${req.protocol === 'https' ? '; Secure' : ''}`
      )
      .type('text/html; charset=utf-8')
      .send(loginPage('Signed in for 8 hours.'));
  });

  app.post(`${CODEC_BASE_PATH}/logout`, async (_req, reply) =>
    reply
      .header('Set-Cookie', `${SESSION_COOKIE}=; Path=${CODEC_BASE_PATH}; HttpOnly; SameSite=Strict; Max-Age=0`)
      .send({ ok: true })
  );

  app.setErrorHandler(
    (err: { validation?: unknown; statusCode?: number; code?: string; message: string }, req, reply) => {
      if (err.validation) return reject(reply, 400, 'INVALID_REQUEST', `request body ${err.message}`);
      const status = err.statusCode ?? 500;
      if (status < 500) return reject(reply, status, err.code ?? 'BAD_REQUEST', err.message);
      req.log.error({ err: { name: (err as Error).name, code: err.code } }, 'codec server error');
      return reject(reply, 500, 'INTERNAL', 'the codec server failed; see its log');
    }
  );

  return app;
}

export interface RunningCodecServer {
  app: FastifyInstance;
  /** What to give the Temporal UI (`--ui-codec-endpoint`) and `temporal … --codec-endpoint`. */
  endpoint: string;
  close(): Promise<void>;
}

/** Builds and starts the codec server on `codec.server.host:port` (port 0 = any free port). */
export async function startCodecServer(
  config: SignflowConfig,
  options: BuildCodecServerOptions = {}
): Promise<RunningCodecServer> {
  const app = buildCodecServer(config, options);
  await app.listen({ host: config.codec.server.host, port: config.codec.server.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.codec.server.port;
  const host = config.codec.server.host.includes(':') ? `[${config.codec.server.host}]` : config.codec.server.host;
  return { app, endpoint: `http://${host}:${port}${CODEC_BASE_PATH}`, close: () => app.close() };
}

if (require.main === module) {
  startCodecServer(loadConfig(), { logger: true })
    .then((s) => console.log(`codec server: ${s.endpoint} (login page: ${s.endpoint}/login)`))
    .catch((err: Error) => {
      console.error(err.message);
      process.exit(err instanceof ConfigError ? 5 : 1);
    });
}
