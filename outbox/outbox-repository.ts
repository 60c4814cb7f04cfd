/**
 * The outbox table's reads and writes. Taking a row is one conditional UPDATE (`… WHERE claimed_by IS NULL`): on
 * MySQL/MariaDB InnoDB re-checks the condition under the row lock, on SQLite writers are serialised, so of two pollers
 * racing for the same row exactly one gets `claimed_by` set to its own id, and only rows carrying its id are processed.
 */
import type { Knex } from 'knex';
import { toDate } from '../db/crm-repository';
import { OUTBOX_TABLE, type OutboxCommand, type OutboxOutcome, type OutboxRow } from './types';

/** SQLite's CURRENT_TIMESTAMP is UTC text without a zone; read it as UTC, not as the machine's local time. */
function iso(v: unknown): string | null {
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$/.test(v)) {
    return new Date(`${v.replace(' ', 'T')}Z`).toISOString();
  }
  return toDate(v)?.toISOString() ?? null;
}

/** An id column as stored: numbers stay numbers, anything else its text (checked when the row runs). */
function column(v: unknown): number | string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'number' ? v : String(v);
}

function fromDb(r: Record<string, unknown>): OutboxRow {
  return {
    id: Number(r.id),
    command: String(r.command ?? ''),
    contractId: column(r.contract_id),
    staffContactId: column(r.staff_contact_id),
    createdAt: iso(r.created_at),
    claimedBy: r.claimed_by == null ? null : String(r.claimed_by),
    claimedAt: iso(r.claimed_at),
    processedAt: iso(r.processed_at),
    outcome: r.outcome == null ? null : (String(r.outcome) as OutboxOutcome),
    runId: r.run_id == null ? null : String(r.run_id),
    error: r.error == null ? null : String(r.error),
  };
}

export interface EnqueueInput {
  command: OutboxCommand;
  contractId: number;
  staffContactId?: number;
}

/** What a CRM trigger does, for tests, support and the CLI. Returns the new row's id. */
export async function enqueueOutboxCommand(db: Knex, input: EnqueueInput): Promise<number> {
  const [id] = await db(OUTBOX_TABLE).insert({
    command: input.command,
    contract_id: input.contractId,
    staff_contact_id: input.staffContactId ?? null,
  });
  return Number(id);
}

export async function readOutboxRows(db: Knex, ids?: number[]): Promise<OutboxRow[]> {
  const q = db(OUTBOX_TABLE).select('*').orderBy('id', 'asc');
  if (ids) q.whereIn('id', ids);
  return ((await q) as Record<string, unknown>[]).map(fromDb);
}

export interface ClaimOptions {
  /** Unique per poller run and stable across retries of the same activity (see outbox.activities.ts). */
  claimer: string;
  batchSize: number;
  now?: Date;
}

/**
 * Takes up to `batchSize` rows for `claimer`: first the rows it already holds but did not finish (a retried activity
 * resumes them), then unclaimed rows, oldest first. Returns exactly the unfinished rows holding `claimer`.
 */
export async function claimOutboxRows(db: Knex, opts: ClaimOptions): Promise<OutboxRow[]> {
  const now = opts.now ?? new Date();
  // Another poller may take some candidates between our SELECT and UPDATE; try again for the rest, a few times.
  for (let attempt = 0; attempt < 3; attempt++) {
    const held = await db(OUTBOX_TABLE).where('claimed_by', opts.claimer).whereNull('processed_at').count({ n: '*' });
    const room = opts.batchSize - Number(held[0]?.n ?? 0);
    if (room <= 0) break;
    const candidates = (await db(OUTBOX_TABLE)
      .select('id')
      .whereNull('claimed_by')
      .orderBy('id', 'asc')
      .limit(room)) as { id: number | string }[];
    if (candidates.length === 0) break;
    // The condition is what makes this exactly-once: a row another poller took in between is left alone.
    const taken = await db(OUTBOX_TABLE)
      .whereIn(
        'id',
        candidates.map((c) => Number(c.id))
      )
      .whereNull('claimed_by')
      .update({ claimed_by: opts.claimer, claimed_at: now });
    if (taken === candidates.length) break;
  }
  const rows = await db(OUTBOX_TABLE)
    .select('*')
    .where('claimed_by', opts.claimer)
    .whereNull('processed_at')
    .orderBy('id', 'asc');
  return (rows as Record<string, unknown>[]).map(fromDb);
}

export interface RowOutcome {
  outcome: OutboxOutcome;
  runId?: string;
  /** `<CODE>: <sentence>` for outcome `failed`. */
  error?: string;
}

/** Marks a row finished; only the claimer can, and only once. Returns false when the row was not ours to finish. */
export async function finishOutboxRow(
  db: Knex,
  id: number,
  claimer: string,
  result: RowOutcome,
  now = new Date()
): Promise<boolean> {
  const n = await db(OUTBOX_TABLE)
    .where({ id, claimed_by: claimer })
    .whereNull('processed_at')
    .update({ processed_at: now, outcome: result.outcome, run_id: result.runId ?? null, error: result.error ?? null });
  return n === 1;
}
