/**
 * The HTTP API beside the worker: Fastify 5 with JSON-schema validation, the routes of the outer contract under
 * `/api/v1`, its OpenAPI document at `/api/v1/openapi.json`, per-role credentials, and in dev mode the signing page
 * under `/portal`.
 *
 * Every rejection is `{ code, message }` with a 4xx status; nothing the caller did wrong becomes a 500.
 */
import swagger from '@fastify/swagger';
import { ServiceError } from '@temporalio/client';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import {
  Authenticator,
  assertRoleAllowed,
  DbReplayStore,
  HMAC_SIGNATURE_HEADER,
  HMAC_TIMESTAMP_HEADER,
  type Role,
} from './auth';
import type { ApiContext, ApiDeps } from './context';
import { CommandError, CommandErrorCode } from '../commands/errors';
import { ApiError, ApiErrorCode, fromCommandError, type ErrorBody } from './errors';
import { registerDevPortal } from './portal/routes';
import { registerOpsRoutes } from './ops-routes';
import { loggerOptions, REDACT_PATHS } from '../logging/logger';
import { registerContractRoutes } from './routes/contracts';
import { registerReadRoutes } from './routes/reports';
import { registerViewRoutes } from './routes/views';
import { errorSchema } from './schemas';

export const API_PREFIX = '/api/v1';
export const OPENAPI_PATH = `${API_PREFIX}/openapi.json`;

/** Room for JSON around the base64 image: ids, method, whitespace. */
const BODY_OVERHEAD_BYTES = 64 * 1024;

export interface BuildApiOptions {
  /**
   * `false` for silence, or where and how much to log. Secret headers are always redacted.
   * @default level `info` on stdout
   */
  logger?: false | { level?: string; stream?: { write(line: string): void } };
}

