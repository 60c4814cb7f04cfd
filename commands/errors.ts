/**
 * The answers a contract command can refuse with, door-neutral: a code, a sentence for people and the ids that explain
 * it. No HTTP status and no exit code here: each door maps the codes in one table of its own (api/errors.ts,
 * cli/exit-codes.ts, outbox/outbox-outcomes.ts), and a test runs the same cases through all three.
 */
import { ErrorCode } from '../domain/errors';

/** The domain's codes (domain/errors.ts) plus those only a door's request can cause. */
export const CommandErrorCode = {
  ...ErrorCode,
  /** No signature request was ever started for this contract (no workflow). Start it first. */
  SIGNATURE_REQUEST_NOT_FOUND: 'SIGNATURE_REQUEST_NOT_FOUND',
  /**
   * The contract's last signature request ended in a way that forbids a new one by accident (signed or confirmed),
   * or ended without an outcome signflow recognises. Nothing was started. Read `status`; a signed contract is never
   * sent again.
   */
  CONTRACT_WORKFLOW_CLOSED: 'CONTRACT_WORKFLOW_CLOSED',
  /**
   * The contact named as staff may not act as staff on this contract: it is the contract's own freelancer, or the
   * CRM mapping names a staff marker (`contacts.staffMarker` column or `values.staffContactIds`) the contact lacks.
   * Nothing was done. Use a staff member's Kontakt id.
   */
  STAFF_NOT_ALLOWED: 'STAFF_NOT_ALLOWED',
  /**
   * No worker answered within `temporal.workerAnswerTimeout` (env `SIGNFLOW_WORKER_ANSWER_TIMEOUT`, default 10 s):
   * none is running, or all are stuck. Nothing was recorded by this call so far; `details.retryAfterSeconds` says when
   * to ask again. Temporal keeps an Update it has admitted, so a signature sent now may still be recorded (with the time
   * of this call) once a worker is back: a retry then answers SIGNATURE_ALREADY_CONFIRMED, and `GET /contracts/{id}`
   * shows the outcome. Admins: start a worker (`signflow worker`), see `signflow doctor`.
   */
  NO_WORKER: 'NO_WORKER',
  /** The drawn signature image is larger than `signature.maxImageBytes` (bytes) or a sane pixel size. Send less. */
  IMAGE_TOO_LARGE: 'IMAGE_TOO_LARGE',
} as const;

export type CommandErrorCode = (typeof CommandErrorCode)[keyof typeof CommandErrorCode];

export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly code: CommandErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {}
  ) {
    super(message);
  }
}

export function isCommandErrorCode(value: unknown): value is CommandErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(CommandErrorCode, value);
}

export const validationFailed = (message: string, details: Record<string, unknown> = {}): CommandError =>
  new CommandError(CommandErrorCode.VALIDATION_FAILED, message, details);
