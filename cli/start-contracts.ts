/**
 * Starting the signature process for one or many contracts: `signflow start` and `signflow bulk` share this. Each
 * contract gets its own outcome from commands/ (the same checks and codes as the API and the outbox); one refusal does
 * not stop the others.
 */
import { startContracts as startThroughCommands } from '../commands/contract-commands';
import { classifyError } from './classify-error';
import type { CliContext } from './context';
import { ExitCode } from './exit-codes';

export type StartOutcome =
  | { contractId: number; ok: true; workflowId: string; runId: string; joined: boolean }
  | { contractId: number; ok: false; error: { code: string; message: string; exitCode: ExitCode } };

export interface StartContractsOptions {
  /** Calls to Temporal in flight at once. */
  concurrency: number;
  onDone?: (outcome: StartOutcome) => void;
}

export async function startContracts(
  ctx: CliContext,
  ids: readonly number[],
  options: StartContractsOptions
): Promise<StartOutcome[]> {
  // Connect once up front: an unreachable Temporal is one error (exit 4), not one per contract.
  const client = await ctx.temporal();
  const deps = { config: ctx.config, db: ctx.db, client };
  const toCli = (o: Awaited<ReturnType<typeof startThroughCommands>>[number]): StartOutcome => {
    if (o.ok) return { contractId: o.contractId, ok: true, workflowId: o.workflowId, runId: o.runId, joined: o.joined };
    const e = classifyError(o.error);
    return { contractId: o.contractId, ok: false, error: { code: e.code, message: e.message, exitCode: e.exitCode } };
  };
  const outcomes = await startThroughCommands(deps, ids, {
    concurrency: options.concurrency,
    onDone: (o) => options.onDone?.(toCli(o)),
  });
  return outcomes.map(toCli);
}

/** The exit code of a run: 0 when all started, else the most severe failure's code (4 over 3 over 1). */
export function exitCodeOf(outcomes: readonly StartOutcome[]): ExitCode {
  let code: ExitCode = ExitCode.OK;
  for (const o of outcomes) if (!o.ok && o.error.exitCode > code) code = o.error.exitCode;
  return code;
}
