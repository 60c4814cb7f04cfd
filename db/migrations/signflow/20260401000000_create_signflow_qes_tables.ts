/**
 * Tables of the QES countersignature (issue 3), owned by activities/konnektor:
 * - `signflow_qes`: one row per SignRequest id (deterministic per contract workflow and document). Written right after
 *   the Konnektor returned the signature and before the activity acknowledges, so a retried or replayed batch never
 *   signs the same document twice and the stored `dokumente` row is created once.
 * - `signflow_comfort_sessions`: the UserId of the comfort session signflow activated per eHBA (ICCSN). The Konnektor
 *   binds the session to it; every SignDocument of the session must repeat it. No personal data.
 */
import type { Knex } from 'knex';
import { largeBinary, mysqlTableOptions, timestamp } from '../column-types';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('signflow_qes', (t) => {
    mysqlTableOptions(db, t, 'binary');
    t.string('request_id', 255).notNullable().primary();
    t.string('workflow_id', 255).notNullable().index();
    t.integer('contract_id').unsigned().notNullable().index();
    t.integer('source_document_id').unsigned().notNullable();
    t.string('source_sha256', 64).notNullable();
    t.string('card_iccsn', 32).nullable();
    t.string('variant', 8).notNullable();
    t.string('mime_type', 100).notNullable();
    largeBinary(db, t, 'signature').notNullable();
    t.string('signature_sha256', 64).notNullable();
    timestamp(t, 'signed_at').notNullable();
    t.integer('qes_document_id').unsigned().nullable();
    timestamp(t, 'stored_at').nullable();
  });
  await db.schema.createTable('signflow_comfort_sessions', (t) => {
    mysqlTableOptions(db, t, 'binary');
    t.string('card_iccsn', 32).notNullable().primary();
    t.string('user_id', 36).notNullable();
    timestamp(t, 'activated_at').notNullable();
    t.integer('activated_by').unsigned().nullable();
    timestamp(t, 'deactivated_at').nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('signflow_comfort_sessions');
  await db.schema.dropTableIfExists('signflow_qes');
}
