/**
 * The HMAC replay memory (api/auth.ts): one row per accepted signature until it leaves the replay window, in the
 * database so that every API process sees it and it survives a restart.
 */
import type { Knex } from 'knex';
import { indexName, mysqlTableOptions, timestamp } from '../column-types';

export const HMAC_REPLAY_TABLE = 'signflow_hmac_replay';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable(HMAC_REPLAY_TABLE, (t) => {
    mysqlTableOptions(db, t, 'binary');
    /** Hex SHA-256 of the accepted signature (the signature itself is a credential for its window). */
    t.string('signature_sha256', 64).notNullable().primary();
    timestamp(t, 'expires_at').notNullable();
    t.index(['expires_at'], indexName(HMAC_REPLAY_TABLE, 'expires_idx'));
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists(HMAC_REPLAY_TABLE);
}
