/**
 * One knex instance per process from `SIGNFLOW_DATABASE_URL`: `mysql://…` (MySQL/MariaDB via mysql2, production) or a
 * SQLite file path (better-sqlite3, dev and tests).
 */
import fs from 'node:fs';
import path from 'node:path';
import knex, { type Knex } from 'knex';
import { ConfigError } from '../temporal.config';
import { PreparedWritesMysqlClient, MYSQL_STATEMENTS_KEPT } from './mysql-client';
import { ImmediateSqliteClient } from './sqlite-client';
import { keepPreparedStatements, type PreparingConnection } from './sqlite-statements';

export type DbDialect = 'mysql' | 'sqlite';

export function dialectOf(url: string): DbDialect {
  return /^mysql2?:\/\//i.test(url) || /^mariadb:\/\//i.test(url) ? 'mysql' : 'sqlite';
}

export interface CreateDbOptions {
  poolMax?: number;
  /**
   * Make a missing SQLite file (and its folder). Only the dev stack and the migration command (`db/migrate.ts`) do: a
   * mistyped path anywhere else must not turn into a fresh, empty CRM. @default false
   */
  createSqliteFile?: boolean;
}

/** The file of a SQLite URL (`sqlite:…`, `sqlite://…` or a plain path). */
export function sqliteFileOf(url: string): string {
  return url.replace(/^sqlite:(\/\/)?/i, '');
}

/** Refuses a SQLite file that is not there, naming what is missing: the file, or already its folder. */
function assertSqliteFileExists(file: string): void {
  if (fs.existsSync(file)) return;
  const dir = path.dirname(path.resolve(file));
  const what = fs.existsSync(dir)
    ? `the file ${path.resolve(file)} does not exist`
    : `the folder ${dir} does not exist`;
  throw new ConfigError(
    `SIGNFLOW_DATABASE_URL: ${what}. signflow creates a SQLite database only in the dev stack and with ` +
      '`npx tsx db/migrate.ts`; check the path (production uses mysql://…).'
  );
}

export function createDb(url: string, options: CreateDbOptions = {}): Knex {
  if (dialectOf(url) === 'mysql') {
    return knex({
      // mysql2, with knex's writes as prepared statements (db/mysql-client.ts).
      client: PreparedWritesMysqlClient as unknown as Knex.Config['client'],
      // mariadb:// is accepted as an alias; mysql2 only knows mysql://.
      connection: {
        uri: url.replace(/^mariadb:/i, 'mysql:'),
        charset: 'utf8mb4',
        timezone: 'Z',
        dateStrings: false,
        maxPreparedStatements: MYSQL_STATEMENTS_KEPT,
      },
      pool: {
        min: 0,
        max: options.poolMax ?? 10,
        // mysql2 sends and reads times as UTC ('Z'); the session must agree, or a TIMESTAMP column stores the wrong
        // instant and NOW() means local time on a server in Europe/Berlin. UTC for every session, whatever the server.
        afterCreate: (
          conn: { query: (sql: string, cb: (err: Error | null) => void) => void },
          done: (err: Error | null, conn: unknown) => void
        ) => {
          conn.query("SET time_zone = '+00:00'", (err) => done(err, conn));
        },
      },
    } as Knex.Config);
  }
  const file = sqliteFileOf(url);
  if (file !== ':memory:') {
    if (options.createSqliteFile) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    else assertSqliteFileExists(file);
  }
  return knex({
    // better-sqlite3, with transactions that take the write lock at BEGIN (db/sqlite-client.ts).
    client: ImmediateSqliteClient as unknown as Knex.Config['client'],
    connection: { filename: file },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      // WAL lets the API read while the worker writes; NORMAL is durable enough with WAL and much faster.
      afterCreate: (
        conn: PreparingConnection & { pragma: (s: string) => void },
        done: (err: Error | null, conn: unknown) => void
      ) => {
        // One parse and plan per statement text, not per query (db/sqlite-statements.ts).
        keepPreparedStatements(conn);
        conn.pragma('journal_mode = WAL');
        conn.pragma('synchronous = NORMAL');
        conn.pragma('foreign_keys = ON');
        conn.pragma('busy_timeout = 5000');
        done(null, conn);
      },
    },
  });
}

/** The dialect of an existing knex instance (for the few statements that differ, e.g. row locks). */
export function dialectOfDb(db: Knex): DbDialect {
  // knex's dialect name: 'mysql' for mysql2, 'sqlite3' for better-sqlite3 (also when the client is a subclass).
  const dialect = String((db.client as { dialect?: unknown }).dialect ?? '');
  return /mysql|maria/i.test(dialect) ? 'mysql' : 'sqlite';
}
