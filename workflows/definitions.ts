/**
 * Names shared by the workflow, the worker and every client (API, CLI, tests): message definitions, search-attribute
 * keys, the task queue and the workflow id scheme. Sandbox-safe: imports only @temporalio/workflow's definition helpers.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { KonnektorActivities } from '../activities/konnektor/konnektor.activities';

export const TASK_QUEUE = 'signflow';

/**
 * The build id the worker gives the Temporal server (a Worker Deployment version, `useWorkerVersioning: false`: no
 * routing, tasks go to any worker of the queue as before; `worker/workflow-build.ts`). The server records it with every
 * workflow task the worker completes, and the SDK hands the recorded one back on replay
 * (`workflowInfo().currentDeploymentVersion`), so a workflow can tell deterministically which code ran its first task:
 * a version chosen by the code that took the start, not by the client. `honorarvertrag` takes its markerless path
 * (no `patched()` call, so no marker and no `TemporalChangeVersion` upsert) when that code was generation 2 or later.
 * Raise the number with a workflow change that new contracts take this way (and keep every older branch); a worker
 * whose server does not record build ids sends none (generation 0: the patched path).
 */
export const WORKFLOW_CODE_GENERATION = 5;
export const WORKER_DEPLOYMENT_NAME = 'signflow';
const BUILD_ID_PREFIX = 'signflow-workflows-';
export const WORKFLOW_BUILD_ID = `${BUILD_ID_PREFIX}${WORKFLOW_CODE_GENERATION}`;

/** The generation of a build id written by `WORKFLOW_BUILD_ID`; 0 for none or any other (the SDK's default id). */
export function workflowCodeGeneration(buildId: string | undefined): number {
  if (!buildId?.startsWith(BUILD_ID_PREFIX)) return 0;
  const n = buildId.slice(BUILD_ID_PREFIX.length);
  return /^[1-9]\d{0,5}$/.test(n) ? Number(n) : 0;
}

/**
 * The activities that talk to the Konnektor (card lookup, signature mode, comfort-signature activation, SignDocument
 * batches, VerifyDocument). With a Konnektor task queue configured (`SIGNFLOW_KONNEKTOR_TASK_QUEUE`, or a Mandant's in
 * `SIGNFLOW_KONNEKTOR_MANDANTEN`) only the on-site worker in the practice network registers them
 * (`signflow konnektor-worker`); the main worker then runs none of them. Storing a countersignature is a database write
 * and stays on the main queue.
 */
export const KONNEKTOR_ACTIVITY_NAMES = [
  'findHbaCard',
  'getSignatureMode',
  'activateComfortSignature',
  'deactivateComfortSignature',
  'signDocuments',
  'verifyDocument',
] as const satisfies readonly (keyof KonnektorActivities)[];

export type KonnektorActivityName = (typeof KONNEKTOR_ACTIVITY_NAMES)[number];

/** Readable and unique per contract: ops find a contract in the UI by its CRM id. */
export function contractWorkflowId(contractId: number): string {
  return `honorarvertrag-${contractId}`;
}

/** No personal data in search attributes: ids and status labels only. */
export const SA_CRM_CONTRACT_ID = defineSearchAttributeKey('CrmContractId', SearchAttributeType.INT);
export const SA_CONTRACT_STATUS = defineSearchAttributeKey('ContractStatus', SearchAttributeType.KEYWORD);
export const SA_SIGNATURE_STATUS = defineSearchAttributeKey('SignatureStatus', SearchAttributeType.KEYWORD);
export const SA_WAITING_REASON = defineSearchAttributeKey('WaitingReason', SearchAttributeType.KEYWORD);

/** `temporal operator search-attribute create` arguments, for the dev server and a real cluster. */
export const SEARCH_ATTRIBUTES: Record<string, 'Int' | 'Keyword'> = {
  CrmContractId: 'Int',
  ContractStatus: 'Keyword',
  SignatureStatus: 'Keyword',
  WaitingReason: 'Keyword',
};

/** Values of the `WaitingReason` search attribute; empty when the workflow waits for nothing. */
export type WaitingReason = 'signature' | 'comfort-signature' | 'countersignature' | 'none';

export type SignatureMethod = 'click' | 'drawn';

