/**
 * Every contract command, door-neutral: the HTTP API, the CLI and the outbox poller call these and nothing else to
 * start or message a contract workflow. Each command looks the contract up, checks what the workflow would refuse
 * anyway (so the caller gets the answer now, not a workflow that fails a moment later), calls the workflow, and
 * refuses with a CommandError (code, sentence, details). The doors only map codes to their own transport.
 */
import type { Client } from '@temporalio/client';
import type { Knex } from 'knex';
import {
  confirmContractUpdate,
  contractResult,
  contractStatus,
  recordDocumentView,
  resendInvitationSignal,
  signContractUpdate,
  startContractWorkflow,
  withdrawContractUpdate,
} from '../client/contract-client';
import { readContact, readContract, type CrmContract } from '../db/crm-repository';
import { checkContract } from '../domain/contract-validation';
import type { SignflowConfig } from '../temporal.config';
import {
  contractWorkflowId,
  type ContractState,
  type DocumentViewedInput,
  type SignatureMethod,
  type SignatureOutcome,
} from '../workflows/definitions';
import { CommandError, CommandErrorCode, validationFailed } from './errors';
import { idFromJson } from './ids';
import { checkSignaturePng } from './signature-image';
import { assertStaff } from './staff';
import { askWorkflow, describeContract, endedRejection, notStarted, phaseOf, withWorker } from './temporal-answers';
import { decideStart } from './start-policy';

export interface CommandDeps {
  config: SignflowConfig;
  client: Client;
  db: Knex;
}

export interface StartResult {
  contractId: number;
  workflowId: string;
  runId: string;
  /** True when the contract's request was already running and this call joined it. */
  joined: boolean;
}

/** Longest withdrawal reason kept in the audit trail. */
export const MAX_REASON_LENGTH = 500;

async function requireContract(deps: CommandDeps, contractId: number): Promise<CrmContract> {
  const contract = await readContract(deps.db, deps.config.crm, contractId);
  if (!contract) {
    throw new CommandError(CommandErrorCode.CONTRACT_NOT_FOUND, `contract ${contractId} does not exist in the CRM`, {
      contractId,
    });
  }
  return contract;
}

/**
 * Starts the contract's signature request, or joins the running one (idempotent). Refuses what the workflow's first
 * step would refuse (unknown contract or contact, bad e-mail address, status not sendable) with the same code, using
 * the same rule (domain/contract-validation.ts). A new request after one that ended withdrawn or expired is allowed
 * once the CRM has made the contract sendable again; never after a signature (start-policy.ts).
 */
export async function startContract(deps: CommandDeps, contractId: number): Promise<StartResult> {
  const { client, config, db } = deps;
  const workflowId = contractWorkflowId(contractId);
  // An unknown contract is answered from the CRM alone, without asking Temporal.
  const contract = await requireContract(deps, contractId);
  let running = await describeContract(client, contractId);
  if (running?.status.name === 'RUNNING') {
    const phase = await phaseOf(deps, contractId);
    if (phase !== 'withdrawn' && phase !== 'expired') {
      return { contractId, workflowId, runId: running.runId, joined: true };
    }
    // Ended (withdrawn or expired) and closing: wait for the close (a worker closes it), then decide as for any ended
    // request.
    await withWorker(deps, contractId, () => contractResult(client, contractId)).catch((err: unknown) => {
      if (err instanceof CommandError) throw err;
    });
    running = await describeContract(client, contractId);
  }
  const contact = await readContact(db, config.crm, contract.contactId);
  const sendable = config.crm.values.contractSendableStatuses;
  // The last run's end decides first: "already signed" says more than "status in Durchführung".
  const decision = await decideStart(deps, contract, running);
  const check = checkContract(contractId, contract, contact, sendable);
  if (!check.ok) {
    const hint =
      check.code === CommandErrorCode.CONTRACT_NOT_SENDABLE && decision.previousEnding
        ? ` Its last signature request ended ${decision.previousEnding}; to send it anew on purpose, set its status ` +
          `back to ${sendable.map((s) => `"${s}"`).join(' or ')} in the CRM, then start again.`
        : '';
    throw new CommandError(check.code, check.message + hint, { ...check.details });
  }
  const started = await startContractWorkflow(client, config, contractId, { requestKey: decision.requestKey });
  return { contractId, ...started, joined: started.runId === running?.runId };
}

