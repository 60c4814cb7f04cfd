/**
 * What Temporal's answers mean for a contract command, as CommandErrors: a workflow validator's refusal keeps the
 * domain code it was given (WRONG_SIGNER, SIGNATURE_EXPIRED, …), a missing or closed workflow says whether a request
 * was never started or how it ended. Anything else (Temporal unreachable, timeouts) is left to the door.
 */
import {
  isGrpcServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { contractHandle, contractStatus } from '../client/contract-client';
import type { SignflowConfig } from '../temporal.config';
import { contractWorkflowId, type ContractPhase } from '../workflows/definitions';
import { CommandError, CommandErrorCode, isCommandErrorCode } from './errors';

/** What a call that needs a worker's answer uses: the client and how long to wait for the answer. */
export interface WorkflowDeps {
  client: Client;
  config: Pick<SignflowConfig, 'temporal'>;
}

/** gRPC status codes (numeric, as @grpc/grpc-js reports them). */
const GRPC_CANCELLED = 1;
const GRPC_DEADLINE_EXCEEDED = 4;

/**
 * True when the error says that no worker answered: our deadline ran out (the Update or query waited for a worker),
 * or the server refused a query because no worker has polled the task queue recently.
 */
function isNoWorkerAnswer(err: unknown): boolean {
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (isGrpcServiceError(e) && (e.code === GRPC_DEADLINE_EXCEEDED || e.code === GRPC_CANCELLED)) return true;
    if (/no poller seen for task queue/i.test(e.message)) return true;
  }
  return false;
}

export function noWorker(contractId: number, timeoutMs: number): CommandError {
  const retryAfterSeconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  return new CommandError(
    CommandErrorCode.NO_WORKER,
    `no signflow worker answered for contract ${contractId} within ${timeoutMs / 1000} s ` +
      `(SIGNFLOW_WORKER_ANSWER_TIMEOUT); retry in ${retryAfterSeconds} s. An admitted signature may still be ` +
      'recorded, with the time of this call, once a worker is back: read the contract before signing again',
    { contractId, retryAfterSeconds }
  );
}

/**
 * Runs a call that needs a worker's answer (an Update, a query) with a deadline of `temporal.workerAnswerTimeout`:
 * without a worker, Temporal holds such calls open for as long as the caller waits. Past the deadline the call is
 * NO_WORKER; every other error passes unchanged.
 */
export async function withWorker<T>(deps: WorkflowDeps, contractId: number, call: () => Promise<T>): Promise<T> {
  const timeoutMs = deps.config.temporal.workerAnswerTimeout;
  try {
    return await deps.client.withDeadline(Date.now() + timeoutMs, call);
  } catch (err) {
    if (isNoWorkerAnswer(err)) throw noWorker(contractId, timeoutMs);
    throw err;
  }
}

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

/** The phase of a workflow that may have closed; undefined when no worker answers the query in time. */
export async function phaseOf(deps: WorkflowDeps, contractId: number): Promise<ContractPhase | undefined> {
  try {
    return (await withWorker(deps, contractId, () => contractStatus(deps.client, contractId))).phase;
  } catch {
    return undefined;
  }
}

/**
 * Runs a call to the contract's workflow, bounded by the worker answer timeout (NO_WORKER), and turns Temporal's
 * refusals into CommandErrors.
 */
export async function askWorkflow<T>(deps: WorkflowDeps, contractId: number, call: () => Promise<T>): Promise<T> {
  const { client } = deps;
  try {
    return await withWorker(deps, contractId, call);
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
      throw endedRejection(contractId, await phaseOf(deps, contractId));
    }
    throw err;
  }
}
