/**
 * The outbox poller's activity: takes a batch of `signflow_outbox` rows (exactly once, see outbox-repository.ts),
 * runs each command through commands/ (the same code as the HTTP API and the CLI) and writes the outcome or a
 * readable error into the row (outbox-outcomes.ts maps the answers).
 *
 * Failures split in two: a rejection (the contract does not exist, is already signed, …) is the row's final answer and
 * is written as `failed` with `<CODE>: <sentence>`; anything else (Temporal or the database unreachable) leaves the row
 * claimed and unfinished and fails the activity, whose retry resumes exactly those rows under the same claimer id.
 * After `GIVE_UP_AFTER_ATTEMPTS` attempts such a row is written as `failed` too, so one poisoned row cannot stall the
 * outbox forever.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import { connectClient } from '../client/connect';
import { createDataConverter } from '../codec/data-converter';
import {
  confirmContract,
  resendInvitation,
  startContract,
  withdrawContract,
  type CommandDeps,
} from '../commands/contract-commands';
import { CommandError, validationFailed } from '../commands/errors';
import { idFromColumn } from '../commands/ids';
import type { SignflowConfig } from '../temporal.config';
import { claimOutboxRows, finishOutboxRow, type RowOutcome } from './outbox-repository';
import { failedRow, OUTCOME_OF, REFUSAL } from './outbox-outcomes';
import {
  OUTBOX_COMMANDS,
  type OutboxCommand,
  type OutboxRow,
  type PollContinuouslyInput,
  type PollContinuouslyResult,
  type PollOutboxInput,
  type PollOutboxResult,
} from './types';

/** From this attempt on, a row whose command keeps failing unexpectedly is written as `failed`. */
export const GIVE_UP_AFTER_ATTEMPTS = 5;

export interface OutboxDeps {
  config: SignflowConfig;
  db: Knex;
  /** A Temporal client to start and message contract workflows (the worker's NativeConnection cannot). */
  client: Client;
}

/** Runs one row's command through commands/. */
async function runCommand(deps: CommandDeps, row: OutboxRow): Promise<RowOutcome> {
  const command = row.command as OutboxCommand;
  if (!OUTBOX_COMMANDS.includes(command)) {
    throw validationFailed(`unknown command ${JSON.stringify(row.command)}; use send, confirm, withdraw or resend`);
  }
  const contractId = idFromColumn(row.contractId, 'contract_id');
  const staff = row.staffContactId === null ? undefined : idFromColumn(row.staffContactId, 'staff_contact_id');
  switch (command) {
    case 'send':
      return { outcome: OUTCOME_OF.send, runId: (await startContract(deps, contractId)).runId };
    case 'confirm':
      if (staff === undefined) {
        throw validationFailed('a confirm row needs staff_contact_id (the Kontakt id of the staff member)');
      }
      await confirmContract(deps, contractId, staff);
      return { outcome: OUTCOME_OF.confirm };
    case 'withdraw':
      await withdrawContract(deps, contractId, { staffContactId: staff, reason: `outbox row ${row.id}` });
      return { outcome: OUTCOME_OF.withdraw };
    case 'resend':
      await resendInvitation(deps, contractId);
      return { outcome: OUTCOME_OF.resend };
  }
}

/**
 * Runs one row's command. A refusal becomes outcome `failed` (or is thrown for a retry when the table says "not
 * yet"); anything unexpected is thrown.
 */
export async function executeOutboxCommand(deps: CommandDeps, row: OutboxRow): Promise<RowOutcome> {
  try {
    return await runCommand(deps, row);
  } catch (err) {
    if (err instanceof CommandError && REFUSAL[err.code] === 'failed') return failedRow(err);
    throw err;
  }
}

/**
 * One poller pass under `claimer`: claim up to `batchSize` rows, run them in order, write each outcome. Exported for
 * tests that race two pollers against one database.
 */
export async function pollOutboxOnce(
  deps: OutboxDeps,
  claimer: string,
  input: PollOutboxInput,
  hooks: {
    attempt?: number;
    heartbeat?: (detail: unknown) => void;
    /** Unexpected failures per row id across passes of one long-running poller (instead of `attempt`). */
    failures?: Map<number, number>;
  } = {}
): Promise<PollOutboxResult & { unexpected: { id: number; error: Error }[] }> {
  const rows = await claimOutboxRows(deps.db, { claimer, batchSize: input.batchSize });
  const processed: number[] = [];
  const unexpected: { id: number; error: Error }[] = [];
  let failed = 0;
  for (const row of rows) {
    hooks.heartbeat?.({ rowId: row.id });
    let result: RowOutcome;
    try {
      result = await executeOutboxCommand(deps, row);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      const attempt = hooks.failures ? (hooks.failures.get(row.id) ?? 0) + 1 : (hooks.attempt ?? 1);
      hooks.failures?.set(row.id, attempt);
      if (attempt < GIVE_UP_AFTER_ATTEMPTS) {
        unexpected.push({ id: row.id, error });
        continue;
      }
      result =
        error instanceof CommandError
          ? failedRow(error)
          : { outcome: 'failed', error: `INTERNAL_ERROR: gave up after ${attempt} attempts: ${error.message}` };
    }
    if (await finishOutboxRow(deps.db, row.id, claimer, result)) {
      processed.push(row.id);
      if (result.outcome === 'failed') failed++;
    }
  }
  return { processed, failed, more: rows.length >= input.batchSize, unexpected };
}