/** Header paths pino must never print: they carry credentials. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  `req.headers["${HMAC_SIGNATURE_HEADER}"]`,
  'headers.authorization',
  `headers["${HMAC_SIGNATURE_HEADER}"]`,
];

function resolveBodyLimit(deps: ApiDeps): number {
  return deps.config.api.bodyLimit ?? Math.ceil(deps.config.signature.maxImageBytes / 3) * 4 + BODY_OVERHEAD_BYTES;
}

function sendError(reply: import('fastify').FastifyReply, status: number, body: ErrorBody, headers = {}) {
  return reply.code(status).headers(headers).type('application/json; charset=utf-8').send(body);
}

export async function buildApi(deps: ApiDeps, options: BuildApiOptions = {}): Promise<FastifyInstance> {
  const ctx: ApiContext = { ...deps, bodyLimit: resolveBodyLimit(deps) };
  const auth = new Authenticator(deps.config.api, new DbReplayStore(deps.db));
  const app = Fastify({
    logger:
      options.logger === false
        ? false
        : {
            // The JSON lines of every signflow process: ISO time, level names, no names or e-mail addresses.
            ...loggerOptions('api', options.logger?.level ?? 'info'),
            ...(options.logger?.stream ? { stream: options.logger.stream } : {}),
            redact: { paths: [...REDACTED_PATHS, ...REDACT_PATHS], censor: '[redacted]' },
          },
    bodyLimit: ctx.bodyLimit,
    return503OnClosing: true,
    ajv: {
      // Reject unknown properties instead of dropping them silently, and never coerce: `"1"`, `true` and `[1]` are not
      // the id 1. Path and query values are text; their schemas say which text (decimal ids) and the routes convert.
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false },
    },
  });

  const missing = auth.rolesWithoutCredentials();
  if (missing.length > 0) {
    app.log.warn(`no credentials configured for role(s) ${missing.join(', ')}: they cannot call the API`);
  }

  // JSON parsed from the raw bytes, which are kept for the HMAC check.
  // JSON only: any other media type is a 415, not a string the schema then rejects as a 400.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer;
    request.rawBody = raw;
    if (raw.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(raw.toString('utf8')));
    } catch (err) {
      done(
        new ApiError(400, ApiErrorCode.INVALID_JSON, `the body is not valid JSON: ${(err as Error).message}`),
        undefined
      );
    }
  });

  app.addSchema(errorSchema);

  // Every /api/v1 route states its roles, or is explicitly public; the OpenAPI document shows both.
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith(API_PREFIX)) return;
    const roles = route.config?.roles;
    if (!roles && !route.config?.public) throw new Error(`route ${route.method} ${route.url} declares no roles`);
    if (roles && route.schema) {
      const schema = route.schema as Record<string, unknown>;
      schema.description = `Roles: ${roles.join(', ')}.` + (schema.description ? ` ${String(schema.description)}` : '');
      schema.security = roles.includes('crm')
        ? [{ bearer: [] }, { crmHmac: [], crmHmacTimestamp: [] }]
        : [{ bearer: [] }];
    }
  });

  app.addHook('preValidation', async (request) => {
    const config = request.routeOptions.config;
    if (config?.public || !request.routeOptions.url) return;
    const roles = config?.roles;
    if (!roles) throw new ApiError(403, ApiErrorCode.ROLE_NOT_ALLOWED, 'this route is not open to any role');
    const header = (name: string) => {
      const v = request.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const role: Role = await auth.authenticate({
      method: request.method,
      url: request.raw.url ?? request.url,
      authorization: header('authorization'),
      hmacTimestamp: header(HMAC_TIMESTAMP_HEADER),
      hmacSignature: header(HMAC_SIGNATURE_HEADER),
      rawBody: request.rawBody ?? Buffer.alloc(0),
    });
    request.role = role;
    assertRoleAllowed(role, roles, config.action ?? 'use this route');
  });

  // Before the routes: its hooks (request metrics, contract ids on log lines) must apply to all of them.
  registerOpsRoutes(app, ctx);

  app.setErrorHandler((err: FastifyError | ApiError | Error, request, reply) => {
    if (err instanceof CommandError) err = fromCommandError(err);
    if (err instanceof ApiError) {
      // A refusal (wrong signer, already signed, not sendable…) is an answer, not a fault: one line with its code.
      if (err.statusCode >= 500) request.log.error({ err }, err.message);
      else request.log.info({ code: err.code, statusCode: err.statusCode }, `refused: ${err.message}`);
      const body: ErrorBody = { code: err.code, message: err.message };
      if (err.details && Object.keys(err.details).length > 0) body.details = err.details;
      return sendError(reply, err.statusCode, body, err.headers);
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      return sendError(reply, 400, { code: CommandErrorCode.VALIDATION_FAILED, message: fe.message });
    }
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(reply, 413, {
          code: ApiErrorCode.PAYLOAD_TOO_LARGE,
          message: `the request body is larger than ${ctx.bodyLimit} bytes`,
        });
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendError(reply, 415, {
          code: ApiErrorCode.UNSUPPORTED_MEDIA_TYPE,
          message: `the body must be application/json, not ${String(request.headers['content-type'] ?? 'unknown')}`,
        });
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return sendError(reply, 400, { code: ApiErrorCode.INVALID_JSON, message: fe.message });
    }
    if (err instanceof ServiceError) {
      request.log.error({ err }, 'Temporal call failed');
      return sendError(reply, 503, {
        code: ApiErrorCode.TEMPORAL_UNAVAILABLE,
        message: 'Temporal did not answer as expected; retry later',
      });
    }
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      // Fastify's own 4xx (e.g. a malformed header) in the documented shape.
      return sendError(reply, fe.statusCode, { code: CommandErrorCode.VALIDATION_FAILED, message: fe.message });
    }
    request.log.error({ err }, 'unexpected error');
    return sendError(reply, 500, { code: ApiErrorCode.INTERNAL_ERROR, message: 'an unexpected error occurred' });
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, {
      code: ApiErrorCode.ROUTE_NOT_FOUND,
      message: `no route ${request.method} ${request.url.split('?')[0]}`,
    })
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'signflow API',
        version: '1.0.0',
        description:
          'Durable contract signatures (Honorarvertrag) for the CRM, its portal, staff and ops. Every rejection is ' +
          '`{ code, message }`. Authenticate with `Authorization: Bearer <token>` of your role; the CRM role may ' +
          `instead sign calls with \`${HMAC_TIMESTAMP_HEADER}\` (unix seconds) and \`${HMAC_SIGNATURE_HEADER}\` ` +
          '(`sha256=` + hex HMAC-SHA256 over `timestamp + "." + rawBody`).',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'One token per role: crm, portal, staff, ops.' },
          crmHmac: { type: 'apiKey', in: 'header', name: HMAC_SIGNATURE_HEADER },
          crmHmacTimestamp: { type: 'apiKey', in: 'header', name: HMAC_TIMESTAMP_HEADER },
        },
      },
    },
  });

  // Every route under the prefix, for the index below (a newcomer following the README's link gets a map, not a 404).
  const listed: Array<{ method: string; path: string }> = [];
  app.addHook('onRoute', (route) => {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'HEAD');
    if (route.url.startsWith(`${API_PREFIX}/`) && route.url !== `${API_PREFIX}/`) {
      for (const method of methods) listed.push({ method, path: route.url });
    }
  });
  await app.register(
    async (api) => {
      api.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
      // The index: no credentials needed, it says only what the OpenAPI document says too.
      api.get('/', { config: { public: true }, schema: { hide: true } }, async () => ({
        name: 'signflow API',
        openApi: `${API_PREFIX}/openapi.json`,
        authentication: 'Authorization: Bearer <token of your role: crm, portal, staff, ops>',
        routes: listed,
      }));
      registerContractRoutes(api, ctx);
      registerReadRoutes(api, ctx);
      registerViewRoutes(api, ctx);
    },
    { prefix: API_PREFIX }
  );

  if (deps.config.api.dev) registerDevPortal(app, ctx, API_PREFIX);

  await app.ready();
  return app;
}
