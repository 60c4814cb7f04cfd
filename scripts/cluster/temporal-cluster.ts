/**
 * A production-style Temporal cluster on one machine: the server built from the Go module proxy
 * (build-server.sh), PostgreSQL for persistence and SQL visibility (schemas set up with the server's own
 * `temporal-sql-tool` and its embedded schema files), and frontend, history, matching and the internal worker as four
 * separate processes, each of which can be restarted on its own.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { getFreePort } from '../../dev-stack/temporal-dev-server';
import type { RunningPostgres } from './postgres';

export const SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface TemporalCluster {
  /** host:port of the frontend. */
  address: string;
  namespace: string;
  /** Stops one service (SIGTERM, then waits) and starts it again with the same config. */
  restart(service: ServiceName): Promise<void>;
  /** The services' combined log (a file in the cluster's folder). */
  logFile: string;
  stop(): Promise<void>;
}

/** Runs `temporal-sql-tool` against one database: create it, set up the base schema, update to the newest version. */
function setupSchema(bin: string, pg: RunningPostgres, database: string, schemaName: string): void {
  const tool = path.join(bin, 'temporal-sql-tool');
  const base = ['--plugin', 'postgres12', '--ep', pg.host, '-p', String(pg.port), '-u', pg.user, '--pw', pg.password];
  const run = (args: string[]) => execFileSync(tool, [...base, '--db', database, ...args], { stdio: 'pipe' });
  run(['create-database']);
  run(['setup-schema', '-v', '0.0']);
  run(['update-schema', '--schema-name', schemaName]);
}

function configYaml(
  pg: RunningPostgres,
  ports: Record<ServiceName, { grpc: number; membership: number }>,
  http: number
) {
  const store = (db: string, conns: number) => `      sql:
        pluginName: "postgres12"
        databaseName: "${db}"
        connectAddr: "${pg.host}:${pg.port}"
        connectProtocol: "tcp"
        user: "${pg.user}"
        password: "${pg.password}"
        maxConns: ${conns}
        maxIdleConns: ${conns}
        maxConnLifetime: "1h"`;
  const service = (name: ServiceName) => `  ${name}:
    rpc:
      grpcPort: ${ports[name].grpc}
      membershipPort: ${ports[name].membership}
      bindOnLocalHost: true${name === 'frontend' ? `\n      httpPort: ${http}` : ''}`;
  return `log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:
${store('temporal', 20)}
    postgres-visibility:
${store('temporal_visibility', 10)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
services:
${SERVICES.map(service).join('\n')}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:${ports.frontend.grpc}"
dcRedirectionPolicy:
  policy: "noop"
`;
}

/**
 * A free port below 32768: the cluster membership table stores the membership port as a PostgreSQL smallint, so an
 * ephemeral port (usually above 32767) makes the service die at start ("value … is out of range for type smallint").
 */
async function freeLowPort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port between 20000 and 32000');
}

export async function startTemporalCluster(
  bin: string,
  pg: RunningPostgres,
  log: (line: string) => void
): Promise<TemporalCluster> {
  setupSchema(bin, pg, 'temporal', 'postgresql/v12/temporal');
  setupSchema(bin, pg, 'temporal_visibility', 'postgresql/v12/visibility');
  log('schemas set up with temporal-sql-tool (postgres12: temporal, temporal_visibility)');

  const ports = {} as Record<ServiceName, { grpc: number; membership: number }>;
  for (const s of SERVICES) ports[s] = { grpc: await getFreePort(), membership: await freeLowPort() };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-temporal-cluster-'));
  const configFile = path.join(dir, 'config.yaml');
  fs.writeFileSync(configFile, configYaml(pg, ports, await getFreePort()));
  const logFile = path.join(dir, 'services.log');
  const logFd = fs.openSync(logFile, 'a');

  const children = new Map<ServiceName, ChildProcess>();
  const start = (service: ServiceName) => {
    const child = spawn(
      path.join(bin, 'temporal-server'),
      ['--config-file', configFile, '--allow-no-auth', 'start', '--service', service],
      { stdio: ['ignore', logFd, logFd] }
    );
    children.set(service, child);
  };
  const stopOne = async (service: ServiceName) => {
    const child = children.get(service);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  for (const s of SERVICES) start(s);
  log(
    `services started as separate processes: ${SERVICES.map((s) => `${s} (pid ${children.get(s)?.pid})`).join(', ')}`
  );

  const address = `127.0.0.1:${ports.frontend.grpc}`;
  const namespace = 'default';
  // The frontend answers once the ring has formed; then register the namespace (a fresh cluster has none).
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService
          .registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') })
          .catch((err: { code?: number }) => {
            if (err.code !== 6) throw err; // ALREADY_EXISTS
          });
        await connection.workflowService.describeNamespace({ namespace });
      } finally {
        await connection.close();
      }
      break;
    } catch (err) {
      for (const [s, c] of children) {
        if (c.exitCode !== null) throw new Error(`temporal ${s} exited (${c.exitCode}); see ${logFile}`);
      }
      if (Date.now() > deadline) throw new Error(`cluster not ready: ${String(err)}; see ${logFile}`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
  log(`frontend ${address} answers; namespace ${namespace} registered`);

  return {
    address,
    namespace,
    logFile,
    async restart(service) {
      await stopOne(service);
      start(service);
    },
    async stop() {
      // Frontend first (no new calls), the internal worker, then matching and history.
      for (const s of ['frontend', 'worker', 'matching', 'history'] as const) await stopOne(s);
      fs.closeSync(logFd);
    },
  };
}
