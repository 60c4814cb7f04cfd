/**
 * signflow's MySQL/MariaDB client sends knex's INSERT, UPDATE and DELETE as prepared statements (db/mysql-client.ts)
 * and its reads as text queries; what is stored must be exactly what the text protocol stores.
 */
import knex, { type Knex } from 'knex';
import { createDb } from '../../db/connection';
import { createTestDb, testDatabases, type TestDb } from '../../harness/databases';

const mariadb = testDatabases().filter((d) => d.name === 'mariadb');

(mariadb.length ? describe : describe.skip)('prepared writes on MariaDB', () => {
  let t: TestDb;
  let db: Knex;
  let plain: Knex;
  beforeAll(async () => {
    t = await createTestDb('mariadb', { seed: false });
    // One connection each, so the session's counters are this test's.
    db = createDb(t.url, { poolMax: 1 });
    plain = knex({
      client: 'mysql2',
      connection: { uri: t.url, charset: 'utf8mb4', timezone: 'Z', dateStrings: false },
      pool: {
        min: 0,
        max: 1,
        afterCreate: (
          conn: { query: (sql: string, cb: (err: Error | null) => void) => void },
          done: (err: Error | null, conn: unknown) => void
        ) => conn.query("SET time_zone = '+00:00'", (err) => done(err, conn)),
      },
    } as Knex.Config);
    await t.db.schema.createTable('prepared_writes', (table) => {
      table.increments('id');
      table.string('via');
      table.datetime('at', { precision: 3 });
      table.datetime('at_seconds');
      table.timestamp('stamp', { precision: 3 }).nullable();
      table.specificType('content', 'mediumblob').nullable();
      table.boolean('flag');
      table.integer('n');
      table.bigInteger('big');
      table.string('label');
      table.text('note').nullable();
      table.string('mail_key').nullable().unique();
    });
  });
  afterAll(async () => {
    await db?.destroy();
    await plain?.destroy();
    await t?.destroy();
  });

  async function executed(q: Knex): Promise<number> {
    const [rows] = (await q.raw("SHOW SESSION STATUS LIKE 'Com_stmt_execute'")) as [{ Value: string }[]];
    return Number(rows[0]?.Value);
  }

  const row = (via: string) => ({
    via,
    at: new Date('2026-12-01T05:02:58.903Z'),
    at_seconds: new Date('2026-12-01T05:02:58.000Z'),
    stamp: new Date('2027-03-28T01:30:00.250Z'),
    content: Buffer.from([0, 1, 2, 0x27, 0x5c, 0xff, 0x22, 0x0a, ...Buffer.from('%PDF-1.7 ü €')]),
    flag: true,
    n: 100002,
    big: 2 ** 40 + 3,
    label: 'in Durchführung „Prüfprotokoll“ 😀 \' " \\',
    note: null,
  });

  test('INSERT, UPDATE and DELETE go as prepared statements; reads stay text queries', async () => {
    const before = await executed(db);
    const [id] = await db('prepared_writes').insert(row('count'));
    expect(await executed(db)).toBe(before + 1);
    expect(await db('prepared_writes').where('id', id).update({ label: 'x' })).toBe(1);
    expect(await executed(db)).toBe(before + 2);
    await db('prepared_writes').where('id', id).first();
    expect(await executed(db)).toBe(before + 2);
    expect(await db('prepared_writes').where('id', id).del()).toBe(1);
    expect(await executed(db)).toBe(before + 3);
    // knex's plain client sends none.
    const plainBefore = await executed(plain);
    await plain('prepared_writes').insert(row('plain count'));
    expect(await executed(plain)).toBe(plainBefore);
  });

  test('the stored values are those the text protocol stores: dates to the millisecond, bytes, flags, numbers, text', async () => {
    const [viaPrepared] = await db('prepared_writes').insert(row('prepared'));
    const [viaText] = await plain('prepared_writes').insert(row('text'));
    const read = async (id: number) => {
      const r = (await t.db('prepared_writes').where('id', id).first()) as Record<string, unknown>;
      const { id: _id, via: _via, ...rest } = r;
      return rest;
    };
    expect(await read(viaPrepared as number)).toEqual(await read(viaText as number));
    expect((await read(viaPrepared as number)).at).toEqual(new Date('2026-12-01T05:02:58.903Z'));
    expect(Buffer.compare((await read(viaPrepared as number)).content as Buffer, row('x').content)).toBe(0);

    const change = { at: new Date('2027-01-02T03:04:05.678Z'), flag: false, n: -7, note: 'geändert', content: null };
    expect(await db('prepared_writes').where({ id: viaPrepared, flag: true }).update(change)).toBe(1);
    expect(await plain('prepared_writes').where({ id: viaText, flag: true }).update(change)).toBe(1);
    expect(await read(viaPrepared as number)).toEqual(await read(viaText as number));
    // A unique violation is the same error either way (the mail claim relies on it).
    await expect(db('prepared_writes').insert({ ...row('dup'), mail_key: 'k1' })).resolves.toBeDefined();
    await expect(db('prepared_writes').insert({ ...row('dup'), mail_key: 'k1' })).rejects.toMatchObject({
      code: 'ER_DUP_ENTRY',
    });
  });
});
