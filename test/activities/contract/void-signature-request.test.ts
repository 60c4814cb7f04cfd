/**
 * `voidSignatureRequest`: withdraw or expire a pending signature. The contract is never changed, a `gültig` signature
 * is never touched, and a repeated call changes nothing.
 */
import { createContractActivities } from '../../../activities/contract.activities';
import { readContract, readSignature } from '../../../db/crm-repository';
import { ErrorCode } from '../../../domain/errors';
import { createTestDb, testDatabases, type TestDb } from '../../../harness/databases';
import { expectRejected, insertFreshContract, snapshotTables } from './fixtures';

describe.each(testDatabases())('voidSignatureRequest on $name', ({ name }) => {
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

  test.each([
    ['withdrawn', 'zurückgezogen', 'signature-withdrawn'],
    ['expired', 'abgelaufen', 'signature-expired'],
  ] as const)('%s: the signature becomes %s, the contract stays as it was', async (reason, label, event) => {
    const crm = t.config.crm;
    const { fresh, prep } = await prepared();
    const signatureBefore = (await readSignature(t.db, crm, prep.signatureId))!;
    const contractBefore = await readContract(t.db, crm, fresh.contractId);
    const at = '2026-12-01T06:00:00.250Z';

    const result = await activities.voidSignatureRequest({
      ...fresh.ref,
      signatureId: prep.signatureId,
      reason,
      at,
      staffContactId: reason === 'withdrawn' ? t.seed.staffContactId : undefined,
      withdrawalReason: reason === 'withdrawn' ? 'Honorar geändert, Vertrag folgt neu' : undefined,
    });
    expect(result).toEqual({ result: 'voided' });
    expect(await readSignature(t.db, crm, prep.signatureId)).toEqual({ ...signatureBefore, status: label });
    expect(await readContract(t.db, crm, fresh.contractId)).toEqual(contractBefore);
    const raw = await t.db('unterschriften').where('id', prep.signatureId).first();
    expect(raw.status).toBe(label);

    const audit = await t.db('signflow_audit_events').where({ workflow_id: fresh.ref.workflowId, event });
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0].detail)).toEqual({
      signatureId: prep.signatureId,
      staffContactId: reason === 'withdrawn' ? t.seed.staffContactId : null,
      // The withdrawal's reason, where the CRM can read it (an expiry has none).
      ...(reason === 'withdrawn' ? { reason: 'Honorar geändert, Vertrag folgt neu' } : {}),
    });

    // Again, and with the other reason: nothing changes any more.
    const after = await snapshotTables(t.db, crm);
    const input = { ...fresh.ref, signatureId: prep.signatureId, at };
    expect(await activities.voidSignatureRequest({ ...input, reason })).toEqual({ result: 'already-voided' });
    expect(
      await activities.voidSignatureRequest({ ...input, reason: reason === 'withdrawn' ? 'expired' : 'withdrawn' })
    ).toEqual({ result: 'already-voided' });
    expect(await snapshotTables(t.db, crm)).toEqual(after);
  });

  test('a gültig signature is never touched', async () => {
    const { fresh, prep } = await prepared();
    await activities.recordSignature({
      ...fresh.ref,
      signatureId: prep.signatureId,
      contactId: fresh.contactId,
      method: 'click',
      signedAt: '2026-12-01T07:00:00.000Z',
    });
    const after = await snapshotTables(t.db, t.config.crm);
    for (const reason of ['withdrawn', 'expired'] as const) {
      expect(
        await activities.voidSignatureRequest({
          ...fresh.ref,
          signatureId: prep.signatureId,
          reason,
          at: '2026-12-01T08:00:00.000Z',
        })
      ).toEqual({ result: 'already-valid' });
    }
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(after);
  });

  test('INVALID_SIGNATURE_INPUT for a signature of another contract or a bad time, nothing written', async () => {
    const a = await prepared();
    const b = await prepared();
    const before = await snapshotTables(t.db, t.config.crm);
    await expectRejected(
      activities.voidSignatureRequest({
        ...a.fresh.ref,
        signatureId: b.prep.signatureId,
        reason: 'withdrawn',
        at: '2026-12-01T08:00:00.000Z',
      }),
      ErrorCode.INVALID_SIGNATURE_INPUT
    );
    await expectRejected(
      activities.voidSignatureRequest({
        ...a.fresh.ref,
        signatureId: a.prep.signatureId,
        reason: 'withdrawn',
        at: 'x',
      }),
      ErrorCode.INVALID_SIGNATURE_INPUT
    );
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });
});
