/**
 * The contract commands as every door answers them (HTTP routes and the outbox poller): the checks in front of
 * `client/contract-client.ts` and the mapping of Temporal's errors to `ApiError` (status, code, sentence). One place,
 * so an outbox row and an HTTP call for the same command can never get different answers.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import type { Knex } from 'knex';
import {
  confirmContract,
  contractHandle,
  contractStatus,
  resendInvitation,
  signContract,
  startContractWorkflow,
  withdrawContract,
  type StartResult,
} from '../client/contract-client';
import { readContract } from '../db/crm-repository';
import { ErrorCode } from '../domain/errors';
import type { SignflowConfig } from '../temporal.config';
import type { ContractPhase, SignatureOutcome, SignInput, WithdrawInput } from '../workflows/definitions';
import { ApiError, ApiErrorCode, closedWorkflowRejection, mapTemporalError, workflowRejection } from './errors';

export interface CommandDeps {
  config: SignflowConfig;
  client: Client;
  db: Knex;
}

/** Phases in which the signature is valid or being recorded: nothing can withdraw or remind any more. */
const SIGNED_PHASES: readonly ContractPhase[] = [
  'recording',
  'countersigning',
  'waiting-for-comfort-signature',
  'confirming',
  'completed',
];

/** The contract's latest workflow execution, or undefined when none was ever started. */
export async function describeContract(
  client: Client,
  contractId: number
): Promise<WorkflowExecutionDescription | undefined> {
  try {
    return await contractHandle(client, contractId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** "never started" vs the phase a workflow ended (or is) in, for rejections of missing or closed workflows. */
async function phaseOf(client: Client, contractId: number): Promise<ContractPhase | 'not-found'> {
  if (!(await describeContract(client, contractId))) return 'not-found';
  return (await contractStatus(client, contractId)).phase;
}

async function temporalCall<T>(client: Client, contractId: number, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw await mapTemporalError(err, contractId, () => phaseOf(client, contractId));
  }
}

/**
 * Starts the contract's signature request, or answers the running one (idempotent). The CRM row is checked first so
 * that a typo or a contract that may not be sent is a clear 404/409 now rather than a failed workflow later; the
 * workflow validates again.
 */
export async function startSignatureRequest(deps: CommandDeps, contractId: number): Promise<StartResult> {
  const { client, config, db } = deps;
  const contract = await readContract(db, config.crm, contractId);
  if (!contract) throw workflowRejection(ErrorCode.CONTRACT_NOT_FOUND, contractId);
  const sendable = config.crm.values.contractSendableStatuses;
  if (!sendable.includes(contract.status)) {
    // Already sent: a repeated start joins the running request instead of failing.
    const running = await describeContract(client, contractId);
    if (running?.status.name === 'RUNNING') return { workflowId: running.workflowId, runId: running.runId };
    throw new ApiError(
      409,
      ErrorCode.CONTRACT_NOT_SENDABLE,
      `contract ${contractId} has status "${contract.status}"; only ${sendable.map((s) => `"${s}"`).join(', ')} can be sent`
    );
  }
  try {
    return await startContractWorkflow(client, config, contractId);
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new ApiError(
        409,
        ApiErrorCode.CONTRACT_WORKFLOW_CLOSED,
        `the signature request of contract ${contractId} has already finished; it is not restarted by accident`
      );
    }
    throw err;
  }
}

export function sign(deps: CommandDeps, contractId: number, input: SignInput): Promise<SignatureOutcome> {
  return temporalCall(deps.client, contractId, () => signContract(deps.client, contractId, input));
}

export function confirm(deps: CommandDeps, contractId: number, staffContactId: number): Promise<SignatureOutcome> {
  return temporalCall(deps.client, contractId, () => confirmContract(deps.client, contractId, { staffContactId }));
}

/** Signals are fire-and-forget: check first that the workflow still waits for a signature, so the answer is true. */
async function assertAwaitingSignature(client: Client, contractId: number): Promise<void> {
  const description = await describeContract(client, contractId);
  if (!description) {
    throw new ApiError(
      404,
      ApiErrorCode.SIGNATURE_REQUEST_NOT_FOUND,
      `no signature request was started for contract ${contractId}`
    );
  }
  const phase = (await contractStatus(client, contractId)).phase;
  if (description.status.name !== 'RUNNING') throw closedWorkflowRejection(contractId, phase);
  if (SIGNED_PHASES.includes(phase)) throw workflowRejection(ErrorCode.SIGNATURE_ALREADY_CONFIRMED, contractId);
  if (phase === 'withdrawn' || phase === 'expired') throw closedWorkflowRejection(contractId, phase);
}

export function withdraw(deps: CommandDeps, contractId: number, input: WithdrawInput): Promise<void> {
  return temporalCall(deps.client, contractId, async () => {
    await assertAwaitingSignature(deps.client, contractId);
    await withdrawContract(deps.client, contractId, input);
  });
}

export function resend(deps: CommandDeps, contractId: number): Promise<void> {
  return temporalCall(deps.client, contractId, async () => {
    await assertAwaitingSignature(deps.client, contractId);
    await resendInvitation(deps.client, contractId);
  });
}