export type StartOutcome = ({ ok: true } & StartResult) | { contractId: number; ok: false; error: Error };

/**
 * Starts many contracts with at most `concurrency` in flight; one refusal does not stop the others. Results keep the
 * input order. Errors that are not refusals (Temporal unreachable) are returned too; the door decides.
 */
export async function startContracts(
  deps: CommandDeps,
  ids: readonly number[],
  options: { concurrency: number; onDone?: (outcome: StartOutcome) => void }
): Promise<StartOutcome[]> {
  const results = new Array<StartOutcome>(ids.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < ids.length) {
      const index = next++;
      const contractId = ids[index] as number;
      let outcome: StartOutcome;
      try {
        outcome = { ok: true, ...(await startContract(deps, contractId)) };
      } catch (err) {
        outcome = { contractId, ok: false, error: err instanceof Error ? err : new Error(String(err)) };
      }
      results[index] = outcome;
      options.onDone?.(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, ids.length)) }, lane));
  return results;
}

/** The portal's signature input as any door receives it; checked here so every door refuses alike. */
export interface SignRequest {
  contactId: unknown;
  method: unknown;
  imagePngBase64?: unknown;
  /** The portal's client, for the audit trail (optional). */
  ip?: unknown;
  userAgent?: unknown;
}

const METHODS: readonly SignatureMethod[] = ['click', 'drawn'];

/** Signs on behalf of the contact (the portal's click or drawn PNG). */
export async function signContract(
  deps: CommandDeps,
  contractId: number,
  request: SignRequest
): Promise<SignatureOutcome> {
  // The time the signer acted is when the call arrived, not when a worker gets to it (it may be down for minutes).
  const actedAt = new Date().toISOString();
  const contactId = idFromJson(request.contactId, 'contactId');
  const facts = clientFacts(request);
  const method = request.method as SignatureMethod;
  if (!METHODS.includes(method)) {
    throw new CommandError(
      CommandErrorCode.INVALID_SIGNATURE_INPUT,
      `method must be "click" or "drawn", not ${JSON.stringify(request.method)}`,
      { contractId }
    );
  }
  let imagePngBase64: string | undefined;
  if (method === 'click' && request.imagePngBase64 !== undefined) {
    throw new CommandError(
      CommandErrorCode.INVALID_SIGNATURE_INPUT,
      'a click signature carries no image; send method "drawn" with an image',
      { contractId }
    );
  }
  if (method === 'drawn') {
    if (typeof request.imagePngBase64 !== 'string') {
      throw new CommandError(
        CommandErrorCode.INVALID_SIGNATURE_INPUT,
        'a drawn signature needs imagePngBase64 (a PNG, base64)',
        { contractId }
      );
    }
    imagePngBase64 = checkSignaturePng(request.imagePngBase64, deps.config.signature.maxImageBytes).bytes.toString(
      'base64'
    );
  }
  // Who may sign is the workflow's to say: it knows the contact the document was made for.
  await requireContract(deps, contractId);
  return askWorkflow(deps, contractId, () =>
    signContractUpdate(deps.client, contractId, { contactId, method, imagePngBase64, ...facts, actedAt })
  );
}

/** Staff confirm instead of the contact's signature. */
export async function confirmContract(
  deps: CommandDeps,
  contractId: number,
  staffContactIdInput: unknown
): Promise<SignatureOutcome> {
  const actedAt = new Date().toISOString();
  const staffContactId = idFromJson(staffContactIdInput, 'staffContactId');
  const contract = await requireContract(deps, contractId);
  await assertStaff(deps.db, deps.config.crm, staffContactId, contract);
  return askWorkflow(deps, contractId, () =>
    confirmContractUpdate(deps.client, contractId, { staffContactId, actedAt })
  );
}

export interface WithdrawRequest {
  staffContactId?: unknown;
  reason?: unknown;
}

export interface WithdrawResult {
  contractId: number;
  workflowId: string;
  result: 'withdrawn';
}

/**
 * Withdraws the signature request and answers what actually happened: `withdrawn`, or SIGNATURE_ALREADY_CONFIRMED
 * with the outcome in the details when a signature won the race. Refused while the request is still being prepared
 * (SIGNATURE_NOT_READY): accepting then would promise something that may not happen.
 */
