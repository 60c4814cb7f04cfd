/**
 * One knex instance per process from `SIGNFLOW_DATABASE_URL`: `mysql://…` (MySQL/MariaDB via mysql2, production) or a
 * SQLite file path (better-sqlite3, dev and tests).
 */
import fs from 'node:fs';
import path from 'node:path';
import knex, { type Knex } from 'knex';

export type DbDialect = 'mysql' | 'sqlite';

export function dialectOf(url: string): DbDialect {
  return /^mysql2?:\/\//i.test(url) || /^mariadb:\/\//i.test(url) ? 'mysql' : 'sqlite';
}

export interface CreateDbOptions {
  poolMax?: number;
}

export function createDb(url: string, options: CreateDbOptions = {}): Knex {
  if (dialectOf(url) === 'mysql') {
    return knex({
      client: 'mysql2',
      // mariadb:// is accepted as an alias; mysql2 only knows mysql://.
      connection: { uri: url.replace(/^mariadb:/i, 'mysql:'), charset: 'utf8mb4', timezone: 'Z', dateStrings: false },
      pool: { min: 0, max: options.poolMax ?? 10 },
    } as Knex.Config);
  }
  const file = url.replace(/^sqlite:(\/\/)?/i, '');
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  return knex({
    client: 'better-sqlite3',
    connection: { filename: file },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      // WAL lets the API read while the worker writes; NORMAL is durable enough with WAL and much faster.
      afterCreate: (conn: { pragma: (s: string) => void }, done: (err: Error | null, conn: unknown) => void) => {
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
  const client = String((db.client as { config?: { client?: unknown } }).config?.client ?? '');
  return /mysql|maria/i.test(client) ? 'mysql' : 'sqlite';
}
