/**
 * Step 5, staff door: `recordManualConfirmation`. The contract as on a signature with the staff member as confirmed-by;
 * the signature `gültig` by authenticated click with the staff member as its user.
 */
import { createContractActivities } from '../../../activities/contract.activities';
import { readContract, readDocument, readSignature } from '../../../db/crm-repository';
import { ErrorCode } from '../../../domain/errors';
import { sha256Hex, signatureMd5 } from '../../../domain/signature-hash';
import { createTestDb, testDatabases, type TestDb } from '../../../harness/databases';
import { expectRejected, insertFreshContract, snapshotTables } from './fixtures';

describe.each(testDatabases())('recordManualConfirmation on $name', ({ name }) => {
  let t: TestDb;
  let activities: ReturnType<typeof createContractActivities>;

  beforeAll(async () => {
    t = await createTestDb(name);
    activities = createContractActivities({ db: t.db, config: t.config });
  });
  afterAll(async () => {
    await t?.destroy();
  });

  async function prepared() {
    const fresh = await insertFreshContract(t.db, t.config.crm);
    return { fresh, prep: await activities.prepareSignatureRequest(fresh.ref) };
  }

  test('writes the staff confirmation exactly, and the MD5 recomputes from the database', async () => {
    const crm = t.config.crm;
    const { fresh, prep } = await prepared();
    const staff = t.seed.staffContactId;
    const contractBefore = (await readContract(t.db, crm, fresh.contractId))!;
    // Whole seconds are stored and hashed (domain/signature-hash.ts).
    const confirmedAt = '2026-11-28T14:05:09.000Z';

    const outcome = await activities.recordManualConfirmation({
      ...fresh.ref,
      signatureId: prep.signatureId,
      staffContactId: staff,
      confirmedAt: '2026-11-28T14:05:09.321Z',
    });

    const document = (await readDocument(t.db, crm, prep.documentId))!;
    const md5Hash = signatureMd5({
      documentSha256: sha256Hex(document.content!),
      signerContactId: staff,
      method: 'staff',
      signedAt: confirmedAt,
    });
    expect(outcome).toEqual({
      kind: 'confirmed',
      signatureId: prep.signatureId,
      userContactId: staff,
      method: 'staff',
      confirmedAt,
      md5Hash,
    });
    expect(await readSignature(t.db, crm, prep.signatureId)).toEqual({
      id: prep.signatureId,
      status: 'gültig',
      contactId: fresh.contactId,
      documentId: prep.documentId,
      linkedObjectType: 'Honorarvertrag',
      linkedObjectId: fresh.contractId,
      byAuthenticatedClick: true,
      imageDocumentId: null,
      userId: staff,
      md5Hash,
      signedAt: new Date(confirmedAt),
    });
    expect(await readContract(t.db, crm, fresh.contractId)).toEqual({
      ...contractBefore,
      status: 'in Durchführung',
      confirmedByFreelancer: true,
      lastStatusChange: new Date(confirmedAt),
      confirmedAt: new Date(confirmedAt),
      confirmedBy: staff,
    });
    const audit = await t.db('signflow_audit_events').where({ workflow_id: fresh.ref.workflowId }).orderBy('id');
    expect(audit.map((a: { event: string }) => a.event)).toEqual([
      'signature-request-prepared',
      'signature-confirmed-manually',
    ]);
  });

  test('a retry returns the stored outcome and changes nothing', async () => {
    const { fresh, prep } = await prepared();
    const input = {
      ...fresh.ref,
      signatureId: prep.signatureId,
      staffContactId: t.seed.staffContactId,
      confirmedAt: '2026-11-28T15:00:00.000Z',
    };
    const first = await activities.recordManualConfirmation(input);
    const after = await snapshotTables(t.db, t.config.crm);
    expect(await activities.recordManualConfirmation(input)).toEqual(first);
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(after);
  });

  test('the same Update again with a later time (a local activity after a lost workflow task) returns the stored outcome', async () => {
    const { fresh, prep } = await prepared();
    const input = {
      ...fresh.ref,
      signatureId: prep.signatureId,
      staffContactId: t.seed.staffContactId,
      confirmedAt: '2026-11-28T15:00:00.000Z',
      updateId: 'update-of-the-staff-desk',
    };
    const first = await activities.recordManualConfirmation(input);
    const after = await snapshotTables(t.db, t.config.crm);
    expect(await activities.recordManualConfirmation({ ...input, confirmedAt: '2026-11-28T15:00:42.000Z' })).toEqual(
      first
    );
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(after);
    // Another Update at another time is refused as before.
    await expectRejected(
      activities.recordManualConfirmation({ ...input, confirmedAt: '2026-11-28T15:00:42.000Z', updateId: 'other' }),
      ErrorCode.SIGNATURE_ALREADY_CONFIRMED
    );
    // The same Update id on the signature door is not this confirmation.
    await expectRejected(
      activities.recordSignature({
        ...fresh.ref,
        signatureId: prep.signatureId,
        contactId: fresh.contactId,
        method: 'click',
        signedAt: '2026-11-28T15:00:42.000Z',
        updateId: input.updateId,
      }),
      ErrorCode.SIGNATURE_ALREADY_CONFIRMED
    );
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(after);
  });

  test('after the contact signed: SIGNATURE_ALREADY_CONFIRMED and nothing changes', async () => {
    const { fresh, prep } = await prepared();
    await activities.recordSignature({
      ...fresh.ref,
      signatureId: prep.signatureId,
      contactId: fresh.contactId,
      method: 'click',
      signedAt: '2026-11-28T15:00:00.000Z',
    });
    const after = await snapshotTables(t.db, t.config.crm);
    await expectRejected(
      activities.recordManualConfirmation({
        ...fresh.ref,
        signatureId: prep.signatureId,
        staffContactId: t.seed.staffContactId,
        confirmedAt: '2026-11-28T15:00:00.000Z',
      }),
      ErrorCode.SIGNATURE_ALREADY_CONFIRMED
    );
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(after);
  });

  test('CONTACT_NOT_FOUND for an unknown staff contact rolls everything back', async () => {
    const { fresh, prep } = await prepared();
    const before = await snapshotTables(t.db, t.config.crm);
    await expectRejected(
      activities.recordManualConfirmation({
        ...fresh.ref,
        signatureId: prep.signatureId,
        staffContactId: 777777,
        confirmedAt: '2026-11-28T15:00:00.000Z',
      }),
      ErrorCode.CONTACT_NOT_FOUND
    );
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });

  test('a withdrawn request cannot be confirmed', async () => {
    const { fresh, prep } = await prepared();
    await activities.voidSignatureRequest({
      ...fresh.ref,
      signatureId: prep.signatureId,
      reason: 'withdrawn',
      at: '2026-11-28T09:00:00.000Z',
      staffContactId: t.seed.staffContactId,
    });
    const before = await snapshotTables(t.db, t.config.crm);
    await expectRejected(
      activities.recordManualConfirmation({
        ...fresh.ref,
        signatureId: prep.signatureId,
        staffContactId: t.seed.staffContactId,
        confirmedAt: '2026-11-28T15:00:00.000Z',
      }),
      ErrorCode.SIGNATURE_WITHDRAWN
    );
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });
});
