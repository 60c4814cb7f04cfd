/**
 * The worker's small HTTP server for ops: `/metrics` (Prometheus text: signflow's registry plus, when configured, the
 * Temporal SDK's own worker metrics read from its loopback exporter), `/healthz` (the process is up) and `/readyz`
 * (every readiness check passes; 503 with the failing ones otherwise). The API serves the same three paths itself
 * (api/ops-routes.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { registry } from './signflow-metrics';

export type ReadinessCheck = () => Promise<void>;

export interface OpsServerOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  /** Named checks of `/readyz`; each throws when not ready. */
  readiness: Record<string, ReadinessCheck>;
  /** `http://127.0.0.1:<port>/metrics` of the Temporal SDK's Prometheus exporter, appended to `/metrics`. */
  sdkMetricsUrl?: string;
}

export interface RunningOpsServer {
  /** `http://host:port` */
  url: string;
  close(): Promise<void>;
}

/** Runs every check (bounded by `timeoutMs` each) and reports which failed and why. */
export async function readiness(
  checks: Record<string, ReadinessCheck>,
  timeoutMs = 5_000
): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const results: Record<string, string> = {};
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        results[name] = 'ok';
      } catch (err) {
        results[name] = err instanceof Error ? err.message : String(err);
      } finally {
        clearTimeout(timer);
      }
    })
  );
  return { ready: Object.values(results).every((r) => r === 'ok'), checks: results };
}

/** signflow's metrics, then the SDK's (a missing SDK exporter is reported as a comment, not as an error). */
export async function metricsText(sdkMetricsUrl?: string): Promise<string> {
  const own = await registry.metrics();
  if (!sdkMetricsUrl) return own;
  try {
    const res = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(5_000) });
    return `${own}\n${await res.text()}`;
  } catch (err) {
    return `${own}\n# Temporal SDK metrics unavailable: ${err instanceof Error ? err.message : String(err)}\n`;
  }
}

export async function startOpsServer(options: OpsServerOptions): Promise<RunningOpsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    if (path === '/healthz') return send(200, 'application/json', '{"status":"ok"}\n');
    if (path === '/readyz') {
      void readiness(options.readiness).then((r) =>
        send(
          r.ready ? 200 : 503,
          'application/json',
          `${JSON.stringify({ status: r.ready ? 'ready' : 'not ready', ...r })}\n`
        )
      );
      return;
    }
    if (path === '/metrics') {
      void metricsText(options.sdkMetricsUrl).then(
        (text) => send(200, registry.contentType, text),
        (err: unknown) => send(500, 'text/plain', `${String(err)}\n`)
      );
      return;
    }
    send(404, 'text/plain', 'not found: /metrics, /healthz, /readyz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
