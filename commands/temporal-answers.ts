/**
 * What Temporal's answers mean for a contract command, as CommandErrors: a workflow validator's refusal keeps the
 * domain code it was given (WRONG_SIGNER, SIGNATURE_EXPIRED, …), a missing or closed workflow says whether a request
 * was never started or how it ended. Anything else (Temporal unreachable, timeouts) is left to the door.
 */
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { contractHandle, contractStatus } from '../client/contract-client';
import { contractWorkflowId, type ContractPhase } from '../workflows/definitions';
import { CommandError, CommandErrorCode, isCommandErrorCode } from './errors';

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

export function notStarted(contractId: number): CommandError {
  return new CommandError(
    CommandErrorCode.SIGNATURE_REQUEST_NOT_FOUND,
    `no signature request was started for contract ${contractId}; start it first (\`signflow start ${contractId}\`)`,
    { contractId, workflowId: contractWorkflowId(contractId) }
  );
}

/** The refusal for a request that has ended, in the domain's words. */
export function endedRejection(contractId: number, phase: ContractPhase | undefined): CommandError {
  const details = { contractId, phase: phase ?? 'unknown' };
  switch (phase) {
    case 'withdrawn':
      return new CommandError(
        CommandErrorCode.SIGNATURE_WITHDRAWN,
        `the signature request of contract ${contractId} was withdrawn and takes no more messages`,
        details
      );
    case 'expired':
      return new CommandError(
        CommandErrorCode.SIGNATURE_EXPIRED,
        `the signature request of contract ${contractId} has expired and takes no more messages`,
        details
      );
    case 'recording':
    case 'countersigning':
    case 'waiting-for-comfort-signature':
    case 'confirming':
    case 'completed':
      return new CommandError(
        CommandErrorCode.SIGNATURE_ALREADY_CONFIRMED,
        `the signature of contract ${contractId} is already valid (or being recorded) and can no longer change`,
        details
      );
    default:
      return new CommandError(
        CommandErrorCode.CONTRACT_WORKFLOW_CLOSED,
        `the signature request of contract ${contractId} has ended (${phase ?? 'unknown outcome'}); see \`signflow status ${contractId}\``,
        details
      );
  }
}

/** The phase of a workflow that may have closed; undefined when no worker answers the query. */
export async function phaseOf(client: Client, contractId: number): Promise<ContractPhase | undefined> {
  try {
    return (await contractStatus(client, contractId)).phase;
  } catch {
    return undefined;
  }
}

/** Runs a call to the contract's workflow and turns Temporal's refusals into CommandErrors. */
export async function askWorkflow<T>(client: Client, contractId: number, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause;
      if (cause instanceof ApplicationFailure && isCommandErrorCode(cause.type)) {
        const details = cause.details?.[0];
        throw new CommandError(
          cause.type,
          cause.message || `the workflow of contract ${contractId} refused the request`,
          details !== null && typeof details === 'object' ? { contractId, ...(details as object) } : { contractId }
        );
      }
      throw new CommandError(
        CommandErrorCode.CONTRACT_WORKFLOW_CLOSED,
        `the workflow of contract ${contractId} refused the request: ${cause?.message ?? err.message}`,
        { contractId }
      );
    }
    if (err instanceof WorkflowNotFoundError) {
      // Updates to a closed workflow also arrive as NotFound: tell "never started" from "ended".
      if (!(await describeContract(client, contractId))) throw notStarted(contractId);
      throw endedRejection(contractId, await phaseOf(client, contractId));
    }
    throw err;
  }
}
