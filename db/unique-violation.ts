/**
 * Whether a write failed on a unique key, on SQLite and MySQL/MariaDB alike: the idempotency tables (mails, staff
 * notices, HMAC replay memory) use that failure as "someone already did this", which is not an error.
 */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown };
  return (
    e.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    e.code === 'ER_DUP_ENTRY' ||
    e.errno === 1062
  );
}
