/**
 * Whether a contract whose last signature request has ended may get a new one, and under which request key.
 *
 * - Ended signed or confirmed: never again (CONTRACT_WORKFLOW_CLOSED); a valid signature is final.
 * - Ended withdrawn or expired: a new request is allowed once the CRM has made the contract sendable again (the CRM
 *   corrects a contract and sends it anew). It gets a fresh request key, so its document, signature and mails are
 *   new rows instead of the ended request's.
 * - Failed, terminated or timed out (e.g. bad CRM data, since fixed): started again under the same request key, so a
 *   request that was already prepared is resumed rather than doubled.
 *
 * The request key is the idempotency key of every write (`signflow_requests`, `signflow_mails`); the first request of
 * a contract uses the workflow id itself, as every request did before new runs were allowed.
 */
import type { WorkflowExecutionDescription } from '@temporalio/client';
import type { CrmContract } from '../db/crm-repository';
import { contractResult } from '../client/contract-client';
import { contractWorkflowId } from '../workflows/definitions';
import type { CommandDeps } from './contract-commands';
import { CommandError, CommandErrorCode } from './errors';

const REQUESTS_TABLE = 'signflow_requests';

export interface StartDecision {
  /** Undefined: the workflow id (first request). */
  requestKey?: string;
  /** How the previous request ended, for the sentence of a refusal. */
  previousEnding?: 'withdrawn' | 'expired';
}

/** The request key the closed run used (kept in its memo); undefined = the workflow id. */
function requestKeyOf(description: WorkflowExecutionDescription): string | undefined {
  const key = description.memo?.requestKey;
  return typeof key === 'string' && key !== '' ? key : undefined;
}

/** A key no request of this contract has used yet: `<workflowId>#<n>`. */
async function freshRequestKey(deps: CommandDeps, contractId: number): Promise<string> {
  const workflowId = contractWorkflowId(contractId);
  const used = new Set(
    ((await deps.db(REQUESTS_TABLE).where('contract_id', contractId).pluck('workflow_id')) as unknown[]).map(String)
  );
  let n = used.size + 1;
  while (used.has(`${workflowId}#${n}`)) n++;
  return `${workflowId}#${n}`;
}

export async function decideStart(
  deps: CommandDeps,
  contract: CrmContract,
  last: WorkflowExecutionDescription | undefined
): Promise<StartDecision> {
  if (!last) return {};
  if (last.status.name !== 'COMPLETED') return { requestKey: requestKeyOf(last) };
  const result = await contractResult(deps.client, contract.id);
  if (result.outcome === 'withdrawn' || result.outcome === 'expired') {
    return { requestKey: await freshRequestKey(deps, contract.id), previousEnding: result.outcome };
  }
  throw new CommandError(
    CommandErrorCode.CONTRACT_WORKFLOW_CLOSED,
    `contract ${contract.id} was already ${result.outcome} (signature ${result.signatureId}); a signed contract is ` +
      'never sent again. To ask for a new signature, create a new contract in the CRM.',
    { contractId: contract.id, outcome: result.outcome, signatureId: result.signatureId }
  );
}
