/**
 * The outbox poller's activity: takes a batch of `signflow_outbox` rows (exactly once, see outbox-repository.ts),
 * runs each command through the same code as the HTTP API (`api/contract-commands.ts`) and writes the outcome or a
 * readable error into the row.
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
import { confirm, resend, startSignatureRequest, withdraw, type CommandDeps } from '../api/contract-commands';
import { ApiError } from '../api/errors';
import type { SignflowConfig } from '../temporal.config';
import { claimOutboxRows, finishOutboxRow, type RowOutcome } from './outbox-repository';
import type { OutboxRow, PollOutboxInput, PollOutboxResult } from './types';

/** From this attempt on, a row whose command keeps failing unexpectedly is written as `failed`. */
export const GIVE_UP_AFTER_ATTEMPTS = 5;

export interface OutboxDeps {
  config: SignflowConfig;
  db: Knex;
  /** A Temporal client to start and message contract workflows (the worker's NativeConnection cannot). */
  client: Client;
}

/** Runs one row's command; a rejection becomes outcome `failed`, anything unexpected is thrown. */
export async function executeOutboxCommand(deps: CommandDeps, row: OutboxRow): Promise<RowOutcome> {
  try {
    switch (row.command) {
      case 'send': {
        const started = await startSignatureRequest(deps, row.contractId);
        return { outcome: 'started', runId: started.runId };
      }
      case 'confirm': {
        if (row.staffContactId === null) {
          return {
            outcome: 'failed',
            error: 'VALIDATION_FAILED: a confirm row needs staff_contact_id (the Kontakt id of the staff member)',
          };
        }
        await confirm(deps, row.contractId, row.staffContactId);
        return { outcome: 'confirmed' };
      }
      case 'withdraw':
        await withdraw(deps, row.contractId, {
          staffContactId: row.staffContactId ?? undefined,
          reason: `outbox row ${row.id}`,
        });
        return { outcome: 'withdrawn' };
      case 'resend':
        await resend(deps, row.contractId);
        return { outcome: 'resent' };
      default:
        return {
          outcome: 'failed',
          error: `VALIDATION_FAILED: unknown command "${row.command}"; use send, confirm, withdraw or resend`,
        };
    }
  } catch (err) {
    if (err instanceof ApiError) return { outcome: 'failed', error: `${err.code}: ${err.message}` };
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
  hooks: { attempt?: number; heartbeat?: (detail: unknown) => void } = {}
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
      if ((hooks.attempt ?? 1) < GIVE_UP_AFTER_ATTEMPTS) {
        unexpected.push({ id: row.id, error });
        continue;
      }
      result = {
        outcome: 'failed',
        error: `INTERNAL_ERROR: gave up after ${hooks.attempt} attempts: ${error.message}`,
      };
    }
    if (await finishOutboxRow(deps.db, row.id, claimer, result)) {
      processed.push(row.id);
      if (result.outcome === 'failed') failed++;
    }
  }
  return { processed, failed, more: rows.length >= input.batchSize, unexpected };
}

export function createOutboxActivities(deps: OutboxDeps) {
  return {
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
