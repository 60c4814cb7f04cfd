/**
 * Starting the signature process for one or many contracts: `signflow start` and `signflow bulk` share this. Each
 * contract gets its own outcome; one refusal does not stop the others.
 */
import type { Knex } from 'knex';
import { startContractWorkflow } from '../client/contract-client';
import type { CrmMapping } from '../db/crm-mapping';
import { ErrorCode } from '../domain/errors';
import { mapBounded } from './bounded';
import { classifyError } from './classify-error';
import type { CliContext } from './context';
import { ExitCode } from './exit-codes';

export type StartOutcome =
  | { contractId: number; ok: true; workflowId: string; runId: string }
  | { contractId: number; ok: false; error: { code: string; message: string; exitCode: ExitCode } };

export interface StartContractsOptions {
  /** Calls to Temporal in flight at once. */
  concurrency: number;
  /**
   * Look the contracts up in the CRM first, so an unknown id is refused at once (exit 3) instead of failing later in
   * the workflow. Off for hosts that reach Temporal but not the database.
   */
  checkExists: boolean;
  onDone?: (outcome: StartOutcome) => void;
}

/** The ids among `ids` that exist in the CRM's contract table; chunked so the IN list stays small. */
export async function existingContractIds(db: Knex, crm: CrmMapping, ids: readonly number[]): Promise<Set<number>> {
  const c = crm.contracts;
  const found = new Set<number>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const rows: unknown[] = await db(c.table).whereIn(c.id, chunk).pluck(c.id);
    for (const id of rows) found.add(Number(id));
  }
  return found;
}

export async function startContracts(
  ctx: CliContext,
  ids: readonly number[],
  options: StartContractsOptions
): Promise<StartOutcome[]> {
  const config = ctx.config;
  const known = options.checkExists ? await existingContractIds(ctx.db, config.crm, ids) : undefined;
  // Connect once up front: an unreachable Temporal is one error (exit 4), not one per contract.
  const client = await ctx.temporal();
  return mapBounded(ids, options.concurrency, async (contractId) => {
    let outcome: StartOutcome;
    if (known && !known.has(contractId)) {
      outcome = {
        contractId,
        ok: false,
        error: {
          code: ErrorCode.CONTRACT_NOT_FOUND,
          message: `contract ${contractId} does not exist in ${config.crm.contracts.table}; nothing was started`,
          exitCode: ExitCode.NOT_FOUND,
        },
      };
    } else {
      try {
        outcome = { contractId, ok: true, ...(await startContractWorkflow(client, config, contractId)) };
      } catch (err) {
        const e = classifyError(err);
        outcome = { contractId, ok: false, error: { code: e.code, message: e.message, exitCode: e.exitCode } };
      }
    }
    options.onDone?.(outcome);
    return outcome;
  });
}

/** The exit code of a run: 0 when all started, else the most severe failure's code (4 over 3 over 1). */
export function exitCodeOf(outcomes: readonly StartOutcome[]): ExitCode {
  let code: ExitCode = ExitCode.OK;
  for (const o of outcomes) if (!o.ok && o.error.exitCode > code) code = o.error.exitCode;
  return code;
}
