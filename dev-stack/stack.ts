/**
 * The local dev stack on embedded defaults, all in one process except the Temporal server (a child process):
 *
 * - Temporal CLI dev server, state kept in `<dataDir>/temporal.sqlite`, Web UI, our search attributes registered
 *   (an already running Temporal server on the port is reused instead);
 * - the CRM database as a SQLite file `<dataDir>/crm.sqlite`, migrated (CRM dev schema + plugin tables) and seeded;
 * - the SMTP inbox on loopback, every message kept as `<dataDir>/mail/*.eml` and shown on the inbox page;
 * - the signflow worker and the HTTP API (dev mode: well-known tokens, dev signing page).
 *
 * Ports come from the environment (see `devStackPorts`). Everything binds to 127.0.0.1.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { Knex } from 'knex';
import { runApi, type RunningApi } from '../api/main';
import { createDb, dialectOf } from '../db/connection';
import { migrateCrm, migrateSignflow } from '../db/migrate';
import { seedDemo, type SeedResult } from '../db/seed';
import { startDevInbox, startInboxPage, type DevInbox, type InboxPage } from '../mail/dev-inbox';
import { loadConfig, type SignflowConfig } from '../temporal.config';
import { createWorker, type RunningWorker } from '../worker/run-worker';
import { registerSearchAttributes } from './search-attributes';
import { startTemporalDevServer, type RunningDevServer } from './temporal-dev-server';

export interface DevStackPorts {
  /** Env SIGNFLOW_DEV_TEMPORAL_PORT. @default 7233 */
  temporal: number;
  /** Env SIGNFLOW_DEV_TEMPORAL_UI_PORT. @default 8233 */
  temporalUi: number;
  /** Env SIGNFLOW_DEV_SMTP_PORT. @default 2525 */
  smtp: number;
  /** Env SIGNFLOW_DEV_INBOX_PORT. @default 8025 */
  inboxPage: number;
  /** Env SIGNFLOW_API_PORT. @default 3000 */
  api: number;
}

function portFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name}=${raw} is not a port number`);
  return n;
}

export function devStackPorts(env: NodeJS.ProcessEnv = process.env): DevStackPorts {
  return {
    temporal: portFromEnv(env, 'SIGNFLOW_DEV_TEMPORAL_PORT', 7233),
    temporalUi: portFromEnv(env, 'SIGNFLOW_DEV_TEMPORAL_UI_PORT', 8233),
    smtp: portFromEnv(env, 'SIGNFLOW_DEV_SMTP_PORT', 2525),
    inboxPage: portFromEnv(env, 'SIGNFLOW_DEV_INBOX_PORT', 8025),
    api: portFromEnv(env, 'SIGNFLOW_API_PORT', 3000),
  };
}

export interface DevStackSummary {
  temporal: { address: string; namespace: string; uiUrl?: string; reused: boolean; dbFile?: string };
  database: { url: string; seeded: boolean; seed?: SeedResult };
  mail: { smtpUrl: string; inboxUrl: string; dir: string };
  api?: { url: string; openApiUrl: string; portalUrl: string };
  worker: { taskQueue: string };
}

export interface DevStack {
  config: SignflowConfig;
  summary: DevStackSummary;
  /** Stops everything in reverse order of start. Idempotent. */
  stop(): Promise<void>;
}

export interface DevStackOptions {
  env?: NodeJS.ProcessEnv;
  /** Progress lines while starting. @default console.log */
  log?: (line: string) => void;
  /** Start the HTTP API. @default true */
  api?: boolean;
}

/** An answering Temporal frontend on `address`, or undefined when nothing (or something else) listens there. */
async function existingTemporal(address: string, namespace: string): Promise<Connection | undefined> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 1_500 });
    try {
      await connection.workflowService.describeNamespace({ namespace });
      return connection;
    } catch {
      await connection.close();
      return undefined;
    }
  } catch {
    return undefined;
  }
}

function portHint(err: unknown, what: string, envName: string): Error {
  const code = (err as { code?: string }).code;
  if (code === 'EADDRINUSE') return new Error(`${what}: port already in use; choose another with ${envName}=<port>`);
  return err instanceof Error ? err : new Error(String(err));
}

export async function startDevStack(options: DevStackOptions = {}): Promise<DevStack> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.log(line));
  const ports = devStackPorts(env);
  const host = '127.0.0.1';

  // The dev stack owns these settings; everything else comes from the environment and the config's defaults.
  const config = loadConfig(
    {
      temporal: { address: `${host}:${ports.temporal}` },
      mail: { smtpUrl: `smtp://${host}:${ports.smtp}`, devSmtpPort: ports.smtp },
      api: { dev: true, host, port: ports.api },
      portal: env.SIGNFLOW_PORTAL_BASE_URL ? {} : { baseUrl: `http://localhost:${ports.api}/portal` },
    },
    env
  );
  const dataDir = path.resolve(config.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });

  const stops: Array<{ what: string; stop: () => Promise<void> }> = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const s of stops.reverse()) {
        try {
          await s.stop();
        } catch (err) {
          log(`[dev] stopping ${s.what} failed: ${String(err)}`);
        }
      }
    })();
    return stopping;
  };

  try {
    // 1. Temporal
    const namespace = config.temporal.namespace;
    let temporal: RunningDevServer | undefined;
    const reuse = await existingTemporal(config.temporal.address, namespace);
    const temporalDbFile = path.join(dataDir, 'temporal.sqlite');
    if (reuse) {
      log(`[dev] a Temporal server already answers on ${config.temporal.address}: using it`);
      await registerSearchAttributes(reuse, namespace);
      await reuse.close();
    } else {
      log(`[dev] starting the Temporal dev server (state: ${path.relative(process.cwd(), temporalDbFile)})`);
      temporal = await startTemporalDevServer({
        ip: host,
        port: ports.temporal,
        ui: true,
        uiPort: ports.temporalUi,
        dbFilename: temporalDbFile,
        namespace,
        logFile: path.join(dataDir, 'temporal.log'),
        detached: true,
      });
      stops.push({ what: 'Temporal dev server', stop: temporal.stop });
      log(`[dev] Temporal ready in ${(temporal.startedInMs / 1000).toFixed(1)} s`);
    }

    // 2. Database
    const db: Knex = createDb(config.database.url, { poolMax: config.database.poolMax });
    stops.push({ what: 'database', stop: () => db.destroy() });
    await migrateSignflow(db);
    let seed: SeedResult | undefined;
    if (dialectOf(config.database.url) === 'sqlite') {
      await migrateCrm(db, config.crm);
      seed = await seedDemo(db, config.crm);
      log(`[dev] CRM database migrated and seeded: ${config.database.url}`);
    } else {
      // A MySQL URL may be a real CRM: only the plugin's own tables are ours to create.
      log('[dev] MySQL database: plugin tables migrated; CRM schema and demo data left alone');
    }

    // 3. Mail
    const mailDir = path.join(dataDir, 'mail');
    let inbox: DevInbox;
    try {
      inbox = await startDevInbox({ port: ports.smtp, host, dir: mailDir });
    } catch (err) {
      throw portHint(err, 'SMTP inbox', 'SIGNFLOW_DEV_SMTP_PORT');
    }
    stops.push({ what: 'SMTP inbox', stop: () => inbox.close() });
    let page: InboxPage;
    try {
      page = await startInboxPage(inbox, ports.inboxPage, host);
    } catch (err) {
      throw portHint(err, 'inbox page', 'SIGNFLOW_DEV_INBOX_PORT');
    }
    stops.push({ what: 'inbox page', stop: () => page.close() });

    // 4. Worker (bundles the workflows at start: some seconds)
    log('[dev] starting the worker (bundling workflows)');
    const worker: RunningWorker = await createWorker(config, { db });
    stops.push({ what: 'worker', stop: () => worker.shutdown() });
    worker.done.catch((err: unknown) => log(`[dev] worker stopped with an error: ${String(err)}`));

    // 5. API
    let api: RunningApi | undefined;
    if (options.api !== false) {
      try {
        api = await runApi(config);
      } catch (err) {
        throw portHint(err, 'HTTP API', 'SIGNFLOW_API_PORT');
      }
      const running = api;
      stops.push({ what: 'HTTP API', stop: () => running.close() });
    }

    const summary: DevStackSummary = {
      temporal: {
        address: config.temporal.address,
        namespace,
        uiUrl: temporal ? temporal.uiUrl?.replace(host, 'localhost') : undefined,
        reused: !temporal,
        dbFile: temporal ? temporalDbFile : undefined,
      },
      database: { url: config.database.url, seeded: seed !== undefined, seed },
      mail: { smtpUrl: config.mail.smtpUrl, inboxUrl: page.url.replace(host, 'localhost'), dir: mailDir },
      api: api
        ? {
            url: `${api.url}/api/v1`,
            openApiUrl: `${api.url}/api/v1/openapi.json`,
            portalUrl: config.portal.baseUrl,
          }
        : undefined,
      worker: { taskQueue: config.temporal.taskQueue },
    };
    return { config, summary, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