/** Timing of one contract's signature request; resolved from the config by whoever starts the workflow. */
export interface SignatureTimingOptions {
  remindersEnabled: boolean;
  /** ms from the invitation to the first reminder */
  reminderDelayMs: number;
  /** ms between reminders */
  reminderIntervalMs: number;
  reminderMax: number;
  /** ms from the invitation until the signature request expires */
  expiryMs: number;
}

/** The CRM's status labels (config `crm.values`), so search attributes show what the CRM shows. */
export interface StatusLabels {
  contractSent: string;
  contractInProgress: string;
  signaturePending: string;
  signatureValid: string;
  signatureWithdrawn: string;
  signatureExpired: string;
}

/** How the practice countersigns (QES with the eHBA's comfort signature); resolved from `config.konnektor`. */
export interface QesOptions {
  /** Workflow id of the eHBA's signing workflow (`qesSignerWorkflowId(iccsn)`). */
  signerWorkflowId: string;
  /** eHBA ICCSN; unset = the configured or first HBA. */
  iccsn?: string;
  /** Most documents per SignDocument call. */
  batchSize: number;
  /** ms between GetSignatureMode checks while parked. */
  recheckIntervalMs: number;
}

export interface ContractWorkflowInput {
  contractId: number;
  /**
   * Idempotency key of this request's writes (prepared request, mails, audit); unset = the workflow id. A new request
   * after a withdrawn or expired one gets its own (`<workflowId>#<n>`, commands/start-policy.ts).
   */
  requestKey?: string;
  timing: SignatureTimingOptions;
  labels: StatusLabels;
  /** Countersign with a QES through the Konnektor after confirmation. */
  countersign: boolean;
  /** Required when `countersign` is true. */
  qes?: QesOptions;
  /**
   * The webhook event types some endpoint subscribes to (config `webhooks.endpoints`, when the workflow started). From
   * `patched('lean-contract-path')` on, an event not listed starts no delivery activity. Unset (inputs from before
   * this field) = every event is delivered, as before.
   */
  webhookEvents?: string[];
}

/** Update `sign`: the portal, on behalf of the logged-in contact. */
export interface SignInput {
  /** The logged-in contact (Kontakt id); must be the contact the document was made for. */
  contactId: number;
  method: SignatureMethod;
  /** Base64 PNG, required for `drawn`, forbidden for `click`. An all-white image is valid. */
  imagePngBase64?: string;
  /** The client's IP address as the portal saw it (optional; audit trail and Prüfprotokoll). */
  ip?: string;
  /** The client's user agent as the portal saw it (optional). */
  userAgent?: string;
  /**
   * ISO time the signer acted, taken by the door (API, CLI, outbox) when the call arrived; recorded as the signing
   * time, bounded by the workflow (not before the request was prepared, not after the workflow's now). Unset (callers
   * of earlier versions): the time the workflow handles the Update.
   */
  actedAt?: string;
}

/** Update `confirmManually`: staff confirm instead of the contact. */
export interface ConfirmManuallyInput {
  /** The staff member's Kontakt id. */
  staffContactId: number;
  /** ISO time staff confirmed, taken by the door; bounded and recorded like `SignInput.actedAt`. */
  actedAt?: string;
}

export interface SignatureOutcome {
  kind: 'signed' | 'confirmed';
  signatureId: number;
  /** Kontakt id written as the signature's user and the contract's confirmed-by. */
  userContactId: number;
  method: SignatureMethod | 'staff';
  /** ISO timestamp of the confirmation. */
  confirmedAt: string;
  md5Hash: string;
}

/**
 * Signal `documentViewed`: the portal showed the document to the contact (the dev portal page and
 * `POST /contracts/{id}/views`). The first view of the contact the document was made for is `contract.viewed`; every
 * view is in the audit trail. IP address and user agent are the client's, as the portal passes them; never required.
 */
export interface DocumentViewedInput {
  contactId: number;
  /** The client's IP address as the portal saw it (max 64 characters). */
  ip?: string;
  /** The client's user agent as the portal saw it (max 512 characters). */
  userAgent?: string;
}

export interface WithdrawInput {
  /** Staff member's Kontakt id, for the audit trail. */
  staffContactId?: number;
  reason?: string;
}

