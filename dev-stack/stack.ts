/**
 * The local dev stack on embedded defaults, all in one process except the Temporal server (a child process):
 *
 * - payload encryption: a dev codec key kept in `<dataDir>/codec-keys.json`, and the codec server the Web UI decodes
 *   through (`SIGNFLOW_DEV_CODEC=off` switches both off; `SIGNFLOW_CODEC_KEYS` from the environment wins);
 * - the Konnektor simulator (state in `<dataDir>/konnektor-sim/`), with countersigning switched on
 *   (`SIGNFLOW_DEV_KONNEKTOR=off` leaves it out);
 * - Temporal CLI dev server, state kept in `<dataDir>/temporal.sqlite`, Web UI wired to the codec server, our search
 *   attributes registered (an already running Temporal server on the port is reused instead);
 * - the CRM database as a SQLite file `<dataDir>/crm.sqlite`, migrated (CRM dev schema + plugin tables) and seeded;
 * - the SMTP inbox on loopback, every message kept as `<dataDir>/mail/*.eml` and shown on the inbox page;
 * - beside it the webhook receiver page, the `dev` webhook endpoint (unless `SIGNFLOW_WEBHOOKS(_FILE)` configures
 *   endpoints, or `SIGNFLOW_DEV_WEBHOOKS=off`): arrivals verified and kept in `<dataDir>/webhooks/webhooks.jsonl`;
 * - the signflow worker, the HTTP API (dev mode: well-known tokens, dev signing page) and the outbox poller;
 * - `<dataDir>/dev.env`: the same settings for the CLI in another shell.
 *
 * Ports come from the environment (see `devStackPorts`). Everything binds to 127.0.0.1.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { Knex } from 'knex';
import { createKonnektorClient } from '../activities/konnektor/client-from-config';
import type { KonnektorClient } from '../activities/konnektor/konnektor-client';
import { runApi, type RunningApi } from '../api/main';
import { connectClient } from '../client/connect';
import { startCodecServer, type RunningCodecServer } from '../codec/codec-server';
import { createDataConverter } from '../codec/data-converter';
import { createDb, dialectOf } from '../db/connection';
import { migrateCrm, migrateSignflow } from '../db/migrate';
import { seedDemo, type SeedResult } from '../db/seed';
import type { RunningKonnektorSimulator } from '../konnektor-simulator';
import { startDevInbox, startInboxPage, type DevInbox, type InboxPage } from '../mail/dev-inbox';
import { ensureOutboxPoller } from '../outbox/poller';
import { ensureStaffDigestSchedule } from '../staff/digest-schedule';
import { loadConfig, type SignflowConfig } from '../temporal.config';
import { startDevWebhookReceiver, type DevWebhookReceiver } from '../webhooks/dev-receiver';
import { createWorker, type RunningWorker } from '../worker/run-worker';
import { codecKeysEnv, DEV_CODEC_TOKEN, loadOrCreateDevCodecKeys } from './dev-codec';
import { writeDevEnvFile } from './dev-env-file';
import { devKonnektorEnabled, startDevKonnektor, type DevKonnektor } from './dev-konnektor';
import { registerSearchAttributes } from './search-attributes';
import { startTemporalDevServer, type RunningDevServer } from './temporal-dev-server';
import { removeTemporalPidFile, stopOrphanedTemporalServer, writeTemporalPidFile } from './temporal-pid-file';

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
  /** Codec server. Env SIGNFLOW_CODEC_SERVER_PORT. @default 8888 */
  codec: number;
  /** Webhook receiver page and endpoint. Env SIGNFLOW_DEV_WEBHOOKS_PORT. @default 8026 */
  webhooks: number;
  /** Konnektor simulator (HTTPS, mutual TLS). Env SIGNFLOW_KONNEKTOR_SIM_PORT. @default 8443 */
  konnektorSim: number;
  /** Konnektor simulator's admin endpoint (plain HTTP). Env SIGNFLOW_KONNEKTOR_SIM_ADMIN_PORT. @default 8444 */
  konnektorSimAdmin: number;
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
    webhooks: portFromEnv(env, 'SIGNFLOW_DEV_WEBHOOKS_PORT', 8026),
    api: portFromEnv(env, 'SIGNFLOW_API_PORT', 3000),
    codec: portFromEnv(env, 'SIGNFLOW_CODEC_SERVER_PORT', 8888),
    konnektorSim: portFromEnv(env, 'SIGNFLOW_KONNEKTOR_SIM_PORT', 8443),
    konnektorSimAdmin: portFromEnv(env, 'SIGNFLOW_KONNEKTOR_SIM_ADMIN_PORT', 8444),
  };
}

