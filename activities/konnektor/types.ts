/**
 * Inputs and outputs of the Konnektor activities. Workflows import only these types. Payloads carry ids, hashes and
 * counters; document and signature bytes stay in the database.
 */

/** Which eHBA; unset = `konnektor.hbaIccsn` from the config, else the first HBA the Konnektor reports. */
export interface CardSelector {
  iccsn?: string;
}

export interface HbaCard {
  iccsn?: string;
  /** Valid only until the card is pulled; never persist it. */
  cardHandle: string;
  cardHolderName?: string;
  /** `YYYY-MM-DD` */
  certificateExpirationDate?: string;
  cardTerminalId?: string;
}

export interface ComfortSignatureStatus {
  iccsn?: string;
  /** The Konnektor offers SignatureService 7.5 (else only PIN-mode signing). */
  comfortSupported: boolean;
  /** Comfort signature switched on in the Konnektor. */
  comfortEnabled: boolean;
  /** Configured signatures per session (≤ 250). */
  comfortMax: number;
  /** Configured session duration in seconds (≤ 24 h). */
  comfortTimerSeconds: number;
  /** A comfort session of signflow's UserId exists with signatures and time left. */
  active: boolean;
  countRemaining: number;
  timeRemainingSeconds: number;
  /** ISO time signflow activated the session, when it did. */
  activatedAt?: string;
  /** ISO time of this check. */
  checkedAt: string;
}

export interface ActivateComfortSignatureInput extends CardSelector {
  /** Kontakt id of the staff member who started the activation (audit; the card holder enters the PIN). */
  staffContactId?: number;
}

export interface DeactivateComfortSignatureResult {
  iccsn?: string;
  /** gematik warning codes (4265 unknown handle, 4266 no session). */
  warnings: number[];
}

export interface ResetCardResult {
  iccsn?: string;
  cardTerminalId?: string;
  slotId?: number;
  /** RequestCard found the card already inserted again (the card holder was quicker than the terminal's prompt). */
  alreadyInserted: boolean;
}

/** One contract document to countersign. */
export interface CountersignItem {
  contractId: number;
  /** The contract workflow's id; with the document id it makes the deterministic request id. */
  workflowId: string;
  /** The contract document in the CRM's `dokumente`. */
  documentId: number;
}

export interface SignDocumentsInput extends CardSelector {
  items: CountersignItem[];
  /**
   * Signatures of this eHBA's calls started before this one and perhaps still on the card (the signer prepares its
   * next call while the card signs). The session's count read now may not include them yet, so they are taken off it:
   * never more is sent than the comfort session allows. What does not fit because of them comes back in `deferred`,
   * not as a failure. @default 0
   */
  ahead?: number;
}

export interface CountersignResult {
  /** `<workflowId>/qes/<documentId>`: the SignRequest's RequestID and the key of `signflow_qes`. */
  requestId: string;
  contractId: number;
  workflowId: string;
  documentId: number;
  variant: 'PAdES' | 'CAdES';
  signatureSha256: string;
  /** True when an earlier attempt had already signed and recorded it; nothing was signed again. */
  alreadySigned: boolean;
  /** The `dokumente` row the signature is stored in, when stored (`signDocuments` stores what it signs). */
  qesDocumentId?: number;
}

/** A contract document the Konnektor will not sign: only that contract's countersignature fails. */
export interface RejectedCountersign {
  requestId: string;
  contractId: number;
  workflowId: string;
  documentId: number;
  /** `DOCUMENT_TOO_LARGE`, `DOCUMENT_FORMAT_UNSUPPORTED` or `DOCUMENT_REJECTED`. */
  failureType: string;
  gematikCode?: number;
  /** What happened and what staff do. */
  message: string;
}

export interface SignDocumentsResult {
  /** One per signed input item, in input order. */
  signed: CountersignResult[];
  /** Items the Konnektor refuses on their own (size, format, content); the others are in `signed`. */
  rejected: RejectedCountersign[];
  /** SignDocument calls made by this attempt (0 when everything was already signed). */
  signDocumentCalls: number;
  /** Comfort signatures left after this batch, when known. */
  countRemaining?: number;
  /**
   * Request ids not signed because the signatures `ahead` may have used the session's rest: sign them after those
   * calls have answered (with nothing ahead, a session that is really used up fails as needs-a-person).
   */
  deferred?: string[];
}

export interface StoreCountersignatureInput {
  requestId: string;
}

export interface StoredCountersignature {
  requestId: string;
  contractId: number;
  /** The `dokumente` row holding the signature (CAdES .p7s or the PAdES-signed PDF), linked to the contract. */
  qesDocumentId: number;
  sha256: string;
  md5: string;
  variant: 'PAdES' | 'CAdES';
  /** True when an earlier attempt had stored it. */
  alreadyStored: boolean;
}

export type VerifyCountersignatureInput = { requestId: string } | { qesDocumentId: number };

export interface CountersignatureVerification {
  requestId: string;
  qesDocumentId?: number;
  /** The Konnektor's VerifyDocument answer. */
  highLevelResult: 'VALID' | 'INCONCLUSIVE' | 'INVALID';
  valid: boolean;
  /** The stored document's SHA-256 still equals the one recorded at signing. */
  storedHashMatches: boolean;
  verifiedAt: string;
}

/** The deterministic SignRequest id of a contract document. */
export function countersignRequestId(item: Pick<CountersignItem, 'workflowId' | 'documentId'>): string {
  return `${item.workflowId}/qes/${item.documentId}`;
}
