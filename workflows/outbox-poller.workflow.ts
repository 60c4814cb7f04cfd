/**
 * The outbox poller: ONE long-running workflow (`signflow-outbox-poller`, started by `ensureOutboxPoller`,
 * outbox/poller.ts) whose activity polls the outbox in a loop and heartbeats, Temporal's pattern for frequent polling.
 * Polling every few seconds thus adds one workflow to the namespace's list, not one per tick (8,640 a day at 10 s),
 * and the list stays the contracts'. All I/O is in the activity; this only keeps it going.
 *
 * Each activity run polls for `windowMs`, then returns; after `runsPerExecution` runs the workflow continues as new so
 * its history stays short. A crashed worker's activity misses its heartbeat and is retried (on any worker) with the
 * same claimer id, so rows it had claimed are resumed, not lost.
 *
 * `outboxPoller` is the former schedule-driven workflow, kept so that runs started before an upgrade can finish.
 */
import * as wf from '@temporalio/workflow';
import type { OutboxActivities } from '../outbox/outbox.activities';
import type { OutboxLoopInput, OutboxPollerInput, OutboxPollerResult } from '../outbox/types';

const { pollOutbox } = wf.proxyActivities<OutboxActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

/** Former schedule-driven poller (one batch run per tick); kept for runs in flight during an upgrade. */
export async function outboxPoller(input: OutboxPollerInput): Promise<OutboxPollerResult> {
  const maxBatches = input.maxBatches ?? 20;
  const result: OutboxPollerResult = { batches: 0, processed: 0, failed: 0 };
  while (result.batches < maxBatches) {
    const batch = await pollOutbox({ batchSize: input.batchSize });
    result.batches++;
    result.processed += batch.processed.length;
    result.failed += batch.failed;
    if (!batch.more) break;
  }
  return result;
}

const LOOP: wf.ActivityOptions = {
  // The activity returns after its window; the timeout only bounds a run that hangs without heartbeating.
  startToCloseTimeout: '2 hours',
  // It heartbeats at least every poll interval and once per row; a worker that died is noticed within a minute.
  heartbeatTimeout: '1 minute',
  // Database or Temporal down: retried for as long as it takes, with growing pauses.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};
const { pollOutboxContinuously } = wf.proxyActivities<OutboxActivities>(LOOP);

/** The long-running poller (workflow id `signflow-outbox-poller`). */
export async function outboxPollerLoop(input: OutboxLoopInput): Promise<void> {
  const runsPerExecution = input.runsPerExecution ?? 24;
  for (let run = 0; run < runsPerExecution; run++) {
    await pollOutboxContinuously.executeWithOptions(
      { ...LOOP, summary: `Outbox alle ${Math.round(input.pollIntervalMs / 1000)} s abfragen` },
      [{ batchSize: input.batchSize, pollIntervalMs: input.pollIntervalMs, windowMs: input.windowMs }]
    );
  }
  await wf.continueAsNew<typeof outboxPollerLoop>(input);
}
