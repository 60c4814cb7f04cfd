/**
 * Every rejection of the API is a 4xx with a machine-readable `code` and a sentence that says what is wrong. The
 * contract commands' codes (commands/errors.ts) are mapped to statuses in one table below; the API adds its own codes
 * only for transport-level problems (auth, media type, size, routes).
 */
import { type CommandErrorCode, type CommandError } from '../commands/errors';

/** Codes the API itself raises, in addition to the domain's `ErrorCode`. */
export const ApiErrorCode = {
  /** The body is not valid JSON. */
  INVALID_JSON: 'INVALID_JSON',
  /** The body is of a media type the route does not accept. Send `application/json`. */
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  /** No credentials were sent. Send `Authorization: Bearer <token>` or, for the CRM, the HMAC headers. */
  MISSING_CREDENTIALS: 'MISSING_CREDENTIALS',
  /** The bearer token is not one of the configured ones. */
  INVALID_CREDENTIALS: 'INVALID_CREDENTIALS',
  /** The HMAC signature does not match the timestamp and body, or HMAC is not configured. */
  INVALID_HMAC: 'INVALID_HMAC',
  /** The HMAC timestamp is missing, malformed or outside the replay window. Sign again with the current time. */
  HMAC_TIMESTAMP_OUT_OF_WINDOW: 'HMAC_TIMESTAMP_OUT_OF_WINDOW',
  /** This exact HMAC-signed request was already received. Sign every request anew. */
  HMAC_REPLAYED: 'HMAC_REPLAYED',
  /** The caller's role may not use this route (e.g. the portal confirming for staff). */
  ROLE_NOT_ALLOWED: 'ROLE_NOT_ALLOWED',
  /** The request body is larger than the configured limit. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** No route answers this method and path. */
  ROUTE_NOT_FOUND: 'ROUTE_NOT_FOUND',
  /** Temporal could not be reached or answered with an unexpected error. Retry later. */
  TEMPORAL_UNAVAILABLE: 'TEMPORAL_UNAVAILABLE',
  /** An unexpected error; the log has the details. */
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;

export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: ApiErrorCode | CommandErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly details?: Record<string, unknown>
  ) {
    super(message);
  }
}

/** The answer body of every rejection; `details` carries the ids (and e.g. a winning signature) when there are any. */
export interface ErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** The HTTP status of each command refusal; exhaustive, so a new code cannot be answered by accident. */
export const HTTP_STATUS: Record<CommandErrorCode, number> = {
  VALIDATION_FAILED: 400,
  CONTRACT_NOT_FOUND: 404,
  CONTACT_NOT_FOUND: 404,
  SIGNATURE_REQUEST_NOT_FOUND: 404,
  CONTACT_EMAIL_INVALID: 409,
  CONTRACT_NOT_SENDABLE: 409,
  TEMPLATE_VALUE_MISSING: 409,
  SIGNATURE_ALREADY_CONFIRMED: 409,
  SIGNATURE_WITHDRAWN: 409,
  SIGNATURE_EXPIRED: 409,
  SIGNATURE_NOT_READY: 409,
  CONTRACT_WORKFLOW_CLOSED: 409,
  MAIL_REJECTED: 409,
  WRONG_SIGNER: 422,
  INVALID_SIGNATURE_INPUT: 422,
  STAFF_NOT_ALLOWED: 422,
  DOCUMENT_RENDER_FAILED: 409,
  // A configuration fault of the installation: the caller cannot fix it, an admin can (signflow doctor).
  CRM_MAPPING_INVALID: 503,
  IMAGE_TOO_LARGE: 413,
  // No worker answered in time: the caller retries after `Retry-After` seconds.
  NO_WORKER: 503,
};

export function fromCommandError(err: CommandError): ApiError {
  const retryAfter = err.details.retryAfterSeconds;
  const headers: Record<string, string> = typeof retryAfter === 'number' ? { 'retry-after': String(retryAfter) } : {};
  return new ApiError(HTTP_STATUS[err.code], err.code, err.message, headers, err.details);
}
