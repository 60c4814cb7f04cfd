/**
 * Statements that knex compiles once and then runs with new values. knex builds a query object and compiles it to
 * SQL for every call (builder, compiler, identifier wrapping): about 50 µs of CPU per statement in this process,
 * measured against the same text sent with `knex.raw`. signflow's hot statements have a fixed shape per mapping, so
 * each shape is compiled once, with placeholders for its values, and every later call sends that SQL text with the
 * values in the order knex itself put them (read from the placeholders, never written by hand).
 *
 * The statements still go through knex (its pool, transactions, `query` events) and come back as the builder's would:
 * the compiled query keeps the builder's method, so `first` gives a row, `insert` the new id, `update` the number of
 * rows changed, on both databases.
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

function run<T>(q: Knex | Knex.Transaction, compiled: Compiled, values: readonly Knex.Value[]): Promise<T> {
  const raw = q.raw(
    compiled.sql,
    compiled.order.map((o) => ('arg' in o ? values[o.arg] : o.value)) as Knex.RawBinding[]
  );
  // The builder's method, so knex answers as for the builder's own query (and mysql-client.ts sees a write).
  const toSQL = raw.toSQL.bind(raw);
  raw.toSQL = ((...args: Parameters<typeof toSQL>) => ({ ...toSQL(...args), method: compiled.method })) as typeof toSQL;
  return raw as unknown as Promise<T>;
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
