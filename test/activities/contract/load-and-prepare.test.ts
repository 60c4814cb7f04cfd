/**
 * `loadAndPrepareSignatureRequest` (steps 1 and 2 in one activity, the contract workflow's lean path): it refuses what
 * `loadContract` refuses, with the same non-retryable codes, before writing anything; it writes what
 * `prepareSignatureRequest` writes; a retry returns the stored request and writes nothing more. SQLite and MariaDB.
 */
import { createContractActivities } from '../../../activities/contract.activities';
import { ErrorCode } from '../../../domain/errors';
import { contractWorkflowId } from '../../../workflows/definitions';
import { createTestDb, testDatabases, type TestDb } from '../../../harness/databases';
import { countRows, expectRejected, insertFreshContract, snapshotTables } from './fixtures';

describe.each(testDatabases())('loadAndPrepareSignatureRequest on $name', ({ name }) => {
  let t: TestDb;
  let activities: ReturnType<typeof createContractActivities>;

  beforeAll(async () => {
    t = await createTestDb(name);
    activities = createContractActivities({ db: t.db, config: t.config });
  });
  afterAll(async () => {
    await t?.destroy();
  });

  test('writes the request once: document, pending signature, contract versendet; a retry returns the same', async () => {
    const fresh = await insertFreshContract(t.db, t.config.crm);
    const first = await activities.loadAndPrepareSignatureRequest(fresh.ref);
    expect(first).toMatchObject({ contractId: fresh.contractId, contactId: fresh.contactId });
    const crm = t.config.crm;
    const contract = await t.db(crm.contracts.table).where(crm.contracts.id, fresh.contractId).first();
    expect(contract[crm.contracts.status]).toBe(t.config.crm.values.contractSent);
    const signature = await t.db(crm.signatures.table).where(crm.signatures.id, first.signatureId).first();
    expect(signature[crm.signatures.status]).toBe(t.config.crm.values.signaturePending);
    expect(Number(signature[crm.signatures.documentId])).toBe(first.documentId);

    const before = await snapshotTables(t.db, crm);
    expect(await activities.loadAndPrepareSignatureRequest(fresh.ref)).toEqual(first);
    expect(await snapshotTables(t.db, crm)).toEqual(before);
    expect(await countRows(t.db, crm.documents.table, { [crm.documents.linkedObjectId]: fresh.contractId })).toBe(1);
  });

  test.each([
    ['CONTRACT_NOT_FOUND', async () => ({ contractId: 987654, workflowId: contractWorkflowId(987654) })],
    ['CONTACT_NOT_FOUND', async () => (await insertFreshContract(t.db, t.config.crm, { contactId: 555555 })).ref],
    ['CONTACT_EMAIL_INVALID', async () => (await insertFreshContract(t.db, t.config.crm, { email: 'kaputt' })).ref],
    [
      'CONTRACT_NOT_SENDABLE',
      async () =>
        (await insertFreshContract(t.db, t.config.crm, { status: t.config.crm.values.contractInProgress })).ref,
    ],
  ] as const)('%s: refused before the first write, nothing changes', async (code, refFor) => {
    const ref = await refFor();
    const before = await snapshotTables(t.db, t.config.crm);
    await expectRejected(activities.loadAndPrepareSignatureRequest(ref), ErrorCode[code]);
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });

  test('a mail that cannot be rendered (empty title) is refused like loadContract refuses it, nothing written', async () => {
    const fresh = await insertFreshContract(t.db, t.config.crm);
    const c = t.config.crm.contracts;
    await t
      .db(c.table)
      .where(c.id, fresh.contractId)
      .update({ [c.title]: '' });
    const loadFailure = await activities.loadContract(fresh.ref).then(
      () => undefined,
      (e: unknown) => e as { type?: string }
    );
    expect(loadFailure?.type).toBeDefined();
    const before = await snapshotTables(t.db, t.config.crm);
    await expectRejected(activities.loadAndPrepareSignatureRequest(fresh.ref), loadFailure?.type as ErrorCode);
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });
});
