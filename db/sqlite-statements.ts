/**
 * Prepared statements kept per SQLite connection. knex's better-sqlite3 client prepares every query anew
 * (`connection.prepare(sql)`: SQLite parses and plans the text each time), which was the largest single item of the
 * worker's database time on SQLite (bench profile: 17 % of it). signflow's statements are few texts with changing
 * bindings, so the connection hands out the statement it prepared before for the same text.
 *
 * Safe to share because knex only runs a statement to completion (`all()` / `run()`, synchronous in better-sqlite3, so
 * two uses never overlap), and SQLite re-prepares a cached statement itself when the schema changed. The one setting
 * knex may change on a statement, `safeIntegers`, is reset to the connection's default on every hand-out.
 */

/** The part of a better-sqlite3 connection this needs. */
export interface PreparingConnection {
  prepare(sql: string): { safeIntegers(on?: boolean): unknown };
}

/** Statement texts kept per connection (the least recently used goes first); signflow's hot path uses about 40. */
export const SQLITE_STATEMENTS_KEPT = 200;

/** Makes `conn.prepare` return the statement prepared before for the same text. */
export function keepPreparedStatements<C extends PreparingConnection>(conn: C, kept = SQLITE_STATEMENTS_KEPT): C {
  const prepare = conn.prepare.bind(conn);
  const statements = new Map<string, ReturnType<C['prepare']>>();
  conn.prepare = ((sql: string) => {
    let statement = statements.get(sql);
    if (statement) {
      // Most recently used last, so the first key is the one to drop.
      statements.delete(sql);
      statement.safeIntegers(false);
    } else {
      statement = prepare(sql) as ReturnType<C['prepare']>;
      if (statements.size >= kept) statements.delete(statements.keys().next().value as string);
    }
    statements.set(sql, statement);
    return statement;
  }) as C['prepare'];
  return conn;
}
