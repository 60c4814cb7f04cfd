/**
 * Row locks inside a transaction, for steps whose concurrent attempts (a retry beside the first, two workers) must
 * take turns on one CRM row: the same on MySQL/MariaDB and SQLite.
 */
import type { Knex } from 'knex';
import { dialectOfDb } from './connection';
import { beginsImmediate } from './sqlite-client';

/**
 * Serialises writers of one row. Must be the first statement of its transaction, so that every later read sees what
 * a concurrent writer committed before us:
 * - MySQL: `SELECT … FOR UPDATE`; InnoDB takes the REPEATABLE READ snapshot at the first plain read, i.e. after it.
 * - SQLite: the database's write lock, taken (waiting up to busy_timeout) before the transaction has read anything.
 *   Reading first would pin a snapshot that SQLite then refuses to upgrade to a writer (SQLITE_BUSY_SNAPSHOT) after a
 *   concurrent commit. signflow's SQLite client begins every transaction with `BEGIN IMMEDIATE`, which has taken it
 *   already (db/sqlite-client.ts): no statement. On any other SQLite knex, a no-op UPDATE takes it.
 */
export async function lockRow(trx: Knex.Transaction, table: string, idColumn: string, id: number): Promise<void> {
  if (beginsImmediate(trx)) return;
  if (dialectOfDb(trx) === 'mysql') {
    await trx(table).where(idColumn, id).forUpdate().first(idColumn);
  } else {
    await trx(table)
      .where(idColumn, id)
      .update({ [idColumn]: id });
  }
}

/**
 * Whether the transaction's first read should take the row lock itself (`SELECT … FOR UPDATE` of that row, the
 * locking variants of the reads in db/crm-repository.ts) instead of `lockRow` and a plain read: on MySQL, one statement
 * less per locked step. Elsewhere `lockRow` stays (nothing on signflow's SQLite client).
 */
export function lockInFirstRead(trx: Knex.Transaction): boolean {
  return !beginsImmediate(trx) && dialectOfDb(trx) === 'mysql';
}
