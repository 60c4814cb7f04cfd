/**
 * Ops endpoints of the API process, outside `/api/v1` and without credentials (they carry no personal data):
 * `/healthz` (the process is up), `/readyz` (Temporal and the database answer), `/metrics` (Prometheus text of this
 * process: API requests by route and status, plus signflow's process metrics). Also counts every request.
 */
import type { FastifyInstance } from 'fastify';
import { readiness } from '../metrics/metrics-server';
import { apiRequestDuration, apiRequests, registry } from '../metrics/signflow-metrics';
import { contractIdOf } from '../logging/logger';
import type { ApiContext } from './context';

const OPS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export function registerOpsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/healthz', { config: { public: true }, schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    const r = await readiness({
      temporal: async () => {
        await ctx.client.workflowService.getSystemInfo({});
      },
      database: async () => {
        await ctx.db.raw('select 1');
      },
    });
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', ...r });
  });
  app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics())
  );

  // Route pattern (never the URL, whose ids would make a series per contract), method and status of every request.
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (OPS_PATHS.has(route)) return;
    apiRequests.inc({ route, method: request.method, status: String(reply.statusCode) });
    apiRequestDuration.observe({ route, method: request.method }, reply.elapsedTime / 1000);
  });

  // Lines about one contract carry its id, workflow id and (once known, from the answer) run id.
  app.addHook('preHandler', async (request) => {
    const id = (request.params as { id?: unknown } | undefined)?.id;
    if (!request.routeOptions.url?.includes('/contracts/:id')) return;
    const contractId = Number(id);
    if (Number.isInteger(contractId))
      request.log = request.log.child({ contractId, workflowId: `honorarvertrag-${contractId}` });
  });
  app.addHook('onSend', async (request, _reply, payload) => {
    if (typeof payload !== 'string' || !payload.includes('"runId"')) return payload;
    try {
      const body = JSON.parse(payload) as { workflowId?: string; runId?: string; contractId?: number };
      if (body.runId) {
        const contractId = body.contractId ?? contractIdOf(body.workflowId);
        request.log.info({ contractId, workflowId: body.workflowId, runId: body.runId }, 'contract workflow run');
      }
    } catch {
      // Not JSON after all: nothing to log.
    }
    return payload;
  });
}
