/**
 * Inputs and outputs of every activity. Workflows import only these types (and `typeof` the factory's result), never
 * the implementations. Payloads carry ids and hashes, not document bytes or personal data, except the drawn image that
 * the signer sends and that must reach the database.
 */
import type { SignatureMethod, SignatureOutcome } from '../workflows/definitions';

export interface ContractRef {
  contractId: number;
  /** Idempotency key of every write: one signature request per workflow id. */
  workflowId: string;
}

export interface ContractSnapshot {
  contractId: number;
  contactId: number;
  status: string;
  /** True when this workflow already prepared the request (a retry or a replayed start after a crash). */
  alreadyPrepared: boolean;
}

export interface PreparedRequest {
  contractId: number;
  contactId: number;
  documentId: number;
  signatureId: number;
  documentMd5: string;
  documentSha256: string;
  /** ISO time written as the contract's last status change (`versendet`). */
  sentAt: string;
}

/** `withdrawal`: tells the contact that the request was withdrawn (`SIGNFLOW_WITHDRAWAL_MAIL_ENABLED`). */
export type MailKind = 'invitation' | 'reminder' | 'confirmation' | 'withdrawal';

export interface SendMailInput extends ContractRef {
  kind: MailKind;
  documentId: number;
  /**
   * 1-based number of the reminder (kind `reminder`), or of the invitation when it is sent again after a refusal
   * (kind `invitation`, 2 and up); part of the idempotency key.
   */
  sequence?: number;
  /**
   * The confirmation's Prüfprotokoll, as the workflow stored it (`createCompletionCertificate`), so the mail attaches
   * it without looking it up in the audit trail; unset for other mails and in confirmations scheduled before this
   * field existed (those look it up).
   */
  certificateDocumentId?: number;
}

export interface SendMailResult {
  /** `<workflowId>:<kind>[:<sequence>]`, unique in `signflow_mails`. */
  mailKey: string;
  messageId: string;
  /** True when a previous attempt had already sent this mail; nothing was sent again. */
  alreadySent: boolean;
  /**
   * Set when nothing was sent: `request-closed` when the mail was no longer true (the signature is no longer pending),
   * `disabled` when the configuration switches this kind off (the withdrawal mail).
   */
  skipped?: 'request-closed' | 'disabled';
}

export interface RecordSignatureInput extends ContractRef {
  signatureId: number;
  contactId: number;
  method: SignatureMethod;
  imagePngBase64?: string;
  /** ISO time the workflow accepted the signature; goes into the MD5 canonical form. */
  signedAt: string;
  /** The portal's client as the portal passed it (optional): audit trail only, not hashed. */
  ip?: string;
  userAgent?: string;
  /**
   * The `sign` Update's id, passed by a workflow that records with a local activity (generation 3 on): a re-run of the
   * same Update after a lost workflow task returns what it recorded, even with a later `signedAt`. Audit trail only.
   */
  updateId?: string;
}

export interface RecordConfirmationInput extends ContractRef {
  signatureId: number;
  staffContactId: number;
  /** ISO time the workflow accepted the confirmation. */
  confirmedAt: string;
  /** The `confirmManually` Update's id (generation 3 on); see `RecordSignatureInput.updateId`. */
  updateId?: string;
}

export interface VoidSignatureInput extends ContractRef {
  signatureId: number;
  reason: 'withdrawn' | 'expired';
  /** ISO time of the decision. */
  at: string;
  staffContactId?: number;
  /**
   * The reason staff gave for a withdrawal (free text, at most 500 characters), written into the audit row
   * (`signflow_audit_events.detail.reason`) where the CRM reads it.
   */
  withdrawalReason?: string;
}

export interface RevertSignatureInput extends ContractRef {
  /** The failure type or `cancelled`, for the audit trail. */
  reason: string;
  /** ISO time of the decision. */
  at: string;
}

export interface VoidSignatureResult {
  /** `already-valid`: the signature was `gültig` and stays so (confirmed signatures never change). */
  result: 'voided' | 'already-voided' | 'already-valid';
}

export type { SignatureOutcome };

/** Why the eHBA's signer parked, as the staff mail tells it. No personal data: types, codes and counts. */
export interface SignerParkedNoticeInput {
  /** The signer's workflow id (`qes-signer-<iccsn|default>`); with `parkedSince` and `notice` the mail's key. */
  signerWorkflowId: string;
  iccsn?: string;
  /** ApplicationFailure type, e.g. COMFORT_SIGNATURE_EXPIRED. */
  failureType: string;
  gematikCode?: number;
  /** ISO time the signer parked: one parking, one pair of mails. */
  parkedSince: string;
  /** Contracts waiting for the countersignature now. */
  waiting: number;
  /** `parked`: the first mail of a parking; `still-parked`: the one reminder after the configured wait. */
  notice: 'parked' | 'still-parked';
}

export interface SignerParkedNoticeResult {
  /** `sent`, `already-sent` (a retry), or `no-staff-address` (`SIGNFLOW_STAFF_MAIL` unset: nothing to do). */
  result: 'sent' | 'already-sent' | 'no-staff-address';
  mailKey?: string;
}
