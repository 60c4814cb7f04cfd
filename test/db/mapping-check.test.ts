/**
 * The mapping checked against the real database: a missing table or column and (on MariaDB) a type that cannot hold
 * what signflow writes are named with table and column; worker and API refuse to start on them; and a column that
 * disappears later fails the activity as a non-retryable CRM_MAPPING_INVALID naming it, instead of retrying forever.
 */
import { ApplicationFailure } from '@temporalio/common';
import { createContractActivities } from '../../activities/contract.activities';
import { runApi } from '../../api/main';
import { checkMappingAgainstDatabase } from '../../db/mapping-check';
import { ErrorCode } from '../../domain/errors';
import { deepMerge, loadConfig } from '../../temporal.config';
import { createWorker } from '../../worker/run-worker';
import { insertFreshContract } from '../activities/contract/fixtures';
import { createTestDb, testDatabases, type TestDb } from '../../harness/databases';

describe.each(testDatabases())('the mapping against the database on $name', ({ name }) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(name);
  });
  afterAll(async () => {
    await t?.destroy();
  });

  /** The test database's config with another mapping (the schema stays as migrated). */
  const withMapping = (crm: unknown) =>
    loadConfig(deepMerge({ database: { url: t.url }, temporal: { address: '127.0.0.1:1' } }, { crm }), {});

  test('the migrated schema has no problems', async () => {
    expect(await checkMappingAgainstDatabase(t.db, t.config.crm)).toEqual([]);
  });

  test('a missing column and a missing table are named with the mapping key', async () => {
    const config = withMapping({ contracts: { status: 'vertragsstatus' }, documents: { table: 'crm_dokument' } });
    const problems = await checkMappingAgainstDatabase(t.db, config.crm);
    expect(problems).toEqual([
      expect.objectContaining({
        key: 'contracts.status',
        table: 'honorarvertraege',
        column: 'vertragsstatus',
        message: expect.stringContaining('column "honorarvertraege.vertragsstatus" (contracts.status) does not exist'),
      }),
      expect.objectContaining({
        key: 'documents.table',
        table: 'crm_dokument',
        message: expect.stringContaining('table "crm_dokument" (documents.table) does not exist'),
      }),
    ]);
  });

  test('worker and API refuse to start, naming the table and column', async () => {
    const config = withMapping({ signatures: { signedAt: 'zeitpunkt' } });
    await expect(createWorker(config)).rejects.toThrow(/column "unterschriften\.zeitpunkt" \(signatures\.signedAt\)/);
    await expect(runApi(config)).rejects.toThrow(/column "unterschriften\.zeitpunkt" \(signatures\.signedAt\)/);
  });

  test('a column missing at run time fails the activity non-retryably, naming the column', async () => {
    const config = withMapping({ contracts: { lastStatusChange: 'status_seit' } });
    const fresh = await insertFreshContract(t.db, t.config.crm);
    const activities = createContractActivities({ db: t.db, config });
    const err = await activities.prepareSignatureRequest(fresh.ref).then(
      () => undefined,
      (e: unknown) => e
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: ErrorCode.CRM_MAPPING_INVALID, nonRetryable: true });
    expect((err as Error).message).toContain('"status_seit"');
  });

  if (name === 'mariadb') {
    test('types that cannot hold what signflow writes are named with what to use', async () => {
      // An empty CRM of its own: narrowing columns of rows that exist would fail.
      const empty = await createTestDb(name, { seed: false });
      const crm = empty.config.crm;
      const alter = (table: string, column: string, type: string) =>
        empty.db.raw(`ALTER TABLE ?? MODIFY ?? ${type}`, [table, column]);
      await alter(crm.signatures.table, crm.signatures.signedAt, 'DATE NULL');
      await alter(crm.documents.table, crm.documents.content, 'BLOB NULL');
      await alter(crm.contracts.table, crm.contracts.status, "VARCHAR(9) NOT NULL DEFAULT 'erstellt'");
      await alter(crm.contracts.table, crm.contracts.confirmedByFreelancer, "VARCHAR(4) NOT NULL DEFAULT 'nein'");
      await alter(crm.signatures.table, crm.signatures.status, "ENUM('ausstehend','gültig') NOT NULL");
      // DATETIME without fractional seconds is fine: signing times are whole seconds.
      await alter(crm.contracts.table, crm.contracts.confirmedAt, 'DATETIME NULL');
      try {
        const problems = await checkMappingAgainstDatabase(empty.db, crm);
        const byKey = Object.fromEntries(problems.map((p) => [p.key, p.message]));
        expect(Object.keys(byKey).sort()).toEqual([
          'contracts.confirmedByFreelancer',
          'contracts.status',
          'documents.content',
          'signatures.signedAt',
          'signatures.status',
        ]);
        expect(byKey['signatures.signedAt']).toMatch(/is date, .*use DATETIME/);
        expect(byKey['documents.content']).toMatch(/is blob, .*use LONGBLOB/);
        expect(byKey['contracts.status']).toMatch(/varchar\(9\), too short for .*"in Durchführung"/);
        expect(byKey['contracts.confirmedByFreelancer']).toMatch(/varchar\(4\), but .*yes\/no values true\/false/);
        expect(byKey['signatures.status']).toMatch(/lacks "zurückgezogen", "abgelaufen"/);
      } finally {
        await alter(crm.signatures.table, crm.signatures.signedAt, 'DATETIME(3) NULL');
        await alter(crm.documents.table, crm.documents.content, 'LONGBLOB NULL');
        await alter(crm.contracts.table, crm.contracts.status, 'VARCHAR(64) NOT NULL');
        await alter(crm.contracts.table, crm.contracts.confirmedByFreelancer, 'TINYINT(1) NOT NULL DEFAULT 0');
        await alter(crm.signatures.table, crm.signatures.status, 'VARCHAR(64) NOT NULL');
        await alter(crm.contracts.table, crm.contracts.confirmedAt, 'DATETIME(3) NULL');
        expect(await checkMappingAgainstDatabase(empty.db, crm)).toEqual([]);
        await empty.destroy();
      }
    });
  }
});
