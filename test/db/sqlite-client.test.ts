/**
 * signflow's SQLite client begins every transaction with `BEGIN IMMEDIATE` (db/sqlite-client.ts): the write lock is
 * held from the transaction's first statement, so reading first can no longer pin a snapshot another connection's
 * commit invalidates, and `lockRow` needs no statement of its own.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import knex, { type Knex } from 'knex';
import { createDb } from '../../db/connection';
import { lockRow } from '../../db/row-lock';

let dir: string;
let file: string;
const open: { destroy(): Promise<void> }[] = [];
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-sqlite-client-'));
  file = path.join(dir, 'crm.sqlite');
  const db = track(createDb(file, { createSqliteFile: true }));
  await db.schema.createTable('t', (t) => {
    t.integer('id').primary();
    t.string('name');
  });
  await db('t').insert({ id: 1, name: 'eins' });
});
afterEach(async () => {
  for (const db of open.splice(0)) await db.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

function track<T extends { destroy(): Promise<void> }>(db: T): T {
  open.push(db);
  return db;
}

/** Another connection that does not wait for a lock: a write while someone holds it fails at once. */
function otherConnection(): Database.Database {
  const other = new Database(file, { timeout: 0 });
  open.push({ destroy: async () => void other.close() });
  return other;
}

test('a transaction holds the write lock from its BEGIN, before it has written anything', async () => {
  const db = track(createDb(file));
  const other = otherConnection();
  const seen: string[] = [];
  db.on('query', (q: { sql: string }) => seen.push(q.sql));
  await db.transaction(async (trx) => {
    expect(await trx('t').where('id', 1).first()).toEqual({ id: 1, name: 'eins' });
    // With a deferred BEGIN a read takes no write lock and this insert would go through (WAL).
    expect(() => other.prepare("insert into t (id, name) values (2, 'zwei')").run()).toThrow(/locked|busy/i);
    await trx('t').where('id', 1).update({ name: 'one' });
  });
  expect(seen[0]).toBe('BEGIN IMMEDIATE;');
  // Committed: the other connection writes now.
  other.prepare("insert into t (id, name) values (2, 'zwei')").run();
  expect(await db('t').orderBy('id')).toEqual([
    { id: 1, name: 'one' },
    { id: 2, name: 'zwei' },
  ]);
});

test('lockRow needs no statement on this client; on a plain SQLite knex it takes the lock with a no-op UPDATE', async () => {
  const statements = async (db: Knex) => {
    const seen: string[] = [];
    const count = (q: { sql: string }) => seen.push(q.sql);
    db.on('query', count);
    await db.transaction((trx) => lockRow(trx, 't', 'id', 1));
    db.off('query', count);
    return seen;
  };
  expect(await statements(track(createDb(file)))).toEqual(['BEGIN IMMEDIATE;', 'COMMIT;']);
  const plain = track(knex({ client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true }));
  expect(await statements(plain)).toEqual(['BEGIN;', 'update `t` set `id` = ? where `id` = ?', 'COMMIT;']);
});

test('a nested transaction is a savepoint inside the outer one', async () => {
  const db = track(createDb(file));
  const seen: string[] = [];
  db.on('query', (q: { sql: string }) => seen.push(q.sql));
  await db.transaction(async (trx) => {
    await trx.transaction(async (inner) => {
      await inner('t').where('id', 1).update({ name: 'inner' });
    });
  });
  expect(seen[0]).toBe('BEGIN IMMEDIATE;');
  expect(seen[1]).toMatch(/^SAVEPOINT /);
  expect(await db('t').where('id', 1).first()).toEqual({ id: 1, name: 'inner' });
});
