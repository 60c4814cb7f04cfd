/**
 * The plugin's own tables, always prefixed `signflow_` and never mixed with the CRM's. Keys compare byte for byte
 * (binary collation on MySQL). Column names are a contract between the activities (contract, mail) and the API.
 */
import type { Knex } from 'knex';
import { longText, mysqlTableOptions, timestamp } from '../column-types';

export async function up(db: Knex): Promise<void> {
  // One row per workflow id: the idempotency key of "prepare the signature request" and the HTML rendition for the portal.
  await db.schema.createTable('signflow_requests', (t) => {
    mysqlTableOptions(db, t, 'binary');
    t.increments('id');
    t.string('workflow_id', 255).notNullable().unique();
    t.integer('contract_id').unsigned().notNullable().index();
    t.integer('contact_id').unsigned().notNullable();
    t.integer('document_id').unsigned().notNullable();
    t.integer('signature_id').unsigned().notNullable();
    t.string('document_md5', 32).notNullable();
    t.string('document_sha256', 64).notNullable();
    longText(t, 'html').notNullable();
    timestamp(t, 'created_at').notNullable();
  });

  // One row per mail key `<workflowId>:<kind>[:<sequence>]`: `sending` before the SMTP call, `sent` after it.
  await db.schema.createTable('signflow_mails', (t) => {
    mysqlTableOptions(db, t, 'binary');
    t.increments('id');
    t.string('mail_key', 255).notNullable().unique();
    t.string('workflow_id', 255).notNullable().index();
    t.integer('contract_id').unsigned().notNullable().index();
    t.string('kind', 32).notNullable();
    t.integer('sequence').nullable();
    t.string('recipient', 320).notNullable();
    t.string('subject', 998).notNullable();
    t.string('message_id', 998).nullable();
    t.string('status', 16).notNullable();
    timestamp(t, 'created_at').notNullable();
    timestamp(t, 'sent_at').nullable();
  });

  // Append-only trail; `detail` is JSON text with ids only, never personal data.
  await db.schema.createTable('signflow_audit_events', (t) => {
    mysqlTableOptions(db, t, 'binary');
    t.bigIncrements('id');
    t.string('workflow_id', 255).notNullable().index();
    t.integer('contract_id').unsigned().notNullable().index();
    t.string('event', 64).notNullable();
    t.text('detail').notNullable();
    timestamp(t, 'at').notNullable();
  });
}

export async function down(db: Knex): Promise<void> {
  for (const table of ['signflow_audit_events', 'signflow_mails', 'signflow_requests']) {
    await db.schema.dropTableIfExists(table);
  }
}