export interface DevStackSummary {
  temporal: {
    address: string;
    namespace: string;
    uiUrl?: string;
    reused: boolean;
    dbFile?: string;
    /** The codec endpoint the Web UI was started with (not set when an existing server was reused). */
    uiCodecEndpoint?: string;
  };
  database: { url: string; seeded: boolean; seed?: SeedResult };
  /**
   * Where mail goes. Without `SIGNFLOW_SMTP_URL`: the dev inbox (`inboxUrl`, `dir`). With it: that server
   * (`external`, the URL shown without its password), and no inbox is started.
   */
  mail: { smtpUrl: string; external: boolean; inboxUrl?: string; dir?: string };
  /** The dev webhook receiver; undefined when off or when endpoints come from the environment. */
  webhooks?: { pageUrl: string; hookUrl: string; file: string };
  api?: { url: string; openApiUrl: string; portalUrl: string; metricsUrl?: string };
  /** `metricsUrl`: the worker's `/metrics` (its `/healthz`, `/readyz` beside it). */
  worker: { taskQueue: string; metricsUrl?: string };
  /** Payload encryption; undefined when it is off. */
  codec?: {
    keyId: string;
    /** `<dataDir>/codec-keys.json`, or undefined when the keys come from SIGNFLOW_CODEC_KEYS. */
    keysFile?: string;
    keysCreated: boolean;
    endpoint: string;
    loginUrl: string;
    /** The dev token, or undefined when the tokens come from SIGNFLOW_CODEC_SERVER_TOKENS (never printed). */
    token?: string;
  };
  /** The QES countersignature; undefined when it is off. */
  konnektor?: {
    sdsUrl: string;
    simulated: boolean;
    url?: string;
    adminUrl?: string;
    clientZipPath?: string;
    fingerprint?: string;
    hbaIccsn?: string;
  };
  outbox: { pollerWorkflowId: string };
  /** `<dataDir>/dev.env`: the stack's settings for the CLI in another shell. */
  envFile: string;
}

export interface DevStack {
  config: SignflowConfig;
  summary: DevStackSummary;
  /** The embedded Konnektor simulator (admin API for fault injection), when it runs. */
  konnektorSimulator?: RunningKonnektorSimulator;
  /** Stops everything in reverse order of start. Idempotent. */
  stop(): Promise<void>;
}

