/**
 * The CRM's schema for dev and tests only: a real install already has these tables under its own names. The names come
 * from the CRM mapping (the defaults unless a test passes another mapping), so the migration and the activities can
 * never disagree about a name.
 *
 * No foreign keys on purpose: a low-code CRM does not guarantee them, and the plugin must report a contract whose
 * contact is gone (`CONTACT_NOT_FOUND`) rather than rely on the database refusing it.
 */
import type { Knex } from 'knex';
import { DEFAULT_CRM_MAPPING, type CrmMapping } from '../../crm-mapping';
import { indexName, largeBinary, mysqlTableOptions, timestamp } from '../column-types';

/** The boolean columns hold whatever the mapping writes for yes/no: a real boolean by default, or e.g. 'Ja'/'Nein'. */
function flag(table: Knex.CreateTableBuilder, name: string, crm: CrmMapping): Knex.ColumnBuilder {
  const sample = crm.values.yes;
  if (typeof sample === 'string') return table.string(name, 16);
  if (typeof sample === 'number') return table.integer(name);
  return table.boolean(name);
}

export async function up(db: Knex, crm: CrmMapping = DEFAULT_CRM_MAPPING): Promise<void> {
  const k = crm.contacts;
  await db.schema.createTable(k.table, (t) => {
    mysqlTableOptions(db, t, 'unicode');
    t.increments(k.id);
    t.string(k.firstName, 100).notNullable().defaultTo('');
    t.string(k.lastName, 100).notNullable().defaultTo('');
    t.string(k.email, 320).nullable();
  });

  const c = crm.contracts;
  await db.schema.createTable(c.table, (t) => {
    mysqlTableOptions(db, t, 'unicode');
    t.increments(c.id);
    t.integer(c.contactId).unsigned().notNullable().index();
    t.string(c.title, 255).notNullable();
    t.string(c.status, 64).notNullable().index();
    timestamp(t, c.lastStatusChange).nullable();
    flag(t, c.confirmedByFreelancer, crm).notNullable().defaultTo(crm.values.no);
    timestamp(t, c.confirmedAt).nullable();
    t.integer(c.confirmedBy).unsigned().nullable();
    t.date(c.start).nullable();
    t.date(c.end).nullable();
    t.bigInteger(c.feeCents).nullable();
    t.text(c.description).nullable();
  });

  const d = crm.documents;
  await db.schema.createTable(d.table, (t) => {
    mysqlTableOptions(db, t, 'unicode');
    t.increments(d.id);
    t.string(d.title, 255).notNullable();
    t.string(d.templateKind, 64).notNullable();
    t.string(d.mimeType, 127).notNullable();
    largeBinary(db, t, d.content).nullable();
    t.string(d.md5, 32).nullable();
    t.string(d.sha256, 64).nullable();
    t.string(d.linkedObjectType, 64).nullable();
    t.integer(d.linkedObjectId).unsigned().nullable();
    timestamp(t, d.createdAt).notNullable();
    t.index([d.linkedObjectType, d.linkedObjectId], indexName(d.table, 'linked'));
  });

  const s = crm.signatures;
  await db.schema.createTable(s.table, (t) => {
    mysqlTableOptions(db, t, 'unicode');
    t.increments(s.id);
    t.string(s.status, 64).notNullable().index();
    t.integer(s.contactId).unsigned().notNullable().index();
    t.integer(s.documentId).unsigned().notNullable();
    t.string(s.linkedObjectType, 64).nullable();
    t.integer(s.linkedObjectId).unsigned().nullable();
    flag(t, s.byAuthenticatedClick, crm).nullable();
    t.integer(s.image).unsigned().nullable();
    t.integer(s.userId).unsigned().nullable();
    t.string(s.md5Hash, 32).nullable();
    timestamp(t, s.signedAt).nullable();
    t.index([s.linkedObjectType, s.linkedObjectId], indexName(s.table, 'linked'));
  });
}

export async function down(db: Knex, crm: CrmMapping = DEFAULT_CRM_MAPPING): Promise<void> {
  for (const table of [crm.signatures.table, crm.documents.table, crm.contracts.table, crm.contacts.table]) {
    await db.schema.dropTableIfExists(table);
  }
}
