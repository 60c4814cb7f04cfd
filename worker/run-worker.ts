/**
 * The signflow worker: one knex pool, one pooled SMTP transport, the activities built from them, and the workflow code
 * (pre-bundled in tests and by the production build, bundled at start in dev: worker/workflow-source.ts).
 */
import fs from 'node:fs';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import type { Knex } from 'knex';
import type { Client } from '@temporalio/client';
import { createActivities, type Activities } from '../activities';
import type { KonnektorClient } from '../activities/konnektor/konnektor-client';
import { connectClient } from '../client/connect';
import { createDataConverter } from '../codec/data-converter';
import { createDb } from '../db/connection';
import { assertMappingMatchesDatabase } from '../db/mapping-check';
import { createMailer, type Mailer } from '../mail/mailer';
import { loadMailTemplates } from '../mail/render-mail';
import { assertTemplates } from '../templating/check-templates';
import { useTemplatesDir } from '../templating/template-files';
import { setPdfThreadIdleMs } from '../documents/pdf-threads';
import { databaseUrl, type SignflowConfig } from '../temporal.config';
import { activityMetricsInterceptor } from '../metrics/activity-metrics';
import { clusterStateFrom } from '../metrics/cluster-state';
import { startOpsServer, type RunningOpsServer } from '../metrics/metrics-server';
import { setClusterStateSource } from '../metrics/signflow-metrics';
import { WORKER_SETTINGS, workerTuning } from './worker-settings';
import { workflowBuildOptions } from './workflow-build';
import { workflowSource } from './workflow-source';
import { konnektorRunsOnSite } from '../routing/konnektor-routing-config';
import { KONNEKTOR_ACTIVITY_NAMES } from '../workflows/definitions';

export interface RunWorkerOptions {
  /**
   * A pre-built bundle (`bundleWorkflowCode`); without it the compiled worker takes the build's and the one run from
   * the sources bundles `workflows/` at start (~10 s).
   */
  workflowBundle?: { codePath: string };
  /** Reuse a connection (tests); otherwise one is made from the config. */
  connection?: NativeConnection;
  /** Reuse parts (tests pass real ones they inspect); otherwise built from the config and closed on shutdown. */
  db?: Knex;
  mailer?: Mailer;
  dataConverter?: DataConverter;
  /** The Konnektor client; built from `config.konnektor` when countersigning is enabled and none is given. */
  konnektor?: KonnektorClient;
  /** Client for the activities that start or message workflows; connected from the config when none is given. */
  temporalClient?: Client;
  /** Extra worker options (e.g. `maxConcurrentActivityTaskExecutions`). */
  workerOptions?: Partial<WorkerOptions>;
  /**
   * Serve `/metrics`, `/healthz`, `/readyz` on `config.observability.workerMetricsHost`:`workerMetricsPort` (`true`),
   * on another port (tests: 0), or not at all. `sdkMetricsUrl`: the Temporal SDK exporter to include
   * (worker/runtime.ts). @default false
   */
  ops?: boolean | { port?: number; sdkMetricsUrl?: string; anyPortIfTaken?: boolean };
}

