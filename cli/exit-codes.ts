import type { CommandErrorCode } from '../commands/errors';

/**
 * Exit codes of `signflow`, part of its contract with scripts (documented in docs/cli.md). Stable: add, never renumber.
 */
export const ExitCode = {
  /** Done as asked. */
  OK: 0,
  /**
   * The domain said no: wrong signer, already signed, withdrawn, expired, not sendable, a signature hash that does not
   * match (`verify`), or some contracts of a `bulk`/`start` run were refused.
   */
  REJECTED: 1,
  /** The command line is wrong: unknown verb or option, a malformed id, a missing file. Nothing was done. */
  USAGE: 2,
  /** The contract, its workflow or the signature does not exist. */
  NOT_FOUND: 3,
  /** Temporal, the database or the Konnektor could not be reached, or did not answer in time. */
  UNAVAILABLE: 4,
  /** The configuration (environment) is invalid; the message names the variable. */
  CONFIG: 5,
  /** Not yet possible, but will be: e.g. the document is still being prepared. Try again shortly. */
  RETRY_LATER: 6,
  /** A bug in signflow (sysexits' EX_SOFTWARE). The message and `--json` details help the report. */
  INTERNAL: 70,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An error the CLI knows how to present: a stable machine-readable `code` (an ErrorCode of domain/errors.ts where one
 * applies), a sentence for people, and the exit code.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly exitCode: ExitCode,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>
  ) {
    super(message);
  }
}

export const usageError = (message: string): CliError => new CliError(ExitCode.USAGE, 'USAGE', message);

/** The exit code of each contract-command refusal (commands/errors.ts); exhaustive, like the API's status table. */
export const EXIT_CODE: Record<CommandErrorCode, ExitCode> = {
  VALIDATION_FAILED: ExitCode.USAGE,
  CONTRACT_NOT_FOUND: ExitCode.NOT_FOUND,
  CONTACT_NOT_FOUND: ExitCode.NOT_FOUND,
  SIGNATURE_REQUEST_NOT_FOUND: ExitCode.NOT_FOUND,
  SIGNATURE_NOT_READY: ExitCode.RETRY_LATER,
  CONTACT_EMAIL_INVALID: ExitCode.REJECTED,
  CONTRACT_NOT_SENDABLE: ExitCode.REJECTED,
  TEMPLATE_VALUE_MISSING: ExitCode.REJECTED,
  WRONG_SIGNER: ExitCode.REJECTED,
  SIGNATURE_ALREADY_CONFIRMED: ExitCode.REJECTED,
  SIGNATURE_WITHDRAWN: ExitCode.REJECTED,
  SIGNATURE_EXPIRED: ExitCode.REJECTED,
  INVALID_SIGNATURE_INPUT: ExitCode.REJECTED,
  MAIL_REJECTED: ExitCode.REJECTED,
  CONTRACT_WORKFLOW_CLOSED: ExitCode.REJECTED,
  STAFF_NOT_ALLOWED: ExitCode.REJECTED,
  DOCUMENT_RENDER_FAILED: ExitCode.REJECTED,
  CRM_MAPPING_INVALID: ExitCode.CONFIG,
  IMAGE_TOO_LARGE: ExitCode.REJECTED,
  NO_WORKER: ExitCode.UNAVAILABLE,
};
