/**
 * What every door (API, CLI, outbox poller, tests) does with a contract's workflow. One place decides the workflow id,
 * the id policies and the input derived from the config, so the doors cannot drift apart.
 */
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { SignflowConfig } from '../temporal.config';
import {
  confirmManuallyUpdate,
  contractWorkflowId,
  documentViewedSignal,
  qesSignerWorkflowId,
  resendSignal,
  SA_CRM_CONTRACT_ID,
  signUpdate,
  statusQuery,
  withdrawSignal,
  type ConfirmManuallyInput,
  type ContractResult,
  type ContractState,
  type ContractWorkflowInput,
  type DocumentViewedInput,
  type SignatureOutcome,
  type SignInput,
  type WithdrawInput,
} from '../workflows/definitions';

export const CONTRACT_WORKFLOW_TYPE = 'honorarvertrag';

export function contractWorkflowInput(config: SignflowConfig, contractId: number): ContractWorkflowInput {
  const s = config.signature;
  const v = config.crm.values;
  return {
    labels: {
      contractSent: v.contractSent,
      contractInProgress: v.contractInProgress,
      signaturePending: v.signaturePending,
      signatureValid: v.signatureValid,
      signatureWithdrawn: v.signatureWithdrawn,
      signatureExpired: v.signatureExpired,
    },
    contractId,
    timing: {
      remindersEnabled: s.remindersEnabled,
      reminderDelayMs: s.reminderDelay,
      reminderIntervalMs: s.reminderInterval,
      reminderMax: s.reminderMax,
      expiryMs: s.expiry,
    },
    countersign: config.konnektor.enabled,
    qes: config.konnektor.enabled
      ? {
          signerWorkflowId: qesSignerWorkflowId(config.konnektor.hbaIccsn),
          iccsn: config.konnektor.hbaIccsn,
          batchSize: config.konnektor.batchSize,
          recheckIntervalMs: config.konnektor.recheckInterval,
        }
      : undefined,
  };
}

export interface StartResult {
  workflowId: string;
  runId: string;
}

/**
 * Starts the contract's workflow, or joins the running one (conflict policy USE_EXISTING). A completed workflow is not
 * restarted by accident: the reuse policy rejects it and the caller gets WorkflowExecutionAlreadyStartedError. A
 * failed one (invalid input, e.g. CONTACT_EMAIL_INVALID) may be started again once the CRM data is fixed.
 */
export async function startContractWorkflow(
  client: Client,
  config: SignflowConfig,
  contractId: number
): Promise<StartResult> {
  if (!Number.isSafeInteger(contractId) || contractId <= 0) throw new RangeError(`invalid contract id: ${contractId}`);
  const workflowId = contractWorkflowId(contractId);
  const handle = await client.workflow.start(CONTRACT_WORKFLOW_TYPE, {
    taskQueue: config.temporal.taskQueue,
    workflowId,
    args: [contractWorkflowInput(config, contractId)],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    // A failed run (bad input: fix the CRM, then start again) may be followed by a new one; a completed contract
    // (signed, confirmed, withdrawn, expired) is never restarted by accident.
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    typedSearchAttributes: new TypedSearchAttributes([{ key: SA_CRM_CONTRACT_ID, value: contractId }]),
    staticSummary: `Honorarvertrag ${contractId}: Unterschrift einholen`,
  });
  // With USE_EXISTING the server answers with the running execution's run id: the same contract twice gives one run.
  return { workflowId, runId: handle.firstExecutionRunId };
}

export function contractHandle(client: Client, contractId: number): WorkflowHandle {
  return client.workflow.getHandle(contractWorkflowId(contractId));
}

export async function signContract(client: Client, contractId: number, input: SignInput): Promise<SignatureOutcome> {
  return contractHandle(client, contractId).executeUpdate(signUpdate, { args: [input] });
}

export async function confirmContract(
  client: Client,
  contractId: number,
  input: ConfirmManuallyInput
): Promise<SignatureOutcome> {
  return contractHandle(client, contractId).executeUpdate(confirmManuallyUpdate, { args: [input] });
}

export async function withdrawContract(client: Client, contractId: number, input: WithdrawInput = {}): Promise<void> {
  await contractHandle(client, contractId).signal(withdrawSignal, input);
}

export async function resendInvitation(client: Client, contractId: number): Promise<void> {
  await contractHandle(client, contractId).signal(resendSignal);
}

export async function recordDocumentView(
  client: Client,
  contractId: number,
  input: DocumentViewedInput
): Promise<void> {
  await contractHandle(client, contractId).signal(documentViewedSignal, input);
}

export async function contractStatus(client: Client, contractId: number): Promise<ContractState> {
  return contractHandle(client, contractId).query(statusQuery);
}

export async function contractResult(client: Client, contractId: number): Promise<ContractResult> {
  return (await contractHandle(client, contractId).result()) as ContractResult;
}