export interface RunningWorker {
  worker: Worker;
  /** The ops server's `http://host:port` (`/metrics`, `/healthz`, `/readyz`), when it runs. */
  opsUrl?: string;
  /** Resolves when the worker has shut down (after `shutdown()` or a signal). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** Drops the Konnektor activities when the on-site worker runs them: a call routed here by mistake then fails loudly. */
function withoutOnSiteActivities(activities: Activities, onSite: boolean): Partial<Activities> {
  if (!onSite) return activities;
  const konnektorOnly = new Set<string>(KONNEKTOR_ACTIVITY_NAMES);
  return Object.fromEntries(Object.entries(activities).filter(([name]) => !konnektorOnly.has(name)));
}

export async function createWorker(config: SignflowConfig, opts: RunWorkerOptions = {}): Promise<RunningWorker> {
  // The practice's own templates: checked before anything connects (file, line and placeholder of every problem), then
  // used by every renderer of this process.
  const templatesDir = config.evidence.templatesDir;
  if (templatesDir) assertTemplates(templatesDir);
  useTemplatesDir(templatesDir);
  setPdfThreadIdleMs(config.worker.pdfThreadIdleSeconds * 1000);
  const ownDb = !opts.db;
  const ownMailer = !opts.mailer;
  const db = opts.db ?? createDb(databaseUrl(config), { poolMax: config.database.poolMax });
  // A mapped column the CRM lacks would otherwise surface as a contract stuck in its first step.
  await assertMappingMatchesDatabase(db, config.crm).catch(async (err: unknown) => {
    if (ownDb) await db.destroy();
    throw err;
  });
  const mailer = opts.mailer ?? createMailer(config.mail.smtpUrl, config.mail.from);
  const connection =
    opts.connection ??
    (await NativeConnection.connect({
      address: config.temporal.address,
      apiKey: config.temporal.apiKey,
      tls:
        config.temporal.tlsClientCertPath && config.temporal.tlsClientKeyPath
          ? {
              clientCertPair: {
                crt: fs.readFileSync(config.temporal.tlsClientCertPath),
                key: fs.readFileSync(config.temporal.tlsClientKeyPath),
              },
              serverRootCACertificate: config.temporal.tlsServerCaCertPath
                ? fs.readFileSync(config.temporal.tlsServerCaCertPath)
                : undefined,
            }
          : undefined,
    }));
  // With an on-site Konnektor worker (SIGNFLOW_KONNEKTOR_TASK_QUEUE / _MANDANTEN) this worker runs no Konnektor call.
  const onSite = konnektorRunsOnSite(config.konnektor);
  // The SOAP client (soap, axios, xml-crypto: ~5 MB of heap and their code) is loaded only by a worker that calls the
  // Konnektor itself: with QES off or on site it would sit in memory unused.
  const konnektor =
    opts.konnektor ??
    (config.konnektor.enabled && !onSite
      ? (await import('../activities/konnektor/client-from-config')).createKonnektorClient(config.konnektor)
      : undefined);
  // The SDK's failure converter encodes messages into payloads, so the codec (when keys are set) encrypts them too.
  const dataConverter = opts.dataConverter ?? createDataConverter(config);
  const ownClient = opts.temporalClient ? undefined : await connectClient(config, { dataConverter });
  const temporal = opts.temporalClient ?? (ownClient as { client: Client }).client;
  // Compile the mail templates now: a broken template stops the start instead of the first contract's mail.
  loadMailTemplates();
  // The build id new contracts take their markerless path by, when the server records it (worker/workflow-build.ts).
  const buildOptions = await workflowBuildOptions(temporal.workflowService);
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...workflowSource(opts.workflowBundle),
    activities: withoutOnSiteActivities(createActivities({ config, db, mailer, konnektor, temporal }), onSite),
    dataConverter,
    ...WORKER_SETTINGS,
    ...buildOptions,
    // Cache and concurrency from config.worker (SIGNFLOW_WORKER_*): the cache bounds the worker's memory.
    ...workerTuning(config.worker),
    ...opts.workerOptions,
    interceptors: {
      ...opts.workerOptions?.interceptors,
      activity: [activityMetricsInterceptor, ...(opts.workerOptions?.interceptors?.activity ?? [])],
    },
  });
  let ops: RunningOpsServer | undefined;
  if (opts.ops) {
    const o = opts.ops === true ? {} : opts.ops;
    setClusterStateSource(clusterStateFrom(temporal));
    const start = (port: number) =>
      startOpsServer({
        host: config.observability.workerMetricsHost,
        port,
        sdkMetricsUrl: o.sdkMetricsUrl,
        readiness: {
          // Reachable and answering for this namespace.
          temporal: async () => {
            await temporal.workflowService.getSystemInfo({});
          },
          database: async () => {
            await db.raw('select 1');
          },
          polling: async () => {
            if (worker.getState() !== 'RUNNING') throw new Error(`worker is ${worker.getState()}`);
          },
        },
      });
    const port = o.port ?? config.observability.workerMetricsPort;
    // The dev stack takes any free port when the configured one is taken (a second stack); production must not.
    ops = await start(port).catch((err: NodeJS.ErrnoException) => {
      if (o.anyPortIfTaken && err.code === 'EADDRINUSE') return start(0);
      throw err;
    });
  }
  const done = worker.run().finally(async () => {
    await ops?.close();
    if (ownMailer) mailer.close();
    if (ownDb) await db.destroy();
    if (ownClient) await ownClient.close();
    if (!opts.connection) await connection.close();
  });
  return {
    worker,
    opsUrl: ops?.url,
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

/** Runs until SIGINT/SIGTERM (the SDK installs those handlers and shuts the worker down gracefully). */
export async function runWorker(config: SignflowConfig, opts: RunWorkerOptions = {}): Promise<void> {
  const running = await createWorker(config, opts);
  await running.done;
}
