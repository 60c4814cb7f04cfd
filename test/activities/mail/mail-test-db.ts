/**
 * Databases for the mail activity tests, until the shared `test/helpers/databases.ts` exists: a fresh SQLite file
 * always, and a fresh MariaDB database when SIGNFLOW_TEST_MYSQL_URL is set (skipped otherwise, failing under CI=true).
 * Both migrated with the real migrations (CRM dev schema + signflow tables).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { createDb } from '../../../db/connection';
import { migrateCrm, migrateSignflow } from '../../../db/migrate';
import { DEFAULT_CRM_MAPPING } from '../../../db/crm-mapping';

export type DbKind = 'sqlite' | 'mysql';

export interface TestDb {
  kind: DbKind;
  db: Knex;
  close(): Promise<void>;
}

export function mailTestDatabases(): DbKind[] {
  if (process.env.SIGNFLOW_TEST_MYSQL_URL) return ['sqlite', 'mysql'];
  if (process.env.CI === 'true')
    throw new Error('CI=true but SIGNFLOW_TEST_MYSQL_URL is not set: MariaDB tests cannot run');
  console.warn('SIGNFLOW_TEST_MYSQL_URL is not set: mail activity tests run against SQLite only (MariaDB skipped)');
  return ['sqlite'];
}

export async function createMailTestDb(kind: DbKind): Promise<TestDb> {
  let db: Knex;
  let cleanup: () => Promise<void>;
  if (kind === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-mail-db-'));
    db = createDb(path.join(dir, 'crm.sqlite'));
    cleanup = async () => {
      await db.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    };
  } else {
    const serverUrl = new URL(process.env.SIGNFLOW_TEST_MYSQL_URL ?? '');
    const name = `signflow_mail_${process.pid}_${randomBytes(4).toString('hex')}`;
    serverUrl.pathname = '/';
    const admin = createDb(serverUrl.toString());
    await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    serverUrl.pathname = `/${name}`;
    db = createDb(serverUrl.toString());
    cleanup = async () => {
      await db.destroy();
      await admin.raw(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.destroy();
    };
  }
  await migrateCrm(db, DEFAULT_CRM_MAPPING);
  await migrateSignflow(db);
  return { kind, db, close: cleanup };
}

export async function insertContact(
  db: Knex,
  contact: { firstName: string; lastName: string; email: string | null }
): Promise<number> {
  const k = DEFAULT_CRM_MAPPING.contacts;
  const [id] = await db(k.table).insert({
    [k.firstName]: contact.firstName,
    [k.lastName]: contact.lastName,
    [k.email]: contact.email,
  });
  return Number(id);
}

export async function insertContract(
  db: Knex,
  contract: { contactId: number; title: string; status?: string; confirmedBy?: number }
): Promise<number> {
  const c = DEFAULT_CRM_MAPPING.contracts;
  const [id] = await db(c.table).insert({
    [c.contactId]: contract.contactId,
    [c.title]: contract.title,
    [c.status]: contract.status ?? 'versendet',
    [c.confirmedBy]: contract.confirmedBy ?? null,
  });
  return Number(id);
}
