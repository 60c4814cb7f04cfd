/**
 * Step 1, `loadContract`: validates without writing. Each validation error code, against real SQLite and MariaDB.
 */
import { createContractActivities } from '../../../activities/contract.activities';
import { ErrorCode } from '../../../domain/errors';
import { isValidEmailAddress } from '../../../domain/email-address';
import { contractWorkflowId } from '../../../workflows/definitions';
import { createTestDb, testDatabases, type TestDb } from '../../../harness/databases';
import { expectRejected, insertFreshContract, snapshotTables } from './fixtures';

describe.each(testDatabases())('loadContract on $name', ({ name }) => {
  let t: TestDb;
  let activities: ReturnType<typeof createContractActivities>;

  beforeAll(async () => {
    t = await createTestDb(name);
    activities = createContractActivities({ db: t.db, config: t.config });
  });
  afterAll(async () => {
    await t?.destroy();
  });

  test('a seeded sendable contract validates and nothing is written', async () => {
    const contractId = t.seed.contractIds[0]!;
    const before = await snapshotTables(t.db, t.config.crm);
    const snapshot = await activities.loadContract({ contractId, workflowId: contractWorkflowId(contractId) });
    expect(snapshot).toEqual({
      contractId,
      contactId: t.seed.contactIds[0],
      status: 'erstellt',
      alreadyPrepared: false,
    });
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });

  test('CONTRACT_NOT_FOUND for an unknown id', async () => {
    const before = await snapshotTables(t.db, t.config.crm);
    const failure = await expectRejected(
      activities.loadContract({ contractId: 987654, workflowId: contractWorkflowId(987654) }),
      ErrorCode.CONTRACT_NOT_FOUND
    );
    expect(failure.message).toBe('Contract 987654 does not exist.');
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });

  test('CONTACT_NOT_FOUND when the contract points at a deleted contact', async () => {
    const fresh = await insertFreshContract(t.db, t.config.crm, { contactId: 555555 });
    const before = await snapshotTables(t.db, t.config.crm);
    const failure = await expectRejected(activities.loadContract(fresh.ref), ErrorCode.CONTACT_NOT_FOUND);
    expect(failure.message).toBe(`Contact 555555 of contract ${fresh.contractId} does not exist.`);
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });

  test('CONTACT_EMAIL_INVALID for the seeded contact with a broken address, without personal data', async () => {
    const contractId = t.seed.invalidEmailContractId;
    const before = await snapshotTables(t.db, t.config.crm);
    const failure = await expectRejected(
      activities.loadContract({ contractId, workflowId: contractWorkflowId(contractId) }),
      ErrorCode.CONTACT_EMAIL_INVALID,
      ['max.ohnemail(at)example.org', 'Ohnemail', 'Max']
    );
    expect(failure.message).toBe(
      `Contact ${t.seed.invalidEmailContactId} of contract ${contractId} has no valid e-mail address.`
    );
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });

  test.each([null, '', 'lena@', '@example.org', 'lena example@example.org', 'lena@example', 'lena..x@example.org'])(
    'CONTACT_EMAIL_INVALID for e-mail %p',
    async (email) => {
      const fresh = await insertFreshContract(t.db, t.config.crm, { email });
      await expectRejected(activities.loadContract(fresh.ref), ErrorCode.CONTACT_EMAIL_INVALID, [
        fresh.firstName,
        fresh.lastName,
      ]);
    }
  );

  test('CONTRACT_NOT_SENDABLE for the seeded contract already in Durchführung', async () => {
    const contractId = t.seed.inProgressContractId;
    const before = await snapshotTables(t.db, t.config.crm);
    const failure = await expectRejected(
      activities.loadContract({ contractId, workflowId: contractWorkflowId(contractId) }),
      ErrorCode.CONTRACT_NOT_SENDABLE
    );
    expect(failure.message).toContain(`Contract ${contractId} has status "in Durchführung"`);
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });

  test('alreadyPrepared once this workflow prepared the request, although the contract is now versendet', async () => {
    const fresh = await insertFreshContract(t.db, t.config.crm);
    await activities.prepareSignatureRequest(fresh.ref);
    expect(await activities.loadContract(fresh.ref)).toEqual({
      contractId: fresh.contractId,
      contactId: fresh.contactId,
      status: 'versendet',
      alreadyPrepared: true,
    });
    // Another workflow id for the same, now sent, contract is not allowed to send it again.
    await expectRejected(
      activities.loadContract({ ...fresh.ref, workflowId: `${fresh.ref.workflowId}-other` }),
      ErrorCode.CONTRACT_NOT_SENDABLE
    );
  });
});

describe('isValidEmailAddress', () => {
  test.each([
    ['anna.mueller@example.org', true],
    ['a+b@sub.example.org', true],
    ['jörg@müller.example', true],
    ['max.ohnemail(at)example.org', false],
    ['anna@example.', false],
    ['.anna@example.org', false],
    ['anna@-example.org', false],
    [`${'a'.repeat(65)}@example.org`, false],
  ])('%s → %s', (address, valid) => {
    expect(isValidEmailAddress(address)).toBe(valid);
  });
});
