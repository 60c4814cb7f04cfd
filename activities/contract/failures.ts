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

/**
 * Runs one activity body and replaces any unexpected error (a database error, above all) by a retryable failure that
 * keeps the driver's error code but drops the message: knex puts the full SQL with its bound values, i.e. names,
 * e-mail addresses and document bytes, into its messages, and an activity's failure is stored in the workflow history.
 */
export async function withoutPersonalData<T>(activity: string, contractId: number, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    const code = (err as { code?: unknown }).code;
    const type = typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? code : 'UNEXPECTED_ERROR';
    const name = err instanceof Error ? err.name : typeof err;
    throw ApplicationFailure.create({
      type,
      message: `${activity} failed for contract ${contractId} with ${name} ${type}; the activity will be retried.`,
      nonRetryable: false,
    });
  }
}
