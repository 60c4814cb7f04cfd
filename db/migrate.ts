/**
 * Runs the two migration sets programmatically (no knexfile): the plugin's own tables (`signflow_*`, always) and the
 * dev/test CRM schema (only where there is no real CRM). Each set keeps its own migration table, so a real install
 * records only the plugin's history.
 *
 * CLI: `npx tsx db/migrate.ts [--crm] [--seed]` against `SIGNFLOW_DATABASE_URL` (default: the dev SQLite file).
 * `--seed` implies `--crm`: demo data only makes sense in the dev schema.
 */
import type { Knex } from 'knex';
import { DEFAULT_CRM_MAPPING, type CrmMapping } from './crm-mapping';
import * as crmTables from './migrations/crm/20260101000000_create_crm_tables';
import * as signflowTables from './migrations/signflow/20260101000000_create_signflow_tables';
import * as signflowOutbox from './migrations/signflow/20260301000000_create_signflow_outbox';
import * as signflowQes from './migrations/signflow/20260401000000_create_signflow_qes_tables';
import * as signflowWebhooks from './migrations/signflow/20260501000000_create_signflow_webhook_deliveries';
import * as signflowHmacReplay from './migrations/signflow/20260611000000_create_signflow_hmac_replay';

interface NamedMigration {
  name: string;
  up: (db: Knex) => Promise<void>;
  down: (db: Knex) => Promise<void>;
}

/** Migration table of the dev/test CRM schema (ours, hence the prefix, although the tables it creates are the CRM's). */
export const CRM_MIGRATIONS_TABLE = 'signflow_crm_dev_migrations';
export const SIGNFLOW_MIGRATIONS_TABLE = 'signflow_migrations';

function source(migrations: NamedMigration[]): Knex.MigrationSource<NamedMigration> {
  return {
    getMigrations: async () => migrations,
    getMigrationName: (m) => m.name,
    getMigration: async (m) => m,
  };
}

/** Applies the pending migrations of one set; returns the names applied now (empty when already up to date). */
async function latest(db: Knex, tableName: string, migrations: NamedMigration[]): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource: source(migrations), tableName })) as [
    number,
    string[],
  ];
  return applied;
}

/** Creates the CRM tables (dev/test only) with the mapping's names. Idempotent. */
export function migrateCrm(db: Knex, crm: CrmMapping = DEFAULT_CRM_MAPPING): Promise<string[]> {
  return latest(db, CRM_MIGRATIONS_TABLE, [
    {
      name: '20260101000000_create_crm_tables',
      up: (k) => crmTables.up(k, crm),
      down: (k) => crmTables.down(k, crm),
    },
  ]);
}

/** Creates the plugin tables `signflow_requests`, `signflow_mails`, `signflow_audit_events`. Idempotent. */
export function migrateSignflow(db: Knex): Promise<string[]> {
  return latest(db, SIGNFLOW_MIGRATIONS_TABLE, [
    { name: '20260101000000_create_signflow_tables', up: signflowTables.up, down: signflowTables.down },
    { name: '20260301000000_create_signflow_outbox', up: signflowOutbox.up, down: signflowOutbox.down },
    { name: '20260401000000_create_signflow_qes_tables', up: signflowQes.up, down: signflowQes.down },
    {
      name: '20260501000000_create_signflow_webhook_deliveries',
      up: signflowWebhooks.up,
      down: signflowWebhooks.down,
    },
    {
      name: '20260611000000_create_signflow_hmac_replay',
      up: signflowHmacReplay.up,
      down: signflowHmacReplay.down,
    },
  ]);
}

async function main(argv: string[]): Promise<void> {
  const unknown = argv.filter((a) => a !== '--crm' && a !== '--seed');
  if (unknown.length > 0) {
    throw new Error(`unknown argument(s): ${unknown.join(' ')}\nusage: npx tsx db/migrate.ts [--crm] [--seed]`);
  }
  const seed = argv.includes('--seed');
  const crm = seed || argv.includes('--crm');
  // Imported here so that importing this module (tests, dev stack) does not pull in the config's environment reading.
  const { databaseUrl, loadConfig } = await import('../temporal.config');
  const { createDb } = await import('./connection');
  const config = loadConfig();
  // The migration command may make a new SQLite file (a dev or test database); a MySQL database must exist already.
  const db = createDb(databaseUrl(config), { createSqliteFile: true });
  try {
    const applied = [...(crm ? await migrateCrm(db, config.crm) : []), ...(await migrateSignflow(db))];
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database already up to date');
    if (seed) {
      const { seedDemo } = await import('./seed');
      const result = await seedDemo(db, config.crm);
      console.log(
        `demo data: contacts ${result.contactIds.join(', ')}, staff ${result.staffContactId}, ` +
          `sendable contracts ${result.contractIds.join(', ')}`
      );
    }
  } finally {
    await db.destroy();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
