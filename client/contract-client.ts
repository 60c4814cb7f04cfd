/**
 * The Temporal calls behind the contract commands: workflow id, id policies, the input derived from the config, and
 * the message calls. Only commands/ (and tests of the workflow itself) call these; the doors go through commands/,
 * which checks first and maps the answers.
 */
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy, type Client, type WorkflowHandle } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { SignflowConfig } from '../temporal.config';
import { subscribedEventTypes } from '../webhooks/webhook-config';
import {
  confirmManuallyUpdate,
  contractWorkflowId,
  documentViewedSignal,
  qesSignerWorkflowId,
  resendSignal,
  SA_CONTRACT_STATUS,
  SA_CRM_CONTRACT_ID,
  SA_SIGNATURE_STATUS,
  SA_WAITING_REASON,
  signUpdate,
  statusQuery,
  withdrawUpdate,
  type ConfirmManuallyInput,
  type ContractResult,
  type ContractState,
  type ContractWorkflowInput,
  type DocumentViewedInput,
  type SignatureOutcome,
  type SignInput,
  type WithdrawInput,
  type WithdrawOutcome,
} from '../workflows/definitions';

export const CONTRACT_WORKFLOW_TYPE = 'honorarvertrag';

export function contractWorkflowInput(
  config: SignflowConfig,
  contractId: number,
  requestKey?: string
): ContractWorkflowInput {
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
    ...(requestKey ? { requestKey } : {}),
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
    webhookEvents: subscribedEventTypes(config.webhooks.endpoints),
  };
}

export interface StartResult {
  workflowId: string;
  runId: string;
}

/**
 * Starts the contract's workflow, or joins the running one (conflict policy USE_EXISTING: the same contract twice
 * gives one run). Whether a closed contract may run again is decided by commands/start-policy.ts before this call;
 * `requestKey` (kept in the memo) is the idempotency key of the new request's writes.
 */
export async function startContractWorkflow(
  client: Client,
  config: SignflowConfig,
  contractId: number,
  options: { requestKey?: string } = {}
): Promise<StartResult> {
  if (!Number.isSafeInteger(contractId) || contractId <= 0) throw new RangeError(`invalid contract id: ${contractId}`);
  const workflowId = contractWorkflowId(contractId);
  const input = contractWorkflowInput(config, contractId, options.requestKey);
  const handle = await client.workflow.start(CONTRACT_WORKFLOW_TYPE, {
    taskQueue: config.temporal.taskQueue,
    workflowId,
    args: [input],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
    // The status a contract has while it waits for its signature, given now: at the start it costs no action, where
    // the workflow's upsert after the invitation was one (the workflow corrects it if the preparation is refused or the
    // invitation has to wait for a retry).
    typedSearchAttributes: new TypedSearchAttributes([
      { key: SA_CRM_CONTRACT_ID, value: contractId },
      { key: SA_CONTRACT_STATUS, value: input.labels.contractSent },
      { key: SA_SIGNATURE_STATUS, value: input.labels.signaturePending },
      { key: SA_WAITING_REASON, value: 'signature' },
    ]),
    memo: options.requestKey ? { requestKey: options.requestKey } : undefined,
    staticSummary: `Honorarvertrag ${contractId}: Unterschrift einholen`,
  });
  // With USE_EXISTING the server answers with the running execution's run id: the same contract twice gives one run.
  return { workflowId, runId: handle.firstExecutionRunId };
}

export function contractHandle(client: Client, contractId: number): WorkflowHandle {
  return client.workflow.getHandle(contractWorkflowId(contractId));
}

export async function signContractUpdate(
  client: Client,
  contractId: number,
  input: SignInput
): Promise<SignatureOutcome> {
  return contractHandle(client, contractId).executeUpdate(signUpdate, { args: [input] });
}

export async function confirmContractUpdate(
  client: Client,
  contractId: number,
  input: ConfirmManuallyInput
): Promise<SignatureOutcome> {
  return contractHandle(client, contractId).executeUpdate(confirmManuallyUpdate, { args: [input] });
}

export async function withdrawContractUpdate(
  client: Client,
  contractId: number,
  input: WithdrawInput
): Promise<WithdrawOutcome> {
  return contractHandle(client, contractId).executeUpdate(withdrawUpdate, { args: [input] });
}

export async function resendInvitationSignal(client: Client, contractId: number): Promise<void> {
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