/** What a withdrawal actually did: the request ended, or a signature won the race and stands. */
export type WithdrawOutcome =
  | { result: 'withdrawn' }
  | {
      result: 'already-signed';
      /** The signature (or staff confirmation) recorded before the withdrawal could take effect. */
      outcome: SignatureOutcome;
    };

export interface ComfortSignatureReactivatedInput {
  /** Card handle or ICCSN the staff re-activated; empty = any. */
  cardHandle?: string;
  /**
   * What the activation itself read: the GetSignatureMode that `activateComfortSignature` asks right after
   * ActivateComfortSignature answered `COMFORT`. When it says the session is active with signatures left, the parked
   * signer (patch `qes-resume-on-activation`) skips its own GetSignatureMode and sends its first batch at once: that
   * batch's `signDocuments` asks GetSignatureMode before SignDocument anyway, and a session that ended in between
   * fails it before anything is signed (the signer then stays parked, as after its own check). Unset (callers of
   * earlier versions, a bare signal): the signer checks first, as before.
   */
  activation?: { active: boolean; countRemaining: number; checkedAt: string };
}

/** The reactivation signal after an activation: its card, and what the activation read of the session. */
export function reactivatedAfter(activation: {
  iccsn?: string;
  active: boolean;
  countRemaining: number;
  checkedAt: string;
}): ComfortSignatureReactivatedInput {
  const { iccsn, active, countRemaining, checkedAt } = activation;
  return { ...(iccsn ? { cardHandle: iccsn } : {}), activation: { active, countRemaining, checkedAt } };
}

export type ContractPhase =
  | 'preparing'
  | 'sending'
  | 'awaiting-signature'
  | 'recording'
  | 'countersigning'
  | 'waiting-for-comfort-signature'
  | 'confirming'
  | 'completed'
  | 'withdrawn'
  | 'expired'
  /** The workflow failed (or was cancelled) before a signature; its request was undone (see `revertSignatureRequest`). */
  | 'reverted';

/** A mail that could not be sent yet (SMTP outage): what the last attempt said and when the next one runs. */
export interface MailTrouble {
  /** e.g. `invitation`, `reminder:2`, `confirmation`. */
  mail: string;
  attempts: number;
  /** Failure type and message of the last attempt (ids and SMTP codes only). */
  lastError: string;
  /** ISO time of the first attempt. */
  since: string;
  /** ISO time of the next attempt. */
  nextRetryAt: string;
}

/** Query `status`: the contract's state at any time. */
export interface ContractState {
  contractId: number;
  phase: ContractPhase;
  contactId?: number;
  documentId?: number;
  signatureId?: number;
  /** ISO time the invitation was sent. */
  sentAt?: string;
  remindersSent: number;
  /** ISO time of the next reminder, if one is scheduled. */
  nextReminderAt?: string;
  /** ISO time the request expires. */
  expiresAt?: string;
  outcome?: SignatureOutcome;
  /** Why the contract is parked, e.g. the gematik error code of a comfort-signature fault. */
  waitingDetail?: string;
  /** Document id of the practice's QES countersignature. */
  qesDocumentId?: number;
  /** Why the QES countersignature failed for this contract's document (`<code> (gematik n): what to do`). */
  countersignFailure?: string;
  /**
   * Mails the recipient's server refused for good (MAIL_REJECTED), e.g. `invitation`, `reminder:2`, `invitation:2` (an
   * invitation sent again after a refusal). Each also has a row with status `refused` in `signflow_mails`.
   */
  mailsRejected?: string[];
  /**
   * False while no invitation has reached the contact's mail server (the first was refused): `resend` then sends the
   * invitation again instead of a reminder. Unset in histories from before `patched('resend-refused-invitation')`.
   */
  invitationDelivered?: boolean;
  /** The reason staff gave for the withdrawal (also in the audit row `signature-withdrawn`). */
  withdrawalReason?: string;
  /** What became of the withdrawal mail to the contact: `sent`, `rejected`, `skipped` (switched off), `failed`. */
  withdrawalMail?: 'sent' | 'rejected' | 'skipped' | 'failed';
  /** Invitations or reminders not sent because the request was over by then (signed, withdrawn, expired). */
  mailsSkipped?: string[];
  /** Set while a mail waits for its next attempt after a transient failure; cleared once it is sent. */
  mailTrouble?: MailTrouble;
  /** Document id of the completion certificate (Prüfprotokoll), once it is stored. */
  certificateDocumentId?: number;
  /** How often the contact opened the document in the portal. */
  views?: number;
  /** ISO time of the first view. */
  firstViewedAt?: string;
}

