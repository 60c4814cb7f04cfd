/**
 * knex's better-sqlite3 client with transactions that take SQLite's write lock at their start (`BEGIN IMMEDIATE`).
 *
 * knex begins with a plain (deferred) `BEGIN`: the transaction takes a snapshot at its first read and the write lock
 * only at its first write, and SQLite refuses that upgrade (SQLITE_BUSY_SNAPSHOT, no waiting) when another connection
 * committed in between. Every transaction of signflow writes, so each used to open with a no-op UPDATE to take the
 * lock before reading (`lockRow`), one statement more per transaction. `BEGIN IMMEDIATE` takes it in the same
 * statement, waiting up to `busy_timeout` as that UPDATE did, so `lockRow` has nothing to do on this client.
 * Savepoints (nested transactions) run inside the outer transaction's lock and are unchanged.
 */
import type { Knex } from 'knex';

type Conn = unknown;
interface KnexTransaction {
  begin(conn: Conn): Promise<unknown>;
  query(conn: Conn, sql: string): Promise<unknown>;
}
type TransactionClass = new (...args: unknown[]) => KnexTransaction;
type ClientClass = new (config: Knex.Config) => { transaction(...args: unknown[]): KnexTransaction };

// knex's own classes; knex exports no types for them.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const BetterSqlite3Client = require('knex/lib/dialects/better-sqlite3') as ClientClass;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const SqliteTransaction = require('knex/lib/dialects/sqlite3/execution/sqlite-transaction') as TransactionClass;

class ImmediateTransaction extends SqliteTransaction {
  override begin(conn: Conn): Promise<unknown> {
    return this.query(conn, 'BEGIN IMMEDIATE;');
  }
}

/** Pass as knex's `client` for a SQLite file. */
export class ImmediateSqliteClient extends BetterSqlite3Client {
  override transaction(...args: unknown[]): KnexTransaction {
    return new ImmediateTransaction(this, ...args);
  }
}

/** True when `db` (or the knex a transaction came from) begins its transactions with the write lock taken. */
export function beginsImmediate(db: Knex | Knex.Transaction): boolean {
  return db.client instanceof ImmediateSqliteClient;
}
