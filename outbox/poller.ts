/**
 * Starting and stopping the outbox poller: one long-running workflow `signflow-outbox-poller` per namespace
 * (workflows/outbox-poller.workflow.ts) whose activity polls and heartbeats. Earlier versions ran a new workflow every
 * `outbox.pollInterval` from the Temporal Schedule `signflow-outbox`; `ensureOutboxPoller` removes that schedule, so an
 * upgrade leaves exactly one poller.
 */
import {
  ScheduleNotFoundError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type Client,
} from '@temporalio/client';
import type { SignflowConfig } from '../temporal.config';
import type { OutboxLoopInput } from './types';

export const OUTBOX_POLLER_WORKFLOW_ID = 'signflow-outbox-poller';
export const OUTBOX_POLLER_WORKFLOW_TYPE = 'outboxPollerLoop';
/** The Temporal Schedule of earlier versions, removed on upgrade. */
export const LEGACY_OUTBOX_SCHEDULE_ID = 'signflow-outbox';

/** How long one activity run polls before it returns to the workflow (which continues as new every 24 runs). */
const WINDOW_MS = 60 * 60 * 1000;

export function outboxLoopInput(config: SignflowConfig): OutboxLoopInput {
  return { batchSize: config.outbox.batchSize, pollIntervalMs: config.outbox.pollInterval, windowMs: WINDOW_MS };
}

async function deleteLegacySchedule(client: Client): Promise<void> {
  try {
    await client.schedule.getHandle(LEGACY_OUTBOX_SCHEDULE_ID).delete();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
}

/**
 * Starts the poller, or leaves the running one alone (idempotent). A running poller with other settings (batch size,
 * interval) is cancelled and replaced, so the config takes effect; its claimed rows are resumed by the new one, which
 * claims under the same id. Returns the workflow id.
 */
export async function ensureOutboxPoller(client: Client, config: SignflowConfig): Promise<string> {
  await deleteLegacySchedule(client);
  const input = outboxLoopInput(config);
  const handle = client.workflow.getHandle(OUTBOX_POLLER_WORKFLOW_ID);
  const running = await handle.describe().catch((err: unknown) => {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  });
  const settings = JSON.stringify(input);
  if (running?.status.name === 'RUNNING' && running.memo?.settings !== settings) {
    await handle.terminate('outbox settings changed; a poller with the new settings replaces this one');
  }
  await client.workflow.start(OUTBOX_POLLER_WORKFLOW_TYPE, {
    workflowId: OUTBOX_POLLER_WORKFLOW_ID,
    taskQueue: config.temporal.taskQueue,
    args: [input],
    memo: { settings },
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    staticSummary: 'Outbox: Befehle des CRM abarbeiten',
  });
  return OUTBOX_POLLER_WORKFLOW_ID;
}

/** Stops the poller (e.g. when a CRM stops using the outbox). True when one was running. */
export async function stopOutboxPoller(client: Client): Promise<boolean> {
  await deleteLegacySchedule(client);
  try {
    await client.workflow.getHandle(OUTBOX_POLLER_WORKFLOW_ID).terminate('outbox poller stopped');
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
