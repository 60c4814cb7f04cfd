/**
 * The floor as a benchmark subject: a worker on its own task queue of the same server and connection, with signflow's
 * worker settings (worker/worker-settings.ts) and data converter, running the bare workflow with no-op activities.
 */
import { labelNewThreads } from '../threads';
import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../../codec/data-converter';
import { WORKER_SETTINGS, workerTuning } from '../../worker/worker-settings';
import type { WorkerConfig } from '../../worker/worker-config';
import type { Subject, SubjectItem } from '../subject';
import { createFloorActivities } from './floor-activities';
import { floorSignUpdate } from './floor-definitions';

let nextId = 1;

export async function startFloorSubject(o: {
  client: Client;
  connection: NativeConnection;
  namespace: string;
  bundle: { codePath: string };
  taskQueue: string;
  /** signflow's cache and concurrency (config.worker), so both subjects run with the same tuning. */
  tuning: WorkerConfig;
}): Promise<Subject & { stop(): Promise<void> }> {
  const waiting = new Map<number, () => void>();
  const invitedEarly = new Set<number>();
  const worker = await labelNewThreads('floor', () =>
    Worker.create({
      connection: o.connection,
      namespace: o.namespace,
      taskQueue: o.taskQueue,
      workflowBundle: o.bundle,
      activities: createFloorActivities((id) => {
        const w = waiting.get(id);
        if (w) w();
        else invitedEarly.add(id);
      }),
      dataConverter: { failureConverterPath: FAILURE_CONVERTER_PATH },
      ...WORKER_SETTINGS,
      ...workerTuning(o.tuning),
    })
  );
  const running = worker.run();
  const workflowId = (id: number) => `bench-floor-${process.pid}-${id}`;
  let stopped: Promise<void> | undefined;
  return {
    name: 'floor',
    async add(count: number): Promise<SubjectItem[]> {
      return Array.from({ length: count }, () => ({ contractId: nextId++, contactId: 1 }));
    },
    async one(item: SubjectItem) {
      const invited = new Promise<void>((resolve) => {
        if (invitedEarly.delete(item.contractId)) resolve();
        else waiting.set(item.contractId, resolve);
      });
      const t0 = performance.now();
      const handle = await o.client.workflow.start('floorContract', {
        taskQueue: o.taskQueue,
        workflowId: workflowId(item.contractId),
        args: [item.contractId],
      });
      await invited;
      waiting.delete(item.contractId);
      const t1 = performance.now();
      await handle.executeUpdate(floorSignUpdate, { args: [item.contactId] });
      const t2 = performance.now();
      await handle.result();
      const t3 = performance.now();
      return {
        contractId: item.contractId,
        startToInvitationMs: t1 - t0,
        signUpdateMs: t2 - t1,
        signToCompletedMs: t3 - t1,
        totalMs: t3 - t0,
      };
    },
    history: (item) => o.client.workflow.getHandle(workflowId(item.contractId)).fetchHistory(),
    stop() {
      return (stopped ??= (async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running;
      })());
    },
  };
}
