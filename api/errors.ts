/**
 * Every rejection of the API is a 4xx with a machine-readable `code` and a sentence that says what is wrong. Workflow
 * rejections keep the domain's `ErrorCode` (the validator's ApplicationFailure type), so one name travels from the
 * workflow to the caller; the API adds its own codes for transport-level problems (auth, validation, size).
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ErrorCode } from '../domain/errors';
import type { ContractPhase } from '../workflows/definitions';

/** Codes the API itself raises, in addition to the domain's `ErrorCode`. */
export const ApiErrorCode = {
  /** The request does not match the route's schema (path, query or body). Fix the request. */
  VALIDATION_FAILED: 'VALIDATION_FAILED',
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
  /** The drawn signature image is larger than `signature.maxImageBytes` (bytes or pixels). */
  IMAGE_TOO_LARGE: 'IMAGE_TOO_LARGE',
  /** No route answers this method and path. */
  ROUTE_NOT_FOUND: 'ROUTE_NOT_FOUND',
  /** No signature request was started for this contract yet (no workflow). Start it first. */
  SIGNATURE_REQUEST_NOT_FOUND: 'SIGNATURE_REQUEST_NOT_FOUND',
  /** The contract's workflow has finished; it can neither be restarted by accident nor receive messages. */
  CONTRACT_WORKFLOW_CLOSED: 'CONTRACT_WORKFLOW_CLOSED',
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
    readonly code: ApiErrorCode | ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {}
  ) {
    super(message);
  }
}

/** The answer body of every rejection. */
export interface ErrorBody {
  code: string;
  message: string;
}

/** HTTP status and a sentence for each workflow rejection that can reach a door. */
const WORKFLOW_REJECTIONS: Partial<Record<ErrorCode, { status: number; sentence: (contractId: number) => string }>> = {
  [ErrorCode.WRONG_SIGNER]: {
    status: 422,
    sentence: (id) => `contract ${id} was not made for this contact; only its own contact may sign it`,
  },
  [ErrorCode.INVALID_SIGNATURE_INPUT]: {
    status: 422,
    sentence: (id) => `the signature input for contract ${id} is invalid`,
  },
  [ErrorCode.SIGNATURE_ALREADY_CONFIRMED]: {
    status: 409,
    sentence: (id) => `the signature of contract ${id} is already valid and can no longer change`,
  },
  [ErrorCode.SIGNATURE_WITHDRAWN]: {
    status: 409,
    sentence: (id) => `the signature request of contract ${id} was withdrawn and can no longer be signed`,
  },
  [ErrorCode.SIGNATURE_EXPIRED]: {
    status: 409,
    sentence: (id) => `the signature request of contract ${id} has expired and can no longer be signed`,
  },
  [ErrorCode.SIGNATURE_NOT_READY]: {
    status: 409,
    sentence: (id) => `the signature request of contract ${id} is still being prepared; retry in a moment`,
  },
  [ErrorCode.CONTRACT_NOT_FOUND]: { status: 404, sentence: (id) => `contract ${id} does not exist in the CRM` },
  [ErrorCode.CONTRACT_NOT_SENDABLE]: {
    status: 409,
    sentence: (id) => `contract ${id} is in a status that does not allow sending`,
  },
};

function isErrorCode(value: string | undefined | null): value is ErrorCode {
  return value != null && Object.prototype.hasOwnProperty.call(ErrorCode, value);
}

/**
 * Builds the answer for a workflow rejection. The workflow's own message is the more precise sentence; our own is the
 * fallback when there is none, or when the payload codec left it encrypted ("Encoded failure").
 */
export function workflowRejection(code: ErrorCode, contractId: number, detail?: string): ApiError {
  const known = WORKFLOW_REJECTIONS[code];
  const base = known ? known.sentence(contractId) : `the workflow of contract ${contractId} rejected the request`;
  const usable = detail !== undefined && detail.trim() !== '' && detail !== 'Encoded failure';
  return new ApiError(known?.status ?? 409, code, usable ? detail : base);
}

/** A finished workflow cannot take messages: say why in the domain's words. */
export function closedWorkflowRejection(contractId: number, phase: ContractPhase | undefined): ApiError {
  switch (phase) {
    case 'withdrawn':
      return workflowRejection(ErrorCode.SIGNATURE_WITHDRAWN, contractId);
    case 'expired':
      return workflowRejection(ErrorCode.SIGNATURE_EXPIRED, contractId);
    case 'completed':
      return workflowRejection(ErrorCode.SIGNATURE_ALREADY_CONFIRMED, contractId);
    default:
      return new ApiError(
        409,
        ApiErrorCode.CONTRACT_WORKFLOW_CLOSED,
        `the workflow of contract ${contractId} has finished (${phase ?? 'unknown outcome'}); it takes no more messages`
      );
  }
}

/**
 * Maps what a Temporal call threw to an API answer. `closedPhase` is asked only when the workflow turned out to be
 * missing or closed, to tell "never started" from "finished".
 */
export async function mapTemporalError(
  err: unknown,
  contractId: number,
  closedPhase: () => Promise<ContractPhase | 'not-found' | undefined>
): Promise<ApiError> {
  if (err instanceof ApiError) return err;
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure && isErrorCode(cause.type)) {
      return workflowRejection(cause.type, contractId, cause.message);
    }
    return new ApiError(
      409,
      ApiErrorCode.CONTRACT_WORKFLOW_CLOSED,
      `the workflow of contract ${contractId} rejected the request: ${cause?.message ?? err.message}`
    );
  }
  if (err instanceof WorkflowNotFoundError) {
    const phase = await closedPhase().catch(() => undefined);
    if (phase === 'not-found') {
      return new ApiError(
        404,
        ApiErrorCode.SIGNATURE_REQUEST_NOT_FOUND,
        `no signature request was started for contract ${contractId}`
      );
    }
    return closedWorkflowRejection(contractId, phase);
  }
  throw err;
}
