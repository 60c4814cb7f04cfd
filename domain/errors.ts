/**
 * Domain error codes. Each is used as the `type` of an `ApplicationFailure` (activities, workflow) and as the `code` of
 * an HTTP rejection, so one name travels from the database to the API's answer. Every code says when it is raised and
 * what the caller should do.
 */
export const ErrorCode = {
  /** The contract id does not exist in the CRM. Nothing was written. Fix the id; retrying will not help. */
  CONTRACT_NOT_FOUND: 'CONTRACT_NOT_FOUND',
  /** The contract's contact (Honorarkraft) does not exist. Nothing was written. Fix the contract in the CRM. */
  CONTACT_NOT_FOUND: 'CONTACT_NOT_FOUND',
  /** The contact has no syntactically valid e-mail address. Nothing was written. Fix the contact, then start again. */
  CONTACT_EMAIL_INVALID: 'CONTACT_EMAIL_INVALID',
  /**
   * The contract's status does not allow sending (not in `crm.values.contractSendableStatuses`), e.g. it is already
   * `in Durchführung`. Nothing was written. Change the status in the CRM if it really should be sent again.
   */
  CONTRACT_NOT_SENDABLE: 'CONTRACT_NOT_SENDABLE',
  /**
   * A mail or document template placeholder had no value for this contract (e.g. an empty title). Checked before the
   * first write, so nothing was written or sent: fix the contract in the CRM (or the template), then start again.
   */
  TEMPLATE_VALUE_MISSING: 'TEMPLATE_VALUE_MISSING',
  /**
   * The contract document cannot be rendered from the contract's data (a template or data problem other than a missing
   * value). Nothing was written. Fix the data or the template, then start again.
   */
  DOCUMENT_RENDER_FAILED: 'DOCUMENT_RENDER_FAILED',
  /** Someone other than the contact the document was made for tried to sign. Rejected; nothing changed. */
  WRONG_SIGNER: 'WRONG_SIGNER',
  /**
   * The signature is already `gültig` (signed or confirmed). Raised for retried, stale or concurrent duplicate
   * submissions so callers can resolve them idempotently: read the contract's state instead of retrying.
   */
  SIGNATURE_ALREADY_CONFIRMED: 'SIGNATURE_ALREADY_CONFIRMED',
  /** The signature request was withdrawn by staff; it can no longer be signed. Start a new request if needed. */
  SIGNATURE_WITHDRAWN: 'SIGNATURE_WITHDRAWN',
  /** The signature request expired; it can no longer be signed. Start a new request if needed. */
  SIGNATURE_EXPIRED: 'SIGNATURE_EXPIRED',
  /** The signing input is malformed (unknown method, missing or invalid PNG, image too large). Fix the request. */
  INVALID_SIGNATURE_INPUT: 'INVALID_SIGNATURE_INPUT',
  /** The signature request is not ready yet (document still being prepared). Retry in a moment. */
  SIGNATURE_NOT_READY: 'SIGNATURE_NOT_READY',
  /**
   * The SMTP server permanently refused a mail (5xx reply to the recipient or the message, e.g. `550 mailbox
   * unavailable`). Nothing was delivered and the mail is not recorded as sent. Retrying sends the same mail to the same
   * server and gets the same answer: fix the contact's address (or ask the mail admin), then start the step again.
   */
  MAIL_REJECTED: 'MAIL_REJECTED',
  /**
   * The CRM database lacks a table or column the mapping names (MySQL `ER_BAD_FIELD_ERROR`/`ER_NO_SUCH_TABLE`, SQLite
   * "no such column"): a configuration fault, not a passing one, so it is not retried. The message names the column.
   * Fix the CRM schema or `SIGNFLOW_CRM_MAPPING` (`signflow doctor` lists every mismatch), then start the contract
   * again.
   */
  CRM_MAPPING_INVALID: 'CRM_MAPPING_INVALID',
  /**
   * The request is malformed: an id that is not a positive decimal integer (no sign, space, exponent, hex or
   * fraction), a value of the wrong type, a missing required field, an unknown outbox command. Nothing was done.
   * Fix the request; retrying it unchanged gives the same answer.
   */
  VALIDATION_FAILED: 'VALIDATION_FAILED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The workflow failures that mean "bad input, changed nothing": non-retryable everywhere. */
export const NON_RETRYABLE_INPUT_ERRORS: ErrorCode[] = [
  ErrorCode.CONTRACT_NOT_FOUND,
  ErrorCode.CONTACT_NOT_FOUND,
  ErrorCode.CONTACT_EMAIL_INVALID,
  ErrorCode.CONTRACT_NOT_SENDABLE,
  ErrorCode.TEMPLATE_VALUE_MISSING,
  ErrorCode.DOCUMENT_RENDER_FAILED,
];
