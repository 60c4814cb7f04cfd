/**
 * Non-retryable failures of the contract activities: the `type` is a domain error code (domain/errors.ts) that the
 * workflow and the API match on. Messages and details carry ids only, never personal data, because they end up in the
 * Temporal history and in logs.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ErrorCode } from '../../domain/errors';

export function rejection(type: ErrorCode, message: string, details: Record<string, number | string> = {}) {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: [details] });
}

export function isRejection(err: unknown): err is ApplicationFailure {
  return err instanceof ApplicationFailure && err.nonRetryable === true;
}
