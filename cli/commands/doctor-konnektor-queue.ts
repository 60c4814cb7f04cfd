/**
 * `signflow doctor`'s lines about where the Konnektor activities run: on the main worker, or on the on-site worker's
 * task queue (`SIGNFLOW_KONNEKTOR_TASK_QUEUE`, or one per Mandant in `SIGNFLOW_KONNEKTOR_MANDANTEN`), and, when
 * Temporal answers, whether a worker polls each such queue (the on-site worker of that practice). Whether the Konnektor
 * itself answers is another check.
 */
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import type { SignflowConfig } from '../../temporal.config';

export interface QueueCheck {
  name: string;
  ok: boolean;
  message: string;
}

/** The on-site queues this installation routes to, with whose they are. */
function onSiteQueues(config: SignflowConfig): Array<{ queue: string; of: string }> {
  const k = config.konnektor;
  const queues = Object.entries(k.mandanten ?? {}).map(([mandant, r]) => ({
    queue: r.taskQueue,
    of: `Mandant ${mandant} (eHBA ${r.ehba.join(', ')})`,
  }));
  if (k.taskQueue && !queues.some((q) => q.queue === k.taskQueue)) {
    queues.unshift({ queue: k.taskQueue, of: 'SIGNFLOW_KONNEKTOR_TASK_QUEUE' });
  }
  return queues;
}

/** `client` unset: Temporal did not answer, so only the setting is reported. */
export async function konnektorQueueChecks(config: SignflowConfig, client?: Client): Promise<QueueCheck[]> {
  const queues = onSiteQueues(config);
  // Without QES and without an on-site queue there is nothing to say about where Konnektor calls run.
  if (queues.length === 0 && !config.konnektor.enabled) return [];
  if (queues.length === 0) {
    return [
      {
        name: 'queue of the Konnektor activities',
        ok: true,
        message:
          `not set: the Konnektor activities run on the main worker (task queue ${config.temporal.taskQueue}); set ` +
          'SIGNFLOW_KONNEKTOR_TASK_QUEUE when the Konnektor is in another network (docs/ops.md)',
      },
    ];
  }
  const checks: QueueCheck[] = [];
  if (!config.konnektor.sdsUrl) {
    checks.push({
      name: 'on-site Konnektor',
      ok: true,
      message:
        'not reachable from here by design (the on-site worker talks to it): run `signflow doctor` on the on-site ' +
        "worker's machine to check the Konnektor itself",
    });
  }
  for (const { queue, of } of queues) {
    const name = `on-site worker on ${queue}`;
    const where = `${of}: the Konnektor activities run on task queue ${queue}, not on the main worker`;
    if (!client) {
      checks.push({ name, ok: true, message: `${where} (pollers not checked: Temporal not reachable)` });
      continue;
    }
    try {
      const res = await client.workflowService.describeTaskQueue({
        namespace: config.temporal.namespace,
        taskQueue: { name: queue, kind: proto.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      });
      const pollers = (res.pollers ?? []).map((p) => p.identity ?? '?');
      checks.push(
        pollers.length > 0
          ? { name, ok: true, message: `${where}; polled by ${pollers.join(', ')}` }
          : {
              name,
              ok: false,
              message:
                `${where}, but no worker polls it: start \`signflow konnektor-worker\` with ` +
                `SIGNFLOW_KONNEKTOR_TASK_QUEUE=${queue} in the practice network (docs/ops.md)`,
            }
      );
    } catch (err) {
      checks.push({ name, ok: false, message: `${where}; cannot ask Temporal about it: ${(err as Error).message}` });
    }
  }
  return checks;
}
