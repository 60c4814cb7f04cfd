/**
 * Non-retryable failures of the contract activities: the `type` is a domain error code (domain/errors.ts) that the
 * workflow and the API match on. Messages and details carry ids only, never personal data, because they end up in the
 * Temporal history and in logs.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorCode } from '../../domain/errors';

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
    const missing = missingSchemaObject(err);
    if (missing) {
      throw ApplicationFailure.create({
        type: ErrorCode.CRM_MAPPING_INVALID,
        message:
          `${activity} failed for contract ${contractId}: the CRM database has no ${missing}. Fix the CRM schema or ` +
          'SIGNFLOW_CRM_MAPPING (signflow doctor lists every mismatch); retrying cannot help.',
        nonRetryable: true,
        details: [{ contractId }],
      });
    }
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

/**
 * The table or column a database error says is missing, e.g. `column "vertragsstatus"`; undefined for other errors.
 * Only schema names are taken from the driver's message (never values, which may be personal data).
 */
export function missingSchemaObject(err: unknown): string | undefined {
  // Duck-typed, not `instanceof Error`: a driver loaded in another realm (jest shares native modules) has its own Error.
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; sqlMessage?: unknown; message?: unknown };
  const text = typeof e.sqlMessage === 'string' ? e.sqlMessage : String(e.message ?? '');
  if (e.code === 'ER_BAD_FIELD_ERROR') {
    const column = /Unknown column '([^']+)'/.exec(text)?.[1];
    return column ? `column "${column}"` : 'column named in the mapping';
  }
  if (e.code === 'ER_NO_SUCH_TABLE') {
    const table = /Table '([^']+)' doesn't exist/.exec(text)?.[1];
    return table ? `table "${table.replace(/^[^.]*\./, '')}"` : 'table named in the mapping';
  }
  if (e.code === 'SQLITE_ERROR') {
    const column = /no such column: (\S+)|has no column named (\S+)/.exec(text);
    if (column) return `column "${column[1] ?? column[2]}"`;
    const table = /no such table: (\S+)/.exec(text)?.[1];
    if (table) return `table "${table}"`;
  }
  return undefined;
}
