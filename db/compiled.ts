/**
 * Statements that knex compiles once and then runs with new values. knex builds a query object and compiles it to
 * SQL for every call (builder, compiler, identifier wrapping): about 50 µs of CPU per statement in this process,
 * measured against the same text sent with `knex.raw`. signflow's hot statements have a fixed shape per mapping, so
 * each shape is compiled once, with placeholders for its values, and every later call sends that SQL text with the
 * values in the order knex itself put them (read from the placeholders, never written by hand).
 *
 * The statements still go through knex's client (its pool, transactions, `query` events, error messages) and come
 * back as the builder's would: the compiled query keeps the builder's method, so `first` gives a row, `insert` the new
 * id, `update` the number of rows changed, on both databases. They are handed to the client directly (`run`), not
 * through a `knex.raw` object and knex's runner per call.
 *
 * Only for values that do not change the SQL text: knex writes `is null` for a null it compares, and `DEFAULT` or NULL
 * for an undefined value it inserts. A compiled statement refuses undefined (knex.raw does) and must not compare a
 * value that can be null; `insertRow` falls back to the builder for a row with an undefined value.
 */
import type { Knex } from 'knex';

/** Stands for the i-th value while a shape is compiled. */
class Placeholder {
  constructor(readonly index: number) {}
}

interface Compiled {
  /** False when knex.raw would read the text otherwise than knex wrote it (see `rawReadsAsWritten`): builder only. */
  reusable: boolean;
  sql: string;
  method: string;
  /** Per binding of the SQL text: the index of the caller's value, or a value knex added itself (`limit 1`). */
  order: ({ arg: number } | { value: unknown })[];
}

function compile(build: (...values: Knex.Value[]) => Knex.QueryBuilder, count: number): Compiled {
  const placeholders = Array.from({ length: count }, (_, i) => new Placeholder(i));
  const { sql, bindings, method } = build(...(placeholders as unknown as Knex.Value[])).toSQL() as Knex.Sql & {
    method: string;
  };
  return {
    reusable: rawReadsAsWritten(sql, bindings.length),
    sql,
    method,
    order: bindings.map((b) => (b instanceof Placeholder ? { arg: b.index } : { value: b })),
  };
}

/**
 * Whether knex.raw finds exactly the statement's placeholders in its text. knex.raw reads every `?` as a value, `??`
 * as an identifier and `\\?` as a literal; the builder's text has a `?` per value, but a table or column name from
 * the CRM mapping may hold a `?` or `\\` of its own (any name is allowed), which knex.raw would take for a value.
 * Such a shape keeps running through the builder.
 */
function rawReadsAsWritten(sql: string, count: number): boolean {
  const marks = sql.match(/\\?\?\??/g) ?? [];
  return marks.length === count && marks.every((m) => m === '?');
}

/**
 * The part of knex's client (a transaction's client included) that `run` uses: what knex's own runner calls for every
 * query, after the builder or `knex.raw` made the query object.
 */
interface RunningClient {
  acquireConnection(): Promise<Connection>;
  releaseConnection(connection: Connection): Promise<unknown>;
  /** Emits `query`, sends the statement, puts the driver's answer on the object; a transaction's refuses once done. */
  query(connection: Connection, obj: QueryObject): Promise<QueryObject>;
  processResponse(obj: QueryObject, runner: undefined): unknown;
  postProcessResponse(response: unknown, queryContext: undefined): unknown;
  emit(event: string, ...args: unknown[]): boolean;
  listenerCount(event: string): number;
}
interface Connection {
  __knexUid?: string;
  __knexTxId?: string;
}
interface QueryObject {
  sql: string;
  bindings: unknown[];
  method: string;
  options: Record<string, unknown>;
}

/**
 * Runs a compiled statement the way knex's runner runs a query (`Runner.query` inside `ensureConnection`): a
 * connection from the pool or the transaction, the client's `query` (the `query` event, the driver, knex's SQL in the
 * message of a driver error and the `query-error` event, a finished transaction's refusal), the dialect's
 * `processResponse` for the builder's method, the `query-response` event, the connection back. What it leaves out is
 * what a compiled statement does not need: a `knex.raw` object and its `toSQL` per call (placeholders scanned, a query
 * id drawn), the runner object and the builder's own events (nobody listens on a statement nobody holds).
 */
async function run<T>(q: Knex | Knex.Transaction, compiled: Compiled, values: readonly Knex.Value[]): Promise<T> {
  const bindings = compiled.order.map((o) => ('arg' in o ? values[o.arg] : o.value));
  // What knex.raw refuses, before anything is sent.
  if (bindings.some((b) => b === undefined)) {
    const keys = bindings.flatMap((b, i) => (b === undefined ? [i] : []));
    throw new Error(
      `Undefined binding(s) detected for keys [${keys.join(',')}] when compiling RAW query: ${compiled.sql}`
    );
  }
  const client = q.client as unknown as RunningClient;
  const connection = await client.acquireConnection();
  try {
    const obj: QueryObject = { sql: compiled.sql, bindings, method: compiled.method, options: {} };
    const response = client.postProcessResponse(
      client.processResponse(await client.query(connection, obj), undefined),
      undefined
    );
    if (client.listenerCount('query-response') > 0) {
      const { __knexUid, __knexTxId } = connection;
      client.emit('query-response', response, { __knexUid, __knexTxId, ...obj }, undefined);
    }
    return response as T;
  } finally {
    await client.releaseConnection(connection);
  }
}

/** Kept shapes per dialect; past this many, further shapes run through the builder (no unbounded growth). */
const MAX_SHAPES = 500;
const shapes = new Map<string, Compiled>();

function dialectOf(q: Knex | Knex.Transaction): string {
  return String((q.client as { dialect?: unknown }).dialect ?? '');
}

/**
 * A statement of one shape: `build` makes it with the builder from its values, `key` names the shape (everything
 * `build` reads besides its values: tables, columns, the variant). The first call per key and dialect compiles it.
 */
export function compiledStatement<T>(
  q: Knex | Knex.Transaction,
  key: string,
  build: (...values: Knex.Value[]) => Knex.QueryBuilder,
  values: readonly Knex.Value[]
): Promise<T> {
  const shapeKey = `${dialectOf(q)}\u0000${key}`;
  let compiled = shapes.get(shapeKey);
  if (!compiled) {
    if (shapes.size >= MAX_SHAPES) return build(...values) as unknown as Promise<T>;
    compiled = compile(build, values.length);
    shapes.set(shapeKey, compiled);
  }
  if (!compiled.reusable) return build(...values) as unknown as Promise<T>;
  return run<T>(q, compiled, values);
}

/** `q(table).insert(row)` for one row, compiled once per table and set of columns; resolves to the new row's id. */
export async function insertRow(
  q: Knex | Knex.Transaction,
  table: string,
  row: Record<string, Knex.Value | undefined>
): Promise<number> {
  const columns = Object.keys(row).sort();
  const values = columns.map((c) => row[c]);
  if (values.some((v) => v === undefined)) {
    const [id] = await q(table).insert(row);
    return Number(id);
  }
  const [id] = await compiledStatement<unknown[]>(
    q,
    `insert\u0000${table}\u0000${columns.join('\u0000')}`,
    (...v) => q(table).insert(Object.fromEntries(columns.map((c, i) => [c, v[i]]))),
    values as Knex.Value[]
  );
  return Number(id);
}