export async function withdrawContract(
  deps: CommandDeps,
  contractId: number,
  request: WithdrawRequest = {}
): Promise<WithdrawResult> {
  const staffContactId =
    request.staffContactId === undefined || request.staffContactId === null
      ? undefined
      : idFromJson(request.staffContactId, 'staffContactId');
  const reason = request.reason ?? undefined;
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH)) {
    throw validationFailed(`reason must be a text of at most ${MAX_REASON_LENGTH} characters`, { contractId });
  }
  const contract = await requireContract(deps, contractId);
  if (staffContactId !== undefined) await assertStaff(deps.db, deps.config.crm, staffContactId, contract);
  await requireRunning(deps, contractId);
  const answer = await askWorkflow(deps, contractId, () =>
    withdrawContractUpdate(deps.client, contractId, { staffContactId, reason })
  );
  if (answer.result === 'already-signed') {
    throw new CommandError(
      CommandErrorCode.SIGNATURE_ALREADY_CONFIRMED,
      `contract ${contractId} was ${answer.outcome.kind} by contact ${answer.outcome.userContactId} at ` +
        `${answer.outcome.confirmedAt} before the withdrawal could take effect; the signature stands`,
      { contractId, outcome: answer.outcome }
    );
  }
  return { contractId, workflowId: contractWorkflowId(contractId), result: 'withdrawn' };
}

/** Phases in which the signature is valid or being recorded: nothing can remind any more. */
const SIGNED_PHASES = new Set([
  'recording',
  'countersigning',
  'waiting-for-comfort-signature',
  'confirming',
  'completed',
]);

async function requireRunning(deps: CommandDeps, contractId: number): Promise<void> {
  const description = await describeContract(deps.client, contractId);
  if (!description) throw notStarted(contractId);
  if (description.status.name !== 'RUNNING') throw endedRejection(contractId, await phaseOf(deps, contractId));
}

/**
 * Sends the contact the invitation again (as a reminder, or the invitation itself when the mail server refused it).
 * A signal, so the checks come first: the request must still wait for a signature.
 */
export async function resendInvitation(
  deps: CommandDeps,
  contractId: number
): Promise<{ contractId: number; workflowId: string }> {
  await requireContract(deps, contractId);
  await requireRunning(deps, contractId);
  const phase = await phaseOf(deps, contractId);
  if (phase && SIGNED_PHASES.has(phase)) throw endedRejection(contractId, phase);
  if (phase === 'withdrawn' || phase === 'expired') throw endedRejection(contractId, phase);
  if (phase === 'preparing') {
    throw new CommandError(
      CommandErrorCode.SIGNATURE_NOT_READY,
      `the signature request of contract ${contractId} is still being prepared; the invitation goes out by itself`,
      { contractId }
    );
  }
  await askWorkflow(deps, contractId, () => resendInvitationSignal(deps.client, contractId));
  return { contractId, workflowId: contractWorkflowId(contractId) };
}

/** Optional client facts the portal passes along for the audit trail (as seen by the portal, not verified). */
function clientFacts(request: { ip?: unknown; userAgent?: unknown }): Pick<DocumentViewedInput, 'ip' | 'userAgent'> {
  const text = (value: unknown, field: string, max: number): string | undefined => {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || value.length > max) {
      throw validationFailed(`${field} must be a text of at most ${max} characters`);
    }
    return value;
  };
  return { ip: text(request.ip, 'ip', 64), userAgent: text(request.userAgent, 'userAgent', 512) };
}

/**
 * The portal showed the document to the contact: the workflow counts the view (the first one is `contract.viewed`)
 * and audits it. A signal, so the checks come first: the request must exist and still run.
 */
export async function recordView(
  deps: CommandDeps,
  contractId: number,
  request: { contactId: unknown; ip?: unknown; userAgent?: unknown }
): Promise<{ contractId: number; workflowId: string }> {
  const contactId = idFromJson(request.contactId, 'contactId');
  const facts = clientFacts(request);
  await requireContract(deps, contractId);
  await requireRunning(deps, contractId);
  await askWorkflow(deps, contractId, () => recordDocumentView(deps.client, contractId, { contactId, ...facts }));
  return { contractId, workflowId: contractWorkflowId(contractId) };
}

/** The workflow's own view of the contract (query `status`), bounded like every call that needs a worker. */
export async function contractState(deps: CommandDeps, contractId: number): Promise<ContractState> {
  return withWorker(deps, contractId, () => contractStatus(deps.client, contractId));
}
