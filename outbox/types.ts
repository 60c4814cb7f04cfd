/**
 * Shapes of the outbox poller, shared by the activity and the workflow (which imports types only).
 */

export const OUTBOX_TABLE = 'signflow_outbox';

export const OUTBOX_COMMANDS = ['send', 'confirm', 'withdraw', 'resend'] as const;
export type OutboxCommand = (typeof OUTBOX_COMMANDS)[number];

export type OutboxOutcome = 'started' | 'confirmed' | 'withdrawn' | 'resent' | 'failed';

export interface OutboxRow {
  id: number;
  /** As written by the CRM; not necessarily a known command. */
  command: string;
  /** As stored; parsed strictly (commands/ids.ts) when the row is run, so `abc` is VALIDATION_FAILED, not NaN. */
  contractId: number | string | null;
  staffContactId: number | string | null;
  createdAt: string | null;
  claimedBy: string | null;
  claimedAt: string | null;
  processedAt: string | null;
  outcome: OutboxOutcome | null;
  runId: string | null;
  error: string | null;
}

export interface PollOutboxInput {
  /** Most rows this activity takes. */
  batchSize: number;
}

export interface PollOutboxResult {
  /** Ids of the rows this run took and finished, in order. */
  processed: number[];
  /** How many of them ended with outcome `failed` (a readable error is in the row). */
  failed: number;
  /** True when the batch was full: there may be more rows waiting. */
  more: boolean;
}

export interface OutboxPollerInput {
  batchSize: number;
  /** Upper bound of batches per run, so one run cannot go on forever. @default 20 */
  maxBatches?: number;
}

export interface OutboxPollerResult {
  batches: number;
  processed: number;
  failed: number;
}

/** Input of the long-running poller workflow `outboxPollerLoop`. */
export interface OutboxLoopInput {
  batchSize: number;
  /** ms between polls when the outbox is empty (config `outbox.pollInterval`). */
  pollIntervalMs: number;
  /** ms one activity run polls before it returns (bounded so the history and the retries stay small). */
  windowMs: number;
  /** Activity runs per workflow execution before it continues as new. @default 24 */
  runsPerExecution?: number;
}

export interface PollContinuouslyInput {
  batchSize: number;
  pollIntervalMs: number;
  windowMs: number;
}

export interface PollContinuouslyResult {
  polls: number;
  processed: number;
  failed: number;
}
