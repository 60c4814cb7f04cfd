/**
 * `revertSignatureRequest` (the workflow's compensation and `signflow repair`): a request whose workflow failed after
 * writing is undone: the pending signature is voided, the contract gets its status before `versendet` back, the request
 * row goes and the workflow's mail rows are renamed, so a new start prepares and mails afresh. A `gültig` signature is
 * never touched; a second run changes nothing.
 */
import { createContractActivities } from '../../../activities/contract.activities';
import { revertSignatureRequest } from '../../../activities/contract/revert-request';
import { readContract, readSignature } from '../../../db/crm-repository';
import { createTestDb, testDatabases, type TestDb } from '../../../harness/databases';
import { countRows, insertFreshContract, snapshotTables } from './fixtures';

describe.each(testDatabases())('revertSignatureRequest on $name', ({ name }) => {
  let t: TestDb;
  let activities: ReturnType<typeof createContractActivities>;

  beforeAll(async () => {
    t = await createTestDb(name);
    activities = createContractActivities({ db: t.db, config: t.config });
  });
  afterAll(async () => {
    await t?.destroy();
  });

  test('a stuck contract (pending signature, versendet) is given back and can be prepared again', async () => {
    const crm = t.config.crm;
    const fresh = await insertFreshContract(t.db, crm);
    const before = await readContract(t.db, crm, fresh.contractId);
    const prep = await activities.prepareSignatureRequest(fresh.ref);
    expect((await readContract(t.db, crm, fresh.contractId))?.status).toBe(crm.values.contractSent);
    await t.db('signflow_mails').insert({
      mail_key: `${fresh.ref.workflowId}:invitation`,
      workflow_id: fresh.ref.workflowId,
      contract_id: fresh.contractId,
      kind: 'invitation',
      recipient: 'x@example.org',
      subject: 's',
      status: 'sending',
      created_at: new Date(),
    });

    const result = await revertSignatureRequest(t.db, t.config, { ...fresh.ref, reason: 'repair', at: new Date() });
    expect(result).toMatchObject({ result: 'reverted', signatureId: prep.signatureId, contractStatus: before?.status });
    expect((await readSignature(t.db, crm, prep.signatureId))?.status).toBe(crm.values.signatureWithdrawn);
    expect((await readContract(t.db, crm, fresh.contractId))?.status).toBe(before?.status);
    expect(await countRows(t.db, 'signflow_requests', { workflow_id: fresh.ref.workflowId })).toBe(0);
    expect(await countRows(t.db, 'signflow_mails', { mail_key: `${fresh.ref.workflowId}:invitation` })).toBe(0);
    expect(await countRows(t.db, 'signflow_audit_events', { event: 'signature-request-reverted' })).toBeGreaterThan(0);

    // Idempotent: nothing left to undo, nothing changes.
    const snapshot = await snapshotTables(t.db, crm);
    expect(await revertSignatureRequest(t.db, t.config, { ...fresh.ref, reason: 'repair', at: new Date() })).toEqual({
      result: 'nothing-to-revert',
    });
    expect(await snapshotTables(t.db, crm)).toEqual(snapshot);

    // A new start prepares a fresh request.
    const again = await activities.prepareSignatureRequest(fresh.ref);
    expect(again.signatureId).not.toBe(prep.signatureId);
    expect((await readSignature(t.db, crm, again.signatureId))?.status).toBe(crm.values.signaturePending);
  });

  test('a valid signature is never reverted', async () => {
    const crm = t.config.crm;
    const fresh = await insertFreshContract(t.db, crm);
    const prep = await activities.prepareSignatureRequest(fresh.ref);
    await activities.recordSignature({
      ...fresh.ref,
      signatureId: prep.signatureId,
      contactId: prep.contactId,
      method: 'click',
      signedAt: new Date().toISOString(),
    });
    const snapshot = await snapshotTables(t.db, crm);
    expect(await revertSignatureRequest(t.db, t.config, { ...fresh.ref, reason: 'repair', at: new Date() })).toEqual({
      result: 'already-valid',
      signatureId: prep.signatureId,
    });
    expect(await snapshotTables(t.db, crm)).toEqual(snapshot);
  });
});
