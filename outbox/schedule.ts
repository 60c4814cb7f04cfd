/**
 * The Temporal Schedule that runs the outbox poller every `config.outbox.pollInterval`. Overlaps are skipped: while
 * one run drains the outbox (or retries a row), the next tick does nothing, so at most one scheduled poller runs at a
 * time; the claim in the database would keep two apart anyway.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
} from '@temporalio/client';
import type { SignflowConfig } from '../temporal.config';
import type { OutboxPollerInput } from './types';

export const OUTBOX_SCHEDULE_ID = 'signflow-outbox';
export const OUTBOX_WORKFLOW_TYPE = 'outboxPoller';

function scheduleOptions(config: SignflowConfig): Omit<ScheduleOptions, 'scheduleId'> {
  const input: OutboxPollerInput = { batchSize: config.outbox.batchSize };
  return {
    spec: { intervals: [{ every: config.outbox.pollInterval }] },
    action: {
      type: 'startWorkflow',
      workflowType: OUTBOX_WORKFLOW_TYPE,
      taskQueue: config.temporal.taskQueue,
      // The schedule appends the scheduled time, so each run has its own id (and its own claimer id).
      workflowId: 'signflow-outbox-poller',
      args: [input],
      workflowExecutionTimeout: '1 hour',
      staticSummary: 'Outbox: Befehle des CRM abarbeiten',
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
  };
}

/** Creates the schedule, or updates it to the current config when it exists. Idempotent; returns the schedule id. */
export async function ensureOutboxSchedule(client: Client, config: SignflowConfig): Promise<string> {
  const options = scheduleOptions(config);
  try {
    await client.schedule.create({ scheduleId: OUTBOX_SCHEDULE_ID, ...options });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(OUTBOX_SCHEDULE_ID).update((previous) => ({
      ...previous,
      spec: options.spec,
      action: options.action,
      policies: { ...previous.policies, ...options.policies },
    }));
  }
  return OUTBOX_SCHEDULE_ID;
}

/** Removes the schedule (e.g. when a CRM stops using the outbox). True when there was one. */
export async function deleteOutboxSchedule(client: Client): Promise<boolean> {
  try {
    await client.schedule.getHandle(OUTBOX_SCHEDULE_ID).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

/** Runs the poller now instead of waiting for the next tick (tests, support). */
export async function triggerOutboxPoller(client: Client): Promise<void> {
  await client.schedule.getHandle(OUTBOX_SCHEDULE_ID).trigger(ScheduleOverlapPolicy.ALLOW_ALL);
}
