/**
 * CRM ids as every door receives them. An id is a positive decimal integer without sign, spaces, leading zeros,
 * exponent, hex prefix or fraction, and fits the CRM's INT UNSIGNED columns and a JavaScript number exactly. Anything
 * else is `VALIDATION_FAILED`: `0x11` must never reach contract 17, nor `true` or `[1]` contact 1.
 */
import { validationFailed } from './errors';

/** Largest id the CRM's INT columns and JavaScript both hold exactly. */
export const MAX_ID = 2_147_483_647;

/** The text form, for path segments and JSON schemas. */
export const ID_PATTERN = '^[1-9][0-9]{0,9}$';
const DECIMAL_ID = new RegExp(ID_PATTERN);

/** An id typed as text (URL path, command line, CSV cell). `field` names it in the sentence, e.g. "contract id". */
export function idFromText(text: string, field: string): number {
  const n = DECIMAL_ID.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_ID) {
    throw validationFailed(
      `${field} must be a positive decimal integer (1 to ${MAX_ID}), not ${JSON.stringify(text)}`,
      {
        field,
      }
    );
  }
  return n;
}

/** An id from JSON: a number only, never a string, boolean or array that happens to convert. */
export function idFromJson(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_ID) {
    throw validationFailed(`${field} must be a positive integer (1 to ${MAX_ID}), not ${JSON.stringify(value)}`, {
      field,
    });
  }
  return value;
}

/** An id from a database column the CRM writes (the outbox): a number, or text in the decimal form. */
export function idFromColumn(value: unknown, field: string): number {
  if (typeof value === 'string') return idFromText(value, field);
  if (typeof value === 'bigint') return idFromText(value.toString(), field);
  return idFromJson(value, field);
}