export interface DevStackOptions {
  env?: NodeJS.ProcessEnv;
  /** Progress lines while starting. @default console.log */
  log?: (line: string) => void;
  /** Start the HTTP API. @default true */
  api?: boolean;
  /**
   * No request log of the API and no per-call lines of the Konnektor simulator (tests). Otherwise the API logs at
   * `SIGNFLOW_DEV_API_LOG_LEVEL` (default `warn`) and the simulator prints one line per SOAP call. @default false
   */
  quiet?: boolean;
  /** The Temporal SDK's Prometheus exporter (worker/runtime.ts) for the worker's `/metrics`; `npm run dev` sets it. */
  sdkMetricsUrl?: string;
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

/**
 * Secret of the dev webhook endpoint (`whsec_` + base64 of 32 bytes). Public on purpose, like the dev API tokens; only
 * ever used in dev mode.
 */
export const DEV_WEBHOOK_SECRET = `whsec_${Buffer.from('signflow-dev-webhook-secret-0000').toString('base64')}`;

/** A URL for the banner and the log: the password (if any) replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}

const isOff = (v: string | undefined): boolean => ['off', 'false', '0', 'no'].includes(v?.trim().toLowerCase() ?? '');
const envSet = (env: NodeJS.ProcessEnv, name: string): boolean => (env[name]?.trim() ?? '') !== '';

export async function startDevStack(options: DevStackOptions = {}): Promise<DevStack> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.log(line));
  const ports = devStackPorts(env);
  const host = '127.0.0.1';
  const uiOrigins = [`http://localhost:${ports.temporalUi}`, `http://${host}:${ports.temporalUi}`];
  const codecEndpointForUi = `http://localhost:${ports.codec}/codec`;

  const externalSmtp = envSet(env, 'SIGNFLOW_SMTP_URL');
  // The dev stack owns these settings; everything else comes from the environment and the config's defaults.
  const base = {
    temporal: { address: `${host}:${ports.temporal}` },
    // SIGNFLOW_SMTP_URL, when set, is the server to use (a real relay, a test server): the dev inbox is not started.
    mail: externalSmtp ? {} : { smtpUrl: `smtp://${host}:${ports.smtp}`, devSmtpPort: ports.smtp },
    api: { dev: true, host, port: ports.api },
    portal: env.SIGNFLOW_PORTAL_BASE_URL ? {} : { baseUrl: `http://localhost:${ports.api}/portal` },
  };
  const envConfig = loadConfig(base, env);
  const devWebhooks = envConfig.webhooks.endpoints.length === 0 && !isOff(env.SIGNFLOW_DEV_WEBHOOKS);
  const devWebhookEndpoint = {
    name: 'dev',
    url: `http://${host}:${ports.webhooks}/hooks`,
    secret: DEV_WEBHOOK_SECRET,
    personalData: true,
  };
  const dataDir = path.resolve(envConfig.dataDir);
  // The embedded CRM belongs to the dev stack alone: anywhere else an unset SIGNFLOW_DATABASE_URL is an error.
  const devDatabase = envConfig.database.url ? {} : { database: { url: path.join(envConfig.dataDir, 'crm.sqlite') } };
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
    // 1. Payload encryption: keys from the environment, else this data folder's dev key (made on the first start).
    const keysFromEnv = envConfig.codec.keys.length > 0;
    const devKeys = keysFromEnv || isOff(env.SIGNFLOW_DEV_CODEC) ? undefined : loadOrCreateDevCodecKeys(dataDir);
    if (devKeys?.created) log(`[dev] new dev codec key ${devKeys.currentKeyId} in ${devKeys.file}`);
    const encrypting = keysFromEnv || devKeys !== undefined;
    const codecTokensFromEnv = envSet(env, 'SIGNFLOW_CODEC_SERVER_TOKENS');

    // 2. Konnektor simulator (before the config: the worker's Konnektor settings come from it).
    let devKonnektor: DevKonnektor | undefined;
    if (devKonnektorEnabled(env)) {
      try {
        devKonnektor = await startDevKonnektor({
          dataDir,
          host,
          port: ports.konnektorSim,
          adminPort: ports.konnektorSimAdmin,
          log: !options.quiet,
        });
      } catch (err) {
        throw portHint(err, 'Konnektor simulator', 'SIGNFLOW_KONNEKTOR_SIM_PORT / SIGNFLOW_KONNEKTOR_SIM_ADMIN_PORT');
      }
      const sim = devKonnektor.sim;
      stops.push({ what: 'Konnektor simulator', stop: () => sim.close() });
      log(
        `[dev] Konnektor simulator on ${sim.url} (state: ${path.relative(process.cwd(), devKonnektor.clientZipPath)})`
      );
    }

    const config = loadConfig(
      {
        ...base,
        ...devDatabase,
        ...(devKonnektor ? { konnektor: devKonnektor.config } : {}),
        // The simulator's CA stands in for the HBA-qCA: `signflow verify` trusts it in dev, unless the env names anchors.
        ...(devKonnektor && !envConfig.evidence.qesTrustAnchorsPath
          ? { evidence: { qesTrustAnchorsPath: path.resolve(dataDir, 'konnektor-sim', 'ca.cert.pem') } }
          : {}),
        ...(devWebhooks ? { webhooks: { endpoints: [devWebhookEndpoint] } } : {}),
        codec: {
          ...(devKeys ? { keys: devKeys.keys, currentKeyId: devKeys.currentKeyId } : {}),
          server: {
            port: ports.codec,
            // With the public dev token, the dev UI's own origin decodes without it: no login, no settings to click.
            // Own tokens (SIGNFLOW_CODEC_SERVER_TOKENS) mean real authentication: then the UI signs in as in production.
            ...(codecTokensFromEnv ? {} : { tokens: [DEV_CODEC_TOKEN], trustedOrigins: uiOrigins }),
            corsOrigins: [...new Set([...envConfig.codec.server.corsOrigins, ...uiOrigins])],
          },
        },
      },
      env
    );
    const dataConverter = createDataConverter(config);

    // 3. Codec server, before Temporal: the Web UI is started pointing at it.
    let codecServer: RunningCodecServer | undefined;
    if (encrypting) {
      try {
        codecServer = await startCodecServer(config);
      } catch (err) {
        throw portHint(err, 'codec server', 'SIGNFLOW_CODEC_SERVER_PORT');
      }
      const running = codecServer;
      stops.push({ what: 'codec server', stop: () => running.close() });
    }

    // 4. Temporal
    const namespace = config.temporal.namespace;
    let temporal: RunningDevServer | undefined;
    const temporalDbFile = path.join(dataDir, 'temporal.sqlite');
    // A stack killed hard (`kill -9`) leaves its Temporal server running (own process group): stop that orphan first,
    // so that what answers on the port below is never a server without its stack.
    const orphan = await stopOrphanedTemporalServer(dataDir);
    if (orphan.kind === 'owned-by-running-stack') {
      throw new Error(
        `another dev stack (pid ${orphan.ownerPid}) runs on the data folder ${dataDir} with its Temporal server ` +
          `(pid ${orphan.pid}): stop it first, or choose another folder with SIGNFLOW_DATA_DIR`
      );
    }
    if (orphan.kind === 'stopped') {
      log(`[dev] stopped the Temporal server (pid ${orphan.pid}) left running by a dev stack that was killed`);
    }
    const reuse = await existingTemporal(config.temporal.address, namespace);
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
        uiCodecEndpoint: codecServer ? codecEndpointForUi : undefined,
        dbFilename: temporalDbFile,
        namespace,
        logFile: path.join(dataDir, 'temporal.log'),
        detached: true,
      });
      const server = temporal;
      writeTemporalPidFile(dataDir, {
        pid: server.pid,
        ownerPid: process.pid,
        address: server.address,
        dbFile: temporalDbFile,
        startedAt: new Date().toISOString(),
      });
      stops.push({
        what: 'Temporal dev server',
        stop: async () => {
          await server.stop();
          removeTemporalPidFile(dataDir, server.pid);
        },
      });
      log(`[dev] Temporal ready in ${(temporal.startedInMs / 1000).toFixed(1)} s`);
    }

    // 5. Database
    const crmUrl = config.database.url as string;
    const db: Knex = createDb(crmUrl, { poolMax: config.database.poolMax, createSqliteFile: true });
    stops.push({ what: 'database', stop: () => db.destroy() });
    await migrateSignflow(db);
    let seed: SeedResult | undefined;
    if (dialectOf(crmUrl) === 'sqlite') {
      await migrateCrm(db, config.crm);
      seed = await seedDemo(db, config.crm);
      log(`[dev] CRM database migrated and seeded: ${crmUrl}`);
    } else {
      // A MySQL URL may be a real CRM: only the plugin's own tables are ours to create.
      log('[dev] MySQL database: plugin tables migrated; CRM schema and demo data left alone');
    }

    // 6. Mail
    const mailDir = path.join(dataDir, 'mail');
    let page: InboxPage | undefined;
    if (externalSmtp) {
      log(`[dev] mail goes to SIGNFLOW_SMTP_URL (${redactUrl(config.mail.smtpUrl)}); the dev inbox is not started`);
    } else {
      let inbox: DevInbox;
      try {
        inbox = await startDevInbox({ port: ports.smtp, host, dir: mailDir });
      } catch (err) {
        throw portHint(err, 'SMTP inbox', 'SIGNFLOW_DEV_SMTP_PORT');
      }
      stops.push({ what: 'SMTP inbox', stop: () => inbox.close() });
      let inboxPage: InboxPage;
      try {
        inboxPage = await startInboxPage(inbox, ports.inboxPage, host);
      } catch (err) {
        throw portHint(err, 'inbox page', 'SIGNFLOW_DEV_INBOX_PORT');
      }
      page = inboxPage;
      stops.push({ what: 'inbox page', stop: () => inboxPage.close() });
    }
    let webhookReceiver: DevWebhookReceiver | undefined;
    if (devWebhooks) {
      try {
        webhookReceiver = await startDevWebhookReceiver({
          secret: DEV_WEBHOOK_SECRET,
          port: ports.webhooks,
          host,
          dir: path.join(dataDir, 'webhooks'),
        });
      } catch (err) {
        throw portHint(err, 'webhook receiver', 'SIGNFLOW_DEV_WEBHOOKS_PORT');
      }
      const receiver = webhookReceiver;
      stops.push({ what: 'webhook receiver', stop: () => receiver.close() });
    }

    // 7. Worker (bundles the workflows at start: some seconds). The Konnektor client is ours when the simulator runs,
    // built from the ZIP the simulator just wrote; with a real Konnektor the worker builds it from the config.
    let konnektorClient: KonnektorClient | undefined;
    if (devKonnektor) {
      const client = createKonnektorClient(config.konnektor, { clientZip: devKonnektor.sim.clientZip });
      konnektorClient = client;
      stops.push({ what: 'Konnektor client', stop: async () => client.close() });
    }
    log('[dev] starting the worker (bundling workflows)');
    const worker: RunningWorker = await createWorker(config, {
      db,
      dataConverter,
      konnektor: konnektorClient,
      ops: { sdkMetricsUrl: options.sdkMetricsUrl, anyPortIfTaken: true },
    });
    stops.push({ what: 'worker', stop: () => worker.shutdown() });
    worker.done.catch((err: unknown) => log(`[dev] worker stopped with an error: ${String(err)}`));

    // 8. Outbox: the long-running poller workflow (started, or replaced when its settings changed).
    const scheduler = await connectClient(config, { dataConverter });
    let pollerWorkflowId: string;
    try {
      pollerWorkflowId = await ensureOutboxPoller(scheduler.client, config);
      // The staff digest: on with SIGNFLOW_STAFF_MAIL set (and not switched off), removed otherwise.
      await ensureStaffDigestSchedule(scheduler.client, config);
    } finally {
      await scheduler.close();
    }

    // 9. API
    let api: RunningApi | undefined;
    if (options.api !== false) {
      try {
        api = await runApi(config, {
          db,
          logger: options.quiet ? false : { level: env.SIGNFLOW_DEV_API_LOG_LEVEL?.trim() || 'warn' },
        });
      } catch (err) {
        throw portHint(err, 'HTTP API', 'SIGNFLOW_API_PORT');
      }
      const running = api;
      stops.push({ what: 'HTTP API', stop: () => running.close() });
    }

    // 10. The same settings for the CLI in another shell.
    const databaseUrl = dialectOf(crmUrl) === 'sqlite' ? path.resolve(crmUrl) : crmUrl;
    const k = config.konnektor;
    const envFile = writeDevEnvFile(dataDir, {
      TEMPORAL_ADDRESS: config.temporal.address,
      TEMPORAL_NAMESPACE: namespace,
      SIGNFLOW_TASK_QUEUE: config.temporal.taskQueue,
      SIGNFLOW_DATA_DIR: dataDir,
      SIGNFLOW_DATABASE_URL: databaseUrl,
      SIGNFLOW_CODEC_KEYS: encrypting ? codecKeysEnv(config.codec.keys) : undefined,
      SIGNFLOW_CODEC_KEY_ID: encrypting ? config.codec.currentKeyId : undefined,
      SIGNFLOW_QES_ENABLED: String(k.enabled),
      // `signflow webhooks replay` signs with the endpoint's secret.
      SIGNFLOW_WEBHOOKS: devWebhooks ? JSON.stringify([devWebhookEndpoint]) : undefined,
      SIGNFLOW_KONNEKTOR_SDS_URL: k.enabled ? k.sdsUrl : undefined,
      SIGNFLOW_KONNEKTOR_CLIENT_ZIP: k.enabled && k.clientZipPath ? path.resolve(k.clientZipPath) : undefined,
      SIGNFLOW_KONNEKTOR_SERVER_FINGERPRINT: k.enabled ? k.serverFingerprint : undefined,
      SIGNFLOW_KONNEKTOR_MANDANT: k.enabled ? k.mandantId : undefined,
      SIGNFLOW_KONNEKTOR_CLIENT_SYSTEM: k.enabled ? k.clientSystemId : undefined,
      SIGNFLOW_KONNEKTOR_WORKPLACE: k.enabled ? k.workplaceId : undefined,
      SIGNFLOW_QES_TRUST_ANCHORS: config.evidence.qesTrustAnchorsPath
        ? path.resolve(config.evidence.qesTrustAnchorsPath)
        : undefined,
    });

    const sim = devKonnektor?.sim;
    const summary: DevStackSummary = {
      temporal: {
        address: config.temporal.address,
        namespace,
        uiUrl: temporal ? temporal.uiUrl?.replace(host, 'localhost') : undefined,
        reused: !temporal,
        dbFile: temporal ? temporalDbFile : undefined,
        uiCodecEndpoint: temporal && codecServer ? codecEndpointForUi : undefined,
      },
      database: { url: crmUrl, seeded: seed !== undefined, seed },
      mail: externalSmtp
        ? { smtpUrl: redactUrl(config.mail.smtpUrl), external: true }
        : {
            smtpUrl: config.mail.smtpUrl,
            external: false,
            inboxUrl: page?.url.replace(host, 'localhost'),
            dir: mailDir,
          },
      webhooks: webhookReceiver
        ? {
            pageUrl: webhookReceiver.pageUrl.replace(host, 'localhost'),
            hookUrl: webhookReceiver.hookUrl,
            file: path.join(dataDir, 'webhooks', 'webhooks.jsonl'),
          }
        : undefined,
      api: api
        ? {
            url: `${api.url}/api/v1`,
            openApiUrl: `${api.url}/api/v1/openapi.json`,
            metricsUrl: `${api.url}/metrics`,
            portalUrl: config.portal.baseUrl,
          }
        : undefined,
      worker: { taskQueue: config.temporal.taskQueue, metricsUrl: worker.opsUrl && `${worker.opsUrl}/metrics` },
      codec: codecServer
        ? {
            keyId: config.codec.currentKeyId as string,
            keysFile: devKeys?.file,
            keysCreated: devKeys?.created ?? false,
            endpoint: codecEndpointForUi,
            loginUrl: `${codecEndpointForUi}/login`,
            token: codecTokensFromEnv ? undefined : DEV_CODEC_TOKEN,
          }
        : undefined,
      konnektor: k.enabled
        ? {
            sdsUrl: k.sdsUrl ?? '',
            simulated: sim !== undefined,
            url: sim?.url,
            adminUrl: sim?.adminUrl,
            clientZipPath: devKonnektor?.clientZipPath,
            fingerprint: sim?.fingerprint,
            hbaIccsn: sim?.hbaIccsn,
          }
        : undefined,
      outbox: { pollerWorkflowId },
      envFile,
    };
    return { config, summary, konnektorSimulator: sim, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
