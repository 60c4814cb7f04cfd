/**
 * SQLite connections keep their prepared statements (db/sqlite-statements.ts): the same text is prepared once, the
 * answers stay those of a fresh statement (also after a schema change and after knex switched a statement to safe
 * integers), and the kept set is bounded.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Knex } from 'knex';
import { createDb } from '../../db/connection';
import { keepPreparedStatements } from '../../db/sqlite-statements';

let dir: string;
let db: Knex | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-stmts-'));
});
afterEach(async () => {
  await db?.destroy();
  db = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the same text gets the statement prepared before; another text its own; the least recently used goes', () => {
  const conn = new Database(path.join(dir, 'a.sqlite'));
  const prepare = jest.spyOn(conn, 'prepare');
  keepPreparedStatements(conn, 2);
  const a = conn.prepare('select 1 as x');
  expect(conn.prepare('select 1 as x')).toBe(a);
  const b = conn.prepare('select 2 as x');
  expect(b).not.toBe(a);
  expect(prepare).toHaveBeenCalledTimes(2);
  conn.prepare('select 1 as x'); // a is the most recent now, so b goes when a third text comes
  conn.prepare('select 3 as x');
  expect(conn.prepare('select 1 as x')).toBe(a);
  expect(conn.prepare('select 2 as x')).not.toBe(b);
  expect(prepare).toHaveBeenCalledTimes(4);
  conn.close();
});

test('through knex: one prepare per text, answers as before, also after a schema change and safe integers', async () => {
  db = createDb(path.join(dir, 'b.sqlite'), { createSqliteFile: true });
  await db.schema.createTable('t', (t) => {
    t.integer('id').primary();
    t.string('name');
  });
  await db('t').insert([
    { id: 1, name: 'eins' },
    { id: 2, name: 'zwei' },
  ]);
  const prepared: string[] = [];
  const conn = (await db.client.acquireConnection()) as Database.Database;
  const kept = conn.prepare.bind(conn);
  conn.prepare = ((sql: string) => {
    prepared.push(sql);
    return kept(sql);
  }) as typeof conn.prepare;
  db.client.releaseConnection(conn);

  for (const id of [1, 2, 1]) expect((await db('t').where('id', id).first())?.name).toBe(id === 1 ? 'eins' : 'zwei');
  const select = prepared[0];
  expect(prepared.filter((s) => s === select)).toHaveLength(3); // asked three times …
  const natives = new Set(await Promise.all([1, 2].map(async () => conn.prepare(select as string))));
  expect(natives.size).toBe(1); // … and handed out one statement

  await db.schema.alterTable('t', (t) => t.string('extra').defaultTo('neu'));
  expect(await db('t').where('id', 2).first()).toEqual({ id: 2, name: 'zwei', extra: 'neu' });

  await db('t').insert({ id: 3, name: 'drei' });
  const safe = await db('t').where('id', 3).first().options({ safeIntegers: true });
  expect(safe?.id).toBe(3n);
  expect((await db('t').where('id', 3).first())?.id).toBe(3); // the kept statement is back to plain numbers
});
