/**
 * The outbox poller, started by the Temporal Schedule `signflow-outbox` (outbox/schedule.ts) every
 * `outbox.pollInterval`. It drains the outbox in batches until a batch comes back short, bounded by `maxBatches` so a
 * run always ends and the next scheduled run takes over. All I/O is in the `pollOutbox` activity.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { OutboxActivities } from '../outbox/outbox.activities';
import type { OutboxPollerInput, OutboxPollerResult } from '../outbox/types';

const { pollOutbox } = proxyActivities<OutboxActivities>({
  startToCloseTimeout: '5 minutes',
  // Heartbeats come once per row; a poller stuck on one command for a minute is retried and resumes its rows.
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

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