/** Longest pause between heartbeats while the poller waits (well inside the workflow's heartbeat timeout). */
const HEARTBEAT_EVERY_MS = 15_000;

/** Waits `ms`, heartbeating in between; rejects when the activity is cancelled (worker shutdown). */
async function waitHeartbeating(ctx: Context, ms: number, detail: unknown): Promise<void> {
  for (let left = ms; left > 0; left -= HEARTBEAT_EVERY_MS) {
    ctx.heartbeat(detail);
    await ctx.sleep(Math.min(left, HEARTBEAT_EVERY_MS));
  }
}

export function createOutboxActivities(deps: OutboxDeps) {
  return {
    /**
     * The long-running poller's activity (workflow `outboxPollerLoop`): polls every `pollIntervalMs` (at once again
     * while batches come back full) for `windowMs`, heartbeating, then returns. Its claimer id is the poller
     * workflow's id in its namespace: the same across retries and continue-as-new, so rows a crashed attempt had
     * claimed are resumed by the next. A row that fails unexpectedly is retried on later passes and written as
     * `failed` after GIVE_UP_AFTER_ATTEMPTS; the run does not end while such rows are held.
     */
    async pollOutboxContinuously(input: PollContinuouslyInput): Promise<PollContinuouslyResult> {
      const ctx = Context.current();
      const info = ctx.info;
      const claimer = `${info.workflowNamespace}/${info.workflowExecution?.workflowId ?? 'standalone'}`;
      const failures = new Map<number, number>();
      const until = Date.now() + input.windowMs;
      const totals: PollContinuouslyResult = { polls: 0, processed: 0, failed: 0 };
      for (;;) {
        const pass = await pollOutboxOnce(
          deps,
          claimer,
          { batchSize: input.batchSize },
          { heartbeat: (d) => ctx.heartbeat(d), failures }
        );
        totals.polls++;
        totals.processed += pass.processed.length;
        totals.failed += pass.failed;
        for (const { id, error } of pass.unexpected) {
          ctx.log.warn('outbox row not processed yet; retrying it on the next poll', {
            rowId: id,
            error: error.message,
          });
        }
        if (Date.now() >= until && pass.unexpected.length === 0) return totals;
        if (!pass.more || pass.unexpected.length > 0) await waitHeartbeating(ctx, input.pollIntervalMs, totals);
      }
    },

    /** Takes and runs one batch of outbox rows. Retries resume the same rows (same claimer id). */
    async pollOutbox(input: PollOutboxInput): Promise<PollOutboxResult> {
      const ctx = Context.current();
      const info = ctx.info;
      // Stable across retries of this activity, unique per poller run.
      const run = info.workflowExecution;
      const claimer = `${run?.workflowId ?? 'standalone'}/${run?.runId ?? '-'}/${info.activityId}`;
      const result = await pollOutboxOnce(deps, claimer, input, {
        attempt: info.attempt,
        heartbeat: (d) => ctx.heartbeat(d),
      });
      if (result.unexpected.length > 0) {
        const first = result.unexpected[0];
        throw ApplicationFailure.retryable(
          `${result.unexpected.length} outbox row(s) could not be processed yet (first: row ${first?.id}: ` +
            `${first?.error.message}); retrying them`,
          'OUTBOX_ROW_RETRY'
        );
      }
      return { processed: result.processed, failed: result.failed, more: result.more };
    },
  };
}

export type OutboxActivities = ReturnType<typeof createOutboxActivities>;

/**
 * The outbox activities with their own Temporal client, for the worker: `activities: { ...createActivities(deps),
 * ...outbox.activities }` and `await outbox.close()` on shutdown.
 */
export async function connectOutboxActivities(
  config: SignflowConfig,
  db: Knex
): Promise<{ activities: OutboxActivities; close(): Promise<void> }> {
  const { client, close } = await connectClient(config, { dataConverter: createDataConverter(config) });
  return { activities: createOutboxActivities({ config, db, client }), close };
}
