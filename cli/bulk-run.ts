/**
 * `signflow bulk` without the terminal: starts the contracts (at most `concurrency` in flight, a start that fails for a
 * transient reason retried), then follows their invitations until every one is sent or refused, reporting progress at
 * least every `pollMs` (a contract whose request ended before its invitation went out counts as skipped). No start is lost or doubled: the workflow id is the contract's (`honorarvertrag-<id>`) and the
 * start joins a running request (USE_EXISTING), so a retried start, or the whole bulk run again, joins what the first
 * attempt started instead of starting a second request.
 */
import type { CliContext } from './context';
import { ExitCode } from './exit-codes';
import { InvitationProgress, type InvitationCounts } from './invitation-progress';
import { startContracts, type StartOutcome } from './start-contracts';

export interface BulkProgress {
  total: number;
  /** Starts answered so far (started, joined or refused). */
  answered: number;
  /** Starts refused (after retries). */
  refused: number;
  invitations: InvitationCounts;
}

export interface BulkRunOptions {
  /** Starts in flight at once. */
  concurrency: number;
  /** How often the invitations are counted (and progress reported). @default 250 */
  pollMs?: number;
  /** How long to follow the invitations after the last start, ms; 0 = not at all. @default 600_000 */
  waitMs?: number;
  /** Attempts per start when it fails for a transient reason (Temporal or the database unreachable). @default 3 */
  attempts?: number;
  /** Delay before the first retry, doubled for each further one, ms. @default 500 */
  retryDelayMs?: number;
  onProgress?: (p: BulkProgress) => void;
}

export interface BulkRunResult {
  outcomes: StartOutcome[];
  invitations: InvitationCounts & { pending: number };
}

/** Worth trying again: Temporal or the database unreachable, or "not yet" (exit codes 4 and 6). */
function transient(o: StartOutcome): boolean {
  return !o.ok && (o.error.exitCode === ExitCode.UNAVAILABLE || o.error.exitCode === ExitCode.RETRY_LATER);
}

export async function runBulk(ctx: CliContext, given: readonly number[], o: BulkRunOptions): Promise<BulkRunResult> {
  // A contract listed twice (a CSV export with repeated rows) is one contract: one start, one outcome.
  const ids = [...new Set(given)];
  const pollMs = o.pollMs ?? 250;
  const waitMs = o.waitMs ?? 600_000;
  const attempts = o.attempts ?? 3;
  const retryDelayMs = o.retryDelayMs ?? 500;
  const progress = new InvitationProgress(ctx.db, ctx.config.crm);
  let answered = 0;
  let refused = 0;
  const report = () => o.onProgress?.({ total: ids.length, answered, refused, invitations: progress.counts });

  // Counting runs beside the starts, so the invitations of the first contracts show while the last ones start. A poll
  // only starts when the last one has finished: a slow database slows the updates, it does not pile up queries.
  let polling = true;
  let stopFollowing = false;
  let pollError: unknown;
  const poller = (async () => {
    while (polling || !progress.settled) {
      const next = new Promise((r) => setTimeout(r, pollMs));
      try {
        await progress.poll(report);
      } catch (err) {
        pollError = err;
        return;
      }
      report();
      if (!polling && progress.settled) return;
      await next;
      if (stopFollowing) return;
    }
  })();

  let outcomes: StartOutcome[] = [];
  let todo = [...ids];
  try {
    for (let attempt = 1; todo.length > 0; attempt++) {
      const last = attempt >= attempts;
      const round = await startContracts(ctx, todo, {
        concurrency: o.concurrency,
        onDone: (outcome) => {
          if (outcome.ok) progress.follow(outcome.contractId);
          if (outcome.ok || last || !transient(outcome)) {
            answered++;
            if (!outcome.ok) refused++;
            report();
          }
        },
      });
      const settled = round.filter((r) => r.ok || last || !transient(r));
      outcomes = [...outcomes, ...settled];
      todo = round.filter((r) => !settled.includes(r)).map((r) => r.contractId);
      if (todo.length > 0) await new Promise((r) => setTimeout(r, retryDelayMs * 2 ** (attempt - 1)));
    }
  } catch (err) {
    stopFollowing = true;
    polling = false;
    await poller;
    throw err;
  }
  polling = false;
  // Follow the invitations for at most waitMs after the last start.
  const deadline = waitMs > 0 ? setTimeout(() => (stopFollowing = true), waitMs) : undefined;
  if (waitMs <= 0) stopFollowing = true;
  await poller;
  if (deadline) clearTimeout(deadline);
  if (pollError) throw pollError;
  report();
  const order = new Map(ids.map((id, i) => [id, i]));
  outcomes.sort((a, b) => (order.get(a.contractId) ?? 0) - (order.get(b.contractId) ?? 0));
  const counts = progress.counts;
  const started = outcomes.filter((x) => x.ok).length;
  return { outcomes, invitations: { ...counts, pending: started - counts.sent - counts.refused - counts.skipped } };
}