/** What the workflow returns: the contract's outcome in one object. */
export interface ContractResult {
  contractId: number;
  outcome: 'signed' | 'confirmed' | 'withdrawn' | 'expired';
  documentId: number;
  signatureId: number;
  remindersSent: number;
  signature?: SignatureOutcome;
  qesDocumentId?: number;
}

/** One signing workflow per eHBA collects the countersign requests of all contracts and signs them in batches. */
export function qesSignerWorkflowId(iccsn: string | undefined): string {
  return `qes-signer-${iccsn ?? 'default'}`;
}

/** A contract's document waiting for the practice's QES. */
export interface CountersignRequest {
  contractId: number;
  /** The contract workflow, which gets the answer. */
  workflowId: string;
  documentId: number;
}

/** Sent by the signing workflow to a contract workflow. */
export type CountersignProgress =
  | {
      kind: 'signed';
      requestId: string;
      /** The `dokumente` row the signer already stored the countersignature in (signers with `qes-sign-ahead`). */
      qesDocumentId?: number;
    }
  | {
      kind: 'parked';
      /** ApplicationFailure type, e.g. COMFORT_SIGNATURE_EXPIRED. */
      failureType: string;
      gematikCode?: number;
      /** What staff must do. */
      message: string;
    }
  | { kind: 'resumed' }
  | {
      /** The Konnektor will not sign this document (size, format, content): only this countersignature fails. */
      kind: 'rejected';
      requestId: string;
      /** DOCUMENT_TOO_LARGE, DOCUMENT_FORMAT_UNSUPPORTED or DOCUMENT_REJECTED. */
      failureType: string;
      gematikCode?: number;
      /** What happened and what staff do. */
      message: string;
    };

export interface QesSignerInput {
  iccsn?: string;
  batchSize: number;
  recheckIntervalMs: number;
  /**
   * ms a parking may last before staff get a second mail (`staff.parkedReminderAfter`); unset = no second mail (a
   * signer started before this setting existed).
   */
  staffReminderAfterMs?: number;
  /**
   * Task queue of the on-site worker in the practice network that runs this eHBA's Konnektor activities
   * (`KONNEKTOR_ACTIVITY_NAMES`); unset = the signer's own queue (one worker for everything).
   */
  konnektorTaskQueue?: string;
  /** Requests carried over by continue-as-new. */
  pending?: CountersignRequest[];
}

export interface QesSignerState {
  pending: number;
  signed: number;
  /** Documents the Konnektor would not sign (their contracts were told). */
  rejected?: number;
  signDocumentCalls: number;
  parked?: { failureType: string; gematikCode?: number; message: string; since: string };
}

export const countersignRequestedSignal = defineSignal<[CountersignRequest]>('countersignRequested');
export const countersignProgressSignal = defineSignal<[CountersignProgress]>('countersignProgress');
export const qesSignerStatusQuery = defineQuery<QesSignerState>('status');

export const signUpdate = defineUpdate<SignatureOutcome, [SignInput]>('sign');
export const confirmManuallyUpdate = defineUpdate<SignatureOutcome, [ConfirmManuallyInput]>('confirmManually');
/** Withdraw and learn what happened (Update); the `withdraw` signal stays for callers of earlier versions. */
export const withdrawUpdate = defineUpdate<WithdrawOutcome, [WithdrawInput]>('withdrawRequest');
export const withdrawSignal = defineSignal<[WithdrawInput?]>('withdraw');
export const resendSignal = defineSignal<[]>('resend');
export const documentViewedSignal = defineSignal<[DocumentViewedInput]>('documentViewed');
export const comfortSignatureReactivatedSignal =
  defineSignal<[ComfortSignatureReactivatedInput?]>('comfortSignatureReactivated');
export const statusQuery = defineQuery<ContractState>('status');

/**
 * Message of the contract workflow's one log line when it ends with a domain code (`code` in its metadata); the
 * worker's logger then leaves out the SDK's `Workflow failed` line with the stack (logging/logger.ts).
 */
export const CONTRACT_FAILED_LOG = 'contract failed';
