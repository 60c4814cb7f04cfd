/**
 * Real databases for tests: a FRESH database per test file, migrated (CRM dev schema + signflow tables) and seeded.
 *
 * - SQLite: a file in a new temp folder, removed by `destroy()`.
 * - MariaDB/MySQL: `CREATE DATABASE signflow_test_<time>_<random>` on the server of `SIGNFLOW_TEST_MYSQL_URL`
 *   (e.g. `mysql://root@127.0.0.1:3306/`, see scripts/start-mariadb.sh), dropped by `destroy()`.
 *
 * Without SIGNFLOW_TEST_MYSQL_URL the MariaDB variant is left out with a visible warning, except under CI=true, where
 * that is an error: CI must never go green on SQLite alone.
 *
 * Usage:
 *   describe.each(testDatabases())('on $name', ({ name }) => {
 *     let t: TestDb;
 *     beforeAll(async () => { t = await createTestDb(name); });
 *     afterAll(() => t.destroy());
 *   });
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { createDb } from '../db/connection';
import { migrateCrm, migrateSignflow } from '../db/migrate';
import { seedDemo, type SeedResult } from '../db/seed';
import { deepMerge, loadConfig, type SignflowConfig } from '../temporal.config';

export type TestDbKind = 'sqlite' | 'mariadb';

export interface TestDatabase {
  name: TestDbKind;
  /** Where fresh databases are made: the MariaDB server URL, or `sqlite:<temp folder>`. */
  url: string;
}

export const MYSQL_URL_ENV = 'SIGNFLOW_TEST_MYSQL_URL';

/** Leftovers of killed runs older than this are dropped when the next test database is made. */
const STALE_AFTER_MS = 6 * 60 * 60 * 1000;

export function testDatabases(): TestDatabase[] {
  const list: TestDatabase[] = [{ name: 'sqlite', url: `sqlite:${os.tmpdir()}` }];
  const mysqlUrl = process.env[MYSQL_URL_ENV]?.trim();
  if (mysqlUrl) {
    list.push({ name: 'mariadb', url: mysqlUrl });
  } else if (process.env.CI === 'true') {
    throw new Error(
      `${MYSQL_URL_ENV} is not set under CI=true: the MariaDB tests must run (see scripts/start-mariadb.sh)`
    );
  } else {
    console.warn(
      `${MYSQL_URL_ENV} is not set: MariaDB variant SKIPPED, SQLite only. ` +
        'Run `eval "$(scripts/start-mariadb.sh --export)"` to include it.'
    );
  }
  return list;
}

export interface CreateTestDbOptions {
  /** Partial CRM mapping (table, column and label names) for the schema, the seed and the config. */
  crm?: unknown;
  /** Further config overrides (same shape as the config, partial). */
  config?: unknown;
  /** Seed the demo data. @default true */
  seed?: boolean;
}

export interface TestDb {
  kind: TestDbKind;
  /** The database's own URL (a SQLite file path or `mysql://…/signflow_test_…`). */
  url: string;
  db: Knex;
  /** Config pointing at this database; the process environment is ignored so a developer's shell cannot leak in. */
  config: SignflowConfig;
  /** The demo data's ids (all empty/0 when `seed: false`). */
  seed: SeedResult;
  destroy(): Promise<void>;
}

const EMPTY_SEED: SeedResult = {
  contactIds: [],
  contractIds: [],
  staffContactId: 0,
  invalidEmailContactId: 0,
  invalidEmailContractId: 0,
  inProgressContractId: 0,
};

function mysqlServerUrl(): URL {
  const raw = process.env[MYSQL_URL_ENV]?.trim();
  if (!raw) throw new Error(`${MYSQL_URL_ENV} is not set; cannot create a MariaDB test database`);
  const url = new URL(raw.replace(/^mariadb:/i, 'mysql:'));
  url.pathname = '/';
  return url;
}

async function dropStaleDatabases(admin: Knex): Promise<void> {
  const [rows] = (await admin.raw("SHOW DATABASES LIKE 'signflow\\_test\\_%'")) as [Record<string, string>[]];
  const now = Date.now();
  for (const row of rows) {
    const name = Object.values(row)[0] ?? '';
    const created = /^signflow_test_([0-9a-z]+)_[0-9a-f]+$/.exec(name)?.[1];
    if (created && now - parseInt(created, 36) > STALE_AFTER_MS) {
      await admin.raw('DROP DATABASE IF EXISTS ??', [name]);
    }
  }
}

async function makeDatabase(kind: TestDbKind): Promise<{ url: string; drop: () => Promise<void> }> {
  if (kind === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-test-db-'));
    return { url: path.join(dir, 'crm.sqlite'), drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  const server = mysqlServerUrl();
  const admin = createDb(server.toString(), { poolMax: 1 });
  try {
    await dropStaleDatabases(admin);
    const name = `signflow_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
    await admin.raw(`CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`, [name]);
    const url = new URL(server.toString());
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      drop: async () => {
        const again = createDb(server.toString(), { poolMax: 1 });
        try {
          await again.raw('DROP DATABASE IF EXISTS ??', [name]);
        } finally {
          await again.destroy();
        }
      },
    };
  } finally {
    await admin.destroy();
  }
}

export async function createTestDb(
  kind: TestDbKind | TestDatabase,
  options: CreateTestDbOptions = {}
): Promise<TestDb> {
  const name = typeof kind === 'string' ? kind : kind.name;
  const { url, drop } = await makeDatabase(name);
  const overrides = deepMerge(options.config ?? {}, { database: { url }, crm: options.crm ?? {} });
  const config = loadConfig(overrides, {});
  const db = createDb(url, { poolMax: 4, createSqliteFile: true });
  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    try {
      await db.destroy();
    } finally {
      await drop();
    }
  };
  try {
    await migrateCrm(db, config.crm);
    await migrateSignflow(db);
    const seed = options.seed === false ? EMPTY_SEED : await seedDemo(db, config.crm);
    return { kind: name, url, db, config, seed, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}
