/**
 * `signflow_outbox`: commands a CRM that can only write rows (a MySQL trigger, a low-code automation) leaves for
 * signflow. The outbox poller (outbox/) claims each row exactly once and writes the outcome back; see docs/outbox.md.
 *
 * The CRM writes `command`, `contract_id` and, for `confirm`/`withdraw`, `staff_contact_id`; every other column has a
 * default or belongs to the poller. `command` is a plain string rather than an ENUM on purpose: a typo in a trigger
 * must not make the CRM's own UPDATE fail; the poller marks such a row with a readable error instead.
 */
import type { Knex } from 'knex';
import { isMysql, mysqlTableOptions, timestamp } from '../column-types';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('signflow_outbox', (t) => {
    mysqlTableOptions(db, t, 'binary');
    t.bigIncrements('id');
    /** 'send' | 'confirm' | 'withdraw' | 'resend' */
    t.string('command', 32).notNullable();
    t.integer('contract_id').unsigned().notNullable();
    t.integer('staff_contact_id').unsigned().nullable();
    // Filled by the database, so a trigger need not set it: CURRENT_TIMESTAMP(3) on MySQL; on SQLite epoch
    // milliseconds, the form knex writes for a JavaScript Date there.
    timestamp(t, 'created_at')
      .notNullable()
      .defaultTo(isMysql(db) ? db.fn.now(3) : db.raw("(CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))"));
    /** Which poller run took the row (workflow id, run id and activity id); NULL = not taken yet. */
    t.string('claimed_by', 255).nullable();
    timestamp(t, 'claimed_at').nullable();
    timestamp(t, 'processed_at').nullable();
    /** 'started' | 'confirmed' | 'withdrawn' | 'resent' | 'failed' */
    t.string('outcome', 32).nullable();
    /** The workflow run the command went to, when there was one. */
    t.string('run_id', 64).nullable();
    /** `<CODE>: <sentence>` when the outcome is 'failed'. */
    t.text('error').nullable();
    // The poller's question is "unclaimed rows, oldest first".
    t.index(['claimed_by', 'id'], 'signflow_outbox_claim_idx');
    t.index(['contract_id'], 'signflow_outbox_contract_idx');
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTableIfExists('signflow_outbox');
}
