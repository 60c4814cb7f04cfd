/**
 * Checks before a message is sent to a contract's workflow, so that "no such process" and "the process has ended" are
 * told apart (exit 3 vs exit 1) instead of both arriving as Temporal's NotFound.
 */
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { contractHandle } from '../client/contract-client';
import { contractWorkflowId } from '../workflows/definitions';
import { CliError, ExitCode } from './exit-codes';

export async function describeContract(client: Client, contractId: number): Promise<WorkflowExecutionDescription> {
  try {
    return await contractHandle(client, contractId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      throw new CliError(
        ExitCode.NOT_FOUND,
        'WORKFLOW_NOT_FOUND',
        `contract ${contractId} has no signature process (no workflow ${contractWorkflowId(contractId)}); start it with \`signflow start ${contractId}\``,
        { contractId, workflowId: contractWorkflowId(contractId) }
      );
    }
    throw err;
  }
}

export async function requireRunning(client: Client, contractId: number): Promise<WorkflowExecutionDescription> {
  const description = await describeContract(client, contractId);
  if (description.status.name !== 'RUNNING') {
    throw new CliError(
      ExitCode.REJECTED,
      'PROCESS_ENDED',
      `the signature process of contract ${contractId} has already ended (${description.status.name}); see \`signflow status ${contractId}\``,
      { contractId, workflowId: description.workflowId, status: description.status.name }
    );
  }
  return description;
}
