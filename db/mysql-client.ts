/**
 * knex's mysql2 client with its writes (INSERT, UPDATE, DELETE built by knex) sent as prepared statements
 * (`connection.execute`, MySQL's binary protocol) instead of text queries.
 *
 * With `query`, mysql2 formats every value into the SQL text on the client: a Buffer becomes a hex literal twice its
 * size, so each contract document and Prüfprotokoll (~30 KB) was escaped character by character and sent as ~60 KB;
 * `execute` sends the values as they are (a Buffer as BLOB bytes) and the statement text once per connection. The
 * stored values are the same: dates go as DATETIME in the connection's time zone ('Z', as the text protocol formats
 * them, milliseconds included), booleans as 0/1, numbers as numbers, strings in the connection's character set.
 *
 * Reads stay text queries: the binary protocol hands back some types differently (DATE, DECIMAL, BIGINT), and the
 * rows the activities read must not change.
 */
import type { Knex } from 'knex';

/** Prepared statements kept per connection (mysql2 closes the least recently used one on the server). */
export const MYSQL_STATEMENTS_KEPT = 200;

interface QueryObject {
  sql: string;
  bindings?: unknown[];
  method?: string;
  options?: Record<string, unknown>;
  response?: unknown;
}
type Callback = (err: Error | null, rows: unknown, fields: unknown) => void;
interface Mysql2Connection {
  execute(options: Record<string, unknown>, values: unknown[], cb: Callback): void;
}
type ClientClass = new (config: Knex.Config) => { _query(connection: unknown, obj: QueryObject): Promise<unknown> };

// knex's own class; knex exports no type for it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Mysql2Client = require('knex/lib/dialects/mysql2') as ClientClass;

const PREPARED_METHODS = new Set(['insert', 'update', 'del']);

/** Pass as knex's `client` for a MySQL/MariaDB URL. */
export class PreparedWritesMysqlClient extends Mysql2Client {
  override _query(connection: unknown, obj: QueryObject): Promise<unknown> {
    if (!obj?.sql || !obj.method || !PREPARED_METHODS.has(obj.method) || !obj.bindings?.length) {
      return super._query(connection, obj);
    }
    return new Promise((resolve, reject) => {
      (connection as Mysql2Connection).execute(
        { ...obj.options, sql: obj.sql },
        obj.bindings as unknown[],
        (err, rows, fields) => {
          if (err) return reject(err);
          // What knex's own `_query` leaves for `processResponse` (insertId, affectedRows).
          obj.response = [rows, fields];
          resolve(obj);
        }
      );
    });
  }
}
