/**
 * The webhook delivery log (issue 10), owned by webhooks/: one row per message and endpoint, written before the first
 * attempt and updated after each. The body is stored once and sent unchanged on every retry and replay, so the
 * receiver sees one message (same `webhook-id`, same bytes) however often it is delivered.
 */
import type { Knex } from 'knex';
import { indexName, longText, mysqlTableOptions, timestamp } from '../column-types';

export const WEBHOOK_DELIVERIES_TABLE = 'signflow_webhook_deliveries';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable(WEBHOOK_DELIVERIES_TABLE, (t) => {
    mysqlTableOptions(db, t, 'binary');
    t.increments('id');
    /** The Standard Webhooks `webhook-id`. */
    t.string('message_id', 128).notNullable();
    /** The endpoint's configured name. */
    t.string('endpoint', 64).notNullable();
    t.string('url', 2048).notNullable();
    t.string('event_type', 64).notNullable();
    t.string('workflow_id', 255).notNullable();
    t.integer('contract_id').unsigned().notNullable().index();
    longText(t, 'body').notNullable();
    /** `pending` (no 2xx yet; retries running or given up) or `delivered`. */
    t.string('status', 16).notNullable();
    t.integer('attempts').unsigned().notNullable().defaultTo(0);
    t.integer('last_status_code').nullable();
    /** The start of the receiver's answer (≤ 1000 characters) or the network error. */
    t.text('last_response').nullable();
    timestamp(t, 'created_at').notNullable();
    timestamp(t, 'last_attempt_at').nullable();
    timestamp(t, 'delivered_at').nullable();
    t.unique(['message_id', 'endpoint'], { indexName: indexName(WEBHOOK_DELIVERIES_TABLE, 'message_endpoint_uq') });
    t.index(['status'], indexName(WEBHOOK_DELIVERIES_TABLE, 'status_idx'));
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists(WEBHOOK_DELIVERIES_TABLE);
}
