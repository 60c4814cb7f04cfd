/**
 * Statements compiled once (db/compiled.ts): the SQL text and the order of its values come from knex's own builder,
 * later calls skip the builder, and the answers are the builder's (a row, the new id, the rows changed) on both
 * databases.
 */
import type { Knex } from 'knex';
import { compiledStatement, insertRow } from '../../db/compiled';
import { createTestDb, testDatabases, type TestDb } from '../../harness/databases';

describe.each(testDatabases())('compiled statements on $name', ({ name: kind }) => {
  let t: TestDb;
  let db: Knex;
  // Shape keys are global per dialect: each test file run gets its own table name, so keys never meet another's.
  const table = `compiled_${Date.now().toString(36)}`;
  beforeAll(async () => {
    t = await createTestDb(kind, { seed: false });
    db = t.db;
    await db.schema.createTable(table, (tb) => {
      tb.increments('id');
      tb.string('workflow_id').notNullable();
      tb.string('event').notNullable();
      tb.text('detail').nullable();
      tb.integer('n').nullable();
      // The CRM mapping allows any name: one that knex.raw would read as a placeholder or an escape.
      tb.string('bestätigt?').nullable();
      tb.string('a\\?b').nullable();
    });
  });
  afterAll(async () => {
    await t?.destroy();
  });

  test('values go where knex puts them; the builder runs once per shape; answers as the builder gives them', async () => {
    const builds: unknown[][] = [];
    const find = (workflowId: string, event: string) =>
      compiledStatement<Record<string, unknown> | undefined>(
        db,
        `${table}:find`,
        (...v) => {
          builds.push(v);
          // The values in another order than the SQL text has them: knex's order decides.
          const [e, w] = v;
          return db(table)
            .where('workflow_id', w as string)
            .andWhere('event', e as string)
            .first('id', 'n');
        },
        [event, workflowId]
      );
    const a = await insertRow(db, table, { workflow_id: 'wf-1', event: 'x', detail: null, n: 1 });
    const b = await insertRow(db, table, { n: 2, event: 'y', workflow_id: 'wf-1', detail: '{}' });
    expect(b).toBe(a + 1);
    expect(await find('wf-1', 'y')).toEqual({ id: b, n: 2 });
    expect(await find('wf-1', 'x')).toEqual({ id: a, n: 1 });
    expect(await find('wf-2', 'x')).toBeUndefined();
    expect(builds).toHaveLength(1);

    const update = (id: number, n: number | null) =>
      compiledStatement<number>(
        db,
        `${table}:update`,
        (...v) =>
          db(table)
            .where('id', v[0] as number)
            .update({ n: v[1] as number | null, detail: 'changed' }),
        [id, n]
      );
    expect(await update(a, null)).toBe(1);
    expect(await update(a + 100, 5)).toBe(0);
    expect(await db(table).where('id', a).first('n', 'detail')).toEqual({ n: null, detail: 'changed' });
  });

  test('inside a transaction, with its rollback; an undefined value goes through the builder as before', async () => {
    await expect(
      db.transaction(async (trx) => {
        await insertRow(trx, table, { workflow_id: 'wf-rollback', event: 'x', detail: null, n: 1 });
        throw new Error('roll back');
      })
    ).rejects.toThrow('roll back');
    expect(await db(table).where('workflow_id', 'wf-rollback')).toEqual([]);
    const id = await insertRow(db, table, { workflow_id: 'wf-3', event: 'x', detail: undefined, n: 3 });
    expect(await db(table).where('id', id).first('detail', 'n')).toEqual({ detail: null, n: 3 });
  });

  test('a knex query event per statement, as before', async () => {
    const seen: string[] = [];
    const record = (q: { sql: string }) => void seen.push(q.sql);
    db.on('query', record);
    try {
      await insertRow(db, table, { workflow_id: 'wf-4', event: 'x', detail: null, n: 4 });
    } finally {
      db.off('query', record);
    }
    expect(seen).toEqual([
      `insert into \`${table}\` (\`detail\`, \`event\`, \`n\`, \`workflow_id\`) values (?, ?, ?, ?)`,
    ]);
  });

  test('a failing statement fails as the builder’s does: its SQL in the message, the driver’s code, a query-error event', async () => {
    const errors: Error[] = [];
    const onError = (err: Error) => void errors.push(err);
    db.on('query-error', onError);
    const row = { detail: null, event: 'x', n: 5, workflow_id: null };
    let viaBuilder: Error & { code?: unknown };
    let viaCompiled: Error & { code?: unknown };
    try {
      viaBuilder = (await db(table)
        .insert(row)
        .then(
          () => new Error('no error'),
          (err: Error) => err
        )) as Error & { code?: unknown };
      viaCompiled = (await insertRow(db, table, row).then(
        () => new Error('no error'),
        (err: Error) => err
      )) as Error & { code?: unknown };
    } finally {
      db.off('query-error', onError);
    }
    expect(viaBuilder.message).toMatch(/^insert into /);
    expect(viaCompiled.message).toBe(viaBuilder.message);
    expect(viaCompiled.code).toBe(viaBuilder.code);
    expect(errors).toEqual([viaBuilder, viaCompiled]);
    expect(await db(table).whereNull('workflow_id')).toEqual([]);
  });

  test('an undefined value is refused before anything is sent, as knex.raw refuses it', async () => {
    const find = (workflowId: string | undefined) =>
      compiledStatement<unknown>(
        db,
        `${table}:undefined`,
        (w) =>
          db(table)
            .where('workflow_id', w as string)
            .first('id'),
        [workflowId as Knex.Value]
      );
    expect(await find('wf-none')).toBeUndefined();
    const { sql } = db(table).where('workflow_id', 'w').first('id').toSQL();
    await expect(find(undefined)).rejects.toThrow(
      `Undefined binding(s) detected for keys [0] when compiling RAW query: ${sql}`
    );
  });

  test('a finished transaction refuses a compiled statement as knex refuses any; answers come with query-response', async () => {
    let finished: Knex.Transaction | undefined;
    await db.transaction(async (trx) => {
      finished = trx;
      await insertRow(trx, table, { workflow_id: 'wf-trx', event: 'x', detail: null, n: 6 });
    });
    await expect(
      insertRow(finished!, table, { workflow_id: 'wf-trx', event: 'y', detail: null, n: 7 })
    ).rejects.toThrow('Transaction query already complete');
    expect(await db(table).where('workflow_id', 'wf-trx').select('event')).toEqual([{ event: 'x' }]);

    const answers: unknown[] = [];
    const onResponse = (response: unknown, obj: { method?: string }) => void answers.push([obj.method, response]);
    db.on('query-response', onResponse);
    try {
      const id = await insertRow(db, table, { workflow_id: 'wf-5', event: 'x', detail: null, n: 8 });
      expect(answers).toEqual([['insert', [id]]]);
    } finally {
      db.off('query-response', onResponse);
    }
  });

  test('a table or column name with a `?` or `\\?` (any CRM name is allowed) is written as the builder writes it', async () => {
    const id = await insertRow(db, table, { workflow_id: 'wf-q', event: 'x', 'bestätigt?': 'ja', 'a\\?b': 'y' });
    expect(await db(table).where('id', id).first('bestätigt?', 'a\\?b')).toEqual({ 'bestätigt?': 'ja', 'a\\?b': 'y' });
    const confirm = (rowId: number, value: string) =>
      compiledStatement<number>(
        db,
        `${table}:confirm?`,
        (i, v) =>
          db(table)
            .where('id', i as number)
            .update({ 'bestätigt?': v as string }),
        [rowId, value]
      );
    expect(await confirm(id, 'nein')).toBe(1);
    expect(await confirm(id, 'doch')).toBe(1);
    expect(await db(table).where('id', id).first('bestätigt?')).toEqual({ 'bestätigt?': 'doch' });
  });
});
