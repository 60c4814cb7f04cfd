/**
 * The outbox's mapping of command answers to its `outcome` and `error` columns, the counterpart of the API's status
 * table and the CLI's exit codes: a success writes the command's outcome; a refusal is the row's final answer
 * (`failed`, `<CODE>: <sentence>`), except "not yet" refusals, which leave the row claimed for the activity's retry.
 */
import type { CommandError, CommandErrorCode } from '../commands/errors';
import type { RowOutcome } from './outbox-repository';
import type { OutboxCommand, OutboxOutcome } from './types';

export const OUTCOME_OF: Record<OutboxCommand, OutboxOutcome> = {
  send: 'started',
  confirm: 'confirmed',
  withdraw: 'withdrawn',
  resend: 'resent',
};

/** `failed`: write it into the row; `retry`: leave the row for the next attempt (GIVE_UP_AFTER_ATTEMPTS bounds it). */
export const REFUSAL: Record<CommandErrorCode, 'failed' | 'retry'> = {
  VALIDATION_FAILED: 'failed',
  CONTRACT_NOT_FOUND: 'failed',
  CONTACT_NOT_FOUND: 'failed',
  SIGNATURE_REQUEST_NOT_FOUND: 'failed',
  CONTACT_EMAIL_INVALID: 'failed',
  CONTRACT_NOT_SENDABLE: 'failed',
  TEMPLATE_VALUE_MISSING: 'failed',
  WRONG_SIGNER: 'failed',
  SIGNATURE_ALREADY_CONFIRMED: 'failed',
  SIGNATURE_WITHDRAWN: 'failed',
  SIGNATURE_EXPIRED: 'failed',
  INVALID_SIGNATURE_INPUT: 'failed',
  MAIL_REJECTED: 'failed',
  CONTRACT_WORKFLOW_CLOSED: 'failed',
  STAFF_NOT_ALLOWED: 'failed',
  DOCUMENT_RENDER_FAILED: 'failed',
  CRM_MAPPING_INVALID: 'failed',
  IMAGE_TOO_LARGE: 'failed',
  // The document is still being prepared: a withdrawal or resend written a moment too early succeeds on a retry.
  SIGNATURE_NOT_READY: 'retry',
  // No worker answered in time: the row stays claimed and the next attempt asks again.
  NO_WORKER: 'retry',
};

export function failedRow(err: CommandError): RowOutcome {
  return { outcome: 'failed', error: `${err.code}: ${err.message}` };
}
