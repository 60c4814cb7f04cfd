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
  contractId: number;
  staffContactId: number | null;
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
