/**
 * Waiting without races on the time-skipping server: awaiting a workflow's result there unlocks time skipping, and
 * the server then skips timers (activity timeouts included) while an activity is still running in real time. So the
 * tests first watch the workflow reach its final phase through the `status` query, and only then take the result.
 */
import type { Client } from '@temporalio/client';
import { contractHandle } from '../../client/contract-client';
import { statusQuery, type ContractResult } from '../../workflows/definitions';

/** Polls `check` until it passes, bounded by `timeoutMs` (then the last failure is thrown). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}

const FINAL_PHASES = new Set(['completed', 'withdrawn', 'expired']);

/** The contract workflow's result, once its `status` query shows a final phase (no time skipped meanwhile). */
export async function settledResult(client: Client, contractId: number, timeoutMs = 60_000): Promise<ContractResult> {
  const handle = contractHandle(client, contractId);
  await eventually(
    async () => {
      const { phase } = await handle.query(statusQuery);
      if (!FINAL_PHASES.has(phase)) throw new Error(`contract ${contractId} is still ${phase}`);
    },
    timeoutMs,
    50
  );
  return (await handle.result()) as ContractResult;
}
