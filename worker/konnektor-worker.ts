/**
 * The on-site Konnektor worker (`signflow konnektor-worker`): runs in the practice network beside the Konnektor and
 * polls only `konnektor.taskQueue` (`SIGNFLOW_KONNEKTOR_TASK_QUEUE`), with only the activities that talk to the
 * Konnektor (`KONNEKTOR_ACTIVITY_NAMES`) and no workflows. Every connection goes out: to Temporal, to the CRM database
 * (the documents to sign, the recorded signatures and comfort sessions) and to the Konnektor. It opens no port.
 *
 * The main worker (hosted) runs the workflows and everything else; with the queue set it registers none of these
 * activities, so a Konnektor call can only ever run here.
 */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import type { Knex } from 'knex';
import { createKonnektorActivities } from '../activities/konnektor/konnektor.activities';
import { createKonnektorClient } from '../activities/konnektor/client-from-config';
import type { KonnektorClient } from '../activities/konnektor/konnektor-client';
import { connectionOptions } from '../client/connect';
import { createDataConverter, FAILURE_CONVERTER_PATH } from '../codec/data-converter';
import { createDb } from '../db/connection';
import { assertMappingMatchesDatabase } from '../db/mapping-check';
import { activityMetricsInterceptor } from '../metrics/activity-metrics';
import { ConfigError, databaseUrl, type SignflowConfig } from '../temporal.config';
import { KONNEKTOR_ACTIVITY_NAMES } from '../workflows/definitions';

export interface KonnektorWorkerOptions {
  /** Reuse a connection (tests); otherwise one is made from the config. */
  connection?: NativeConnection;
  /** Reuse the database (tests); otherwise built from the config and closed on shutdown. */
  db?: Knex;
  /** The Konnektor client (tests: one against a simulator); otherwise built from `config.konnektor`. */
  konnektor?: KonnektorClient;
  dataConverter?: DataConverter;
  /** Extra worker options (e.g. `shutdownGraceTime`, `identity`). */
  workerOptions?: Partial<WorkerOptions>;
}

export interface RunningKonnektorWorker {
  worker: Worker;
  taskQueue: string;
  /** Resolves when the worker has shut down (after `shutdown()` or a signal). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** The queue this process polls; refuses to start without one, naming the variable. */
export function onSiteTaskQueue(config: SignflowConfig): string {
  const queue = config.konnektor.taskQueue;
  if (!queue) {
    throw new ConfigError(
      'SIGNFLOW_KONNEKTOR_TASK_QUEUE is not set: the on-site Konnektor worker polls that queue (e.g. ' +
        'signflow-konnektor-<mandant>); set it here and on the hosted side (or in its SIGNFLOW_KONNEKTOR_MANDANTEN entry)'
    );
  }
  return queue;
}

export async function createKonnektorWorker(
  config: SignflowConfig,
  opts: KonnektorWorkerOptions = {}
): Promise<RunningKonnektorWorker> {
  const taskQueue = onSiteTaskQueue(config);
  // Before anything is opened: a missing SDS URL or certificate names its variable (KONNEKTOR_CONFIGURATION).
  const konnektor = opts.konnektor ?? createKonnektorClient(config.konnektor);
  const ownKonnektor = !opts.konnektor;
  const ownDb = !opts.db;
  const db = opts.db ?? createDb(databaseUrl(config), { poolMax: config.database.poolMax });
  const cleanup = async () => {
    if (ownKonnektor) konnektor.close();
    if (ownDb) await db.destroy();
  };
  let connection: NativeConnection | undefined;
  let worker: Worker;
  try {
    // The activities read documents and write signflow_qes through the mapping: a mismatch stops the start.
    await assertMappingMatchesDatabase(db, config.crm);
    const { address, tls, apiKey } = connectionOptions(config);
    connection =
      opts.connection ??
      (await NativeConnection.connect({ address, tls, apiKey: typeof apiKey === 'string' ? apiKey : undefined }));
    const all = createKonnektorActivities({ konnektor, db, config });
    const activities = Object.fromEntries(KONNEKTOR_ACTIVITY_NAMES.map((name) => [name, all[name]]));
    worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue,
      activities,
      // Payloads are encrypted with the same keys as on the hosted side (SIGNFLOW_CODEC_KEYS).
      dataConverter: opts.dataConverter ??
        createDataConverter(config) ?? { failureConverterPath: FAILURE_CONVERTER_PATH },
      shutdownGraceTime: '10 seconds',
      ...opts.workerOptions,
      interceptors: {
        ...opts.workerOptions?.interceptors,
        activity: [activityMetricsInterceptor, ...(opts.workerOptions?.interceptors?.activity ?? [])],
      },
    });
  } catch (err) {
    if (connection && !opts.connection) await connection.close();
    await cleanup();
    throw err;
  }
  const done = worker.run().finally(async () => {
    await cleanup();
    if (!opts.connection) await connection?.close();
  });
  return {
    worker,
    taskQueue,
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
