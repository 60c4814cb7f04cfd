/**
 * The Konnektor activities on a real database (SQLite, and MariaDB when SIGNFLOW_TEST_MYSQL_URL is set) against the
 * simulator: 100 contracts countersigned in 2 SignDocument calls, nothing signed twice on repeat, the comfort
 * signature running out mid-batch (the rest waits, re-activation completes it), storage as a `dokumente` row with its
 * hashes, verification, and the failure types the workflow parks on.
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { KonnektorFailureDetails } from '../../domain/konnektor-errors';
import { createKonnektorActivities, type KonnektorActivities } from '../../activities/konnektor/konnektor.activities';
import type { KonnektorClient } from '../../activities/konnektor/konnektor-client';
import { countersignRequestId, type CountersignItem } from '../../activities/konnektor/types';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import { createTestDb, testDatabases, type TestDb } from '../../harness/databases';
import { clientFor, makePdf } from './helpers';

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

const detailsOf = (f: ApplicationFailure) => f.details?.[0] as KonnektorFailureDetails;

describe.each(testDatabases())('Konnektor activities on $name', ({ name }) => {
  let t: TestDb;
  let sim: RunningKonnektorSimulator;
  let client: KonnektorClient;
  let acts: KonnektorActivities;
  let nextContract = 1000;

  /** Contract documents as the contract activities store them (PDF, linked to the contract). */
  async function contractDocuments(n: number): Promise<CountersignItem[]> {
    const d = t.config.crm.documents;
    const items: CountersignItem[] = [];
    for (let i = 0; i < n; i++) {
      const contractId = nextContract++;
      const pdf = await makePdf(`Honorarvertrag ${contractId}`);
      const [id] = await t.db(d.table).insert({
        [d.title]: `Honorarvertrag ${contractId}`,
        [d.templateKind]: 'Vertrag',
        [d.mimeType]: 'application/pdf',
        [d.content]: pdf,
        [d.md5]: createHash('md5').update(pdf).digest('hex'),
        [d.sha256]: createHash('sha256').update(pdf).digest('hex'),
        [d.linkedObjectType]: 'Honorarvertrag',
        [d.linkedObjectId]: contractId,
        [d.createdAt]: new Date(),
      });
      items.push({ contractId, workflowId: `honorarvertrag-${contractId}`, documentId: Number(id) });
    }
    return items;
  }

  beforeAll(async () => {
    [t, sim] = await Promise.all([
      createTestDb(name, { seed: false }),
      startKonnektorSimulator({ adminPort: false, maxSessionsPerCard: 10, comfort: { max: 250 } }),
    ]);
    client = clientFor(sim, { maxRequestsPerCall: 50 });
    acts = createKonnektorActivities({ konnektor: client, db: t.db, config: t.config });
  });

  afterAll(async () => {
    client?.close();
    await Promise.all([t?.destroy(), sim?.close()]);
  });

  test('before any activation: COMFORT_SIGNATURE_NOT_ACTIVE, nothing is sent to sign', async () => {
    const items = await contractDocuments(1);
    const f = await failureOf(acts.signDocuments({ items }));
    expect(f.type).toBe('COMFORT_SIGNATURE_NOT_ACTIVE');
    expect(f.nonRetryable).toBe(true);
    expect(detailsOf(f).staffAction).toMatch(/Activate the comfort signature/);
    expect(sim.admin.stats().signDocumentCalls).toBe(0);
    expect((await acts.getSignatureMode()).active).toBe(false);
  });

  test('activation (fresh UUIDv4, stored per eHBA) and the mode check', async () => {
    const card = await acts.findHbaCard();
    expect(card.iccsn).toBe(sim.hbaIccsn);
    const status = await acts.activateComfortSignature({ staffContactId: 7 });
    expect(status).toMatchObject({ active: true, comfortEnabled: true, countRemaining: 250, comfortMax: 250 });
    const row = await t.db('signflow_comfort_sessions').where('card_iccsn', sim.hbaIccsn).first();
    expect(row.user_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(row.activated_by)).toBe(7);
    expect(sim.admin.sessions().map((s) => s.userId)).toContain(row.user_id);
    expect((await acts.getSignatureMode({ iccsn: sim.hbaIccsn })).countRemaining).toBe(250);
  });

  test('100 contracts: 2 SignDocument calls of 50, stored, verifiable; a repeat signs nothing again', async () => {
    const items = await contractDocuments(100);
    const callsBefore = sim.admin.stats().signDocumentCalls;
    const sigsBefore = sim.admin.stats().signatures;
    const first = await acts.signDocuments({ items });
    expect(first.signDocumentCalls).toBe(2);
    expect(sim.admin.stats().signDocumentCalls - callsBefore).toBe(2);
    expect(sim.admin.stats().batchSizes.slice(-2)).toEqual([50, 50]);
    expect(first.signed).toHaveLength(100);
    expect(first.signed.every((s) => s.variant === 'PAdES' && !s.alreadySigned)).toBe(true);
    expect(first.signed.map((s) => s.requestId)).toEqual(items.map(countersignRequestId));
    expect(first.countRemaining).toBe(250 - 100);

    const again = await acts.signDocuments({ items });
    expect(again.signDocumentCalls).toBe(0);
    expect(again.signed.every((s) => s.alreadySigned)).toBe(true);
    expect(again.signed.map((s) => s.signatureSha256)).toEqual(first.signed.map((s) => s.signatureSha256));
    expect(sim.admin.stats().signatures - sigsBefore).toBe(100);

    // Each signature is stored as its contract's document with the batch: the contract has nothing left to store.
    const one = first.signed[3]!;
    expect(one.qesDocumentId).toBeGreaterThan(0);
    expect(new Set(first.signed.map((s) => s.qesDocumentId)).size).toBe(100);
    expect(again.signed.map((s) => s.qesDocumentId)).toEqual(first.signed.map((s) => s.qesDocumentId));
    const stored = await acts.storeCountersignature({ requestId: one.requestId });
    expect(stored).toMatchObject({
      requestId: one.requestId,
      contractId: items[3]!.contractId,
      sha256: one.signatureSha256,
      variant: 'PAdES',
      qesDocumentId: one.qesDocumentId,
      alreadyStored: true,
    });
    const d = t.config.crm.documents;
    const doc = await t.db(d.table).where(d.id, stored.qesDocumentId).first();
    expect(doc[d.templateKind]).toBe('Signatur');
    expect(doc[d.mimeType]).toBe('application/pdf');
    expect(doc[d.linkedObjectType]).toBe('Honorarvertrag');
    expect(Number(doc[d.linkedObjectId])).toBe(items[3]!.contractId);
    expect(createHash('sha256').update(doc[d.content]).digest('hex')).toBe(doc[d.sha256]);
    expect(createHash('md5').update(doc[d.content]).digest('hex')).toBe(doc[d.md5]);
    const storedAgain = await acts.storeCountersignature({ requestId: one.requestId });
    expect(storedAgain).toMatchObject({ qesDocumentId: stored.qesDocumentId, alreadyStored: true });
    expect(await t.db(d.table).where(d.templateKind, 'Signatur').count({ n: '*' })).toEqual([{ n: 100 }]);

    const verified = await acts.verifyDocument({ qesDocumentId: stored.qesDocumentId });
    expect(verified).toMatchObject({ highLevelResult: 'VALID', valid: true, storedHashMatches: true });
    // Someone changes the stored signature document: the check says so.
    const tampered = Buffer.from(doc[d.content]);
    const at = tampered.length - 20;
    tampered[at] = tampered[at]! ^ 0x01;
    await t
      .db(d.table)
      .where(d.id, stored.qesDocumentId)
      .update({ [d.content]: tampered });
    const afterTamper = await acts.verifyDocument({ requestId: one.requestId });
    expect(afterTamper.valid).toBe(false);
    expect(afterTamper.storedHashMatches).toBe(false);
  });

  test('CAdES detached for a non-PDF document, stored as .p7s and verified against the original', async () => {
    const d = t.config.crm.documents;
    const content = Buffer.from('Anlage zum Honorarvertrag\n');
    const [id] = await t.db(d.table).insert({
      [d.title]: 'Anlage',
      [d.templateKind]: 'Vertrag',
      [d.mimeType]: 'text/plain',
      [d.content]: content,
      [d.linkedObjectType]: 'Honorarvertrag',
      [d.linkedObjectId]: 999,
      [d.createdAt]: new Date(),
    });
    const item = { contractId: 999, workflowId: 'honorarvertrag-999', documentId: Number(id) };
    const res = await acts.signDocuments({ items: [item] });
    expect(res.signed[0]!.variant).toBe('CAdES');
    const stored = await acts.storeCountersignature({ requestId: res.signed[0]!.requestId });
    const doc = await t.db(d.table).where(d.id, stored.qesDocumentId).first();
    expect(doc[d.mimeType]).toBe('application/pkcs7-signature');
    expect(doc[d.title]).toMatch(/p7s/);
    expect((await acts.verifyDocument({ requestId: res.signed[0]!.requestId })).valid).toBe(true);
  });

  test('comfort signature runs out mid-batch: what fits is signed, the rest waits; after re-activation all complete, none twice', async () => {
    sim.admin.setComfort({ max: 30 });
    await acts.activateComfortSignature({});
    const items = await contractDocuments(50);
    const sigsBefore = sim.admin.stats().signatures;
    const f = await failureOf(acts.signDocuments({ items }));
    expect(f.type).toBe('COMFORT_SIGNATURE_EXPIRED');
    expect(f.nonRetryable).toBe(true);
    const signedIds = detailsOf(f).signedRequestIds!;
    expect(signedIds).toHaveLength(30);
    expect(signedIds).toEqual(items.slice(0, 30).map(countersignRequestId));
    expect(sim.admin.stats().signatures - sigsBefore).toBe(30);
    expect((await acts.getSignatureMode()).active).toBe(false);

    // Parking again without re-activation: the session is known to have ended.
    const parked = await failureOf(acts.signDocuments({ items }));
    expect(parked.type).toBe('COMFORT_SIGNATURE_EXPIRED');
    expect(detailsOf(parked).signedRequestIds).toHaveLength(30);

    await acts.activateComfortSignature({});
    const done = await acts.signDocuments({ items });
    expect(done.signed.filter((s) => s.alreadySigned)).toHaveLength(30);
    expect(done.signed.filter((s) => !s.alreadySigned)).toHaveLength(20);
    expect(sim.admin.stats().signatures - sigsBefore).toBe(50);
    const rows = await t.db('signflow_qes').whereIn('request_id', items.map(countersignRequestId));
    expect(rows).toHaveLength(50);
    sim.admin.setComfort({ max: 250 });
  });

  test('the Konnektor ending the session (timer) parks with the gematik code; transient faults are retryable', async () => {
    sim.admin.setComfort({ timerSeconds: 3600 });
    await acts.activateComfortSignature({});
    const items = await contractDocuments(2);
    sim.admin.faults.failNext(4060, 1, ['SignDocument']);
    const busy = await failureOf(acts.signDocuments({ items }));
    expect(busy.type).toBe('KONNEKTOR_BUSY');
    expect(busy.nonRetryable).toBe(false);
    expect(detailsOf(busy).gematikCode).toBe(4060);

    sim.admin.faults.failNext(4271, 1, ['SignDocument']);
    const ended = await failureOf(acts.signDocuments({ items }));
    expect(ended.type).toBe('COMFORT_SIGNATURE_EXPIRED');
    expect(detailsOf(ended).gematikCode).toBe(4271);

    sim.admin.advanceClock(3601_000);
    const expired = await failureOf(acts.signDocuments({ items }));
    expect(expired.type).toBe('COMFORT_SIGNATURE_EXPIRED');
    sim.admin.setComfort({ timerSeconds: 6 * 3600 });
  });

  test('PIN problems at activation and the pulled eHBA are named causes', async () => {
    sim.admin.setPin({ outcome: 'wrong' });
    expect((await failureOf(acts.activateComfortSignature({}))).type).toBe('PIN_WRONG');
    sim.admin.setPin({ outcome: 'blocked' });
    const blocked = await failureOf(acts.activateComfortSignature({}));
    expect([blocked.type, detailsOf(blocked).gematikCode]).toEqual(['PIN_BLOCKED', 4275]);
    sim.admin.setPin({ outcome: 'ok' });
    const still = await failureOf(acts.activateComfortSignature({}));
    expect([still.type, detailsOf(still).gematikCode]).toEqual(['PIN_BLOCKED', 4063]);

    sim.admin.setHbaInserted(false);
    const missing = await failureOf(acts.getSignatureMode());
    expect(missing.type).toBe('CARD_MISSING');
    expect(missing.nonRetryable).toBe(true);
    sim.admin.setHbaInserted(true);
    expect((await acts.activateComfortSignature({})).active).toBe(true);
  });

  test('two batches of one eHBA at once: the second is prepared meanwhile but reaches the card only after the first answered', async () => {
    const [a, b] = [await contractDocuments(5), await contractDocuments(5)];
    sim.admin.faults.set({ operationLatencyMs: { SignDocument: 300 }, perDocumentLatencyMs: 20 });
    sim.admin.clearCalls();
    try {
      const [ra, rb] = await Promise.all([
        acts.signDocuments({ items: a }),
        acts.signDocuments({ items: b, ahead: 5 }),
      ]);
      expect([...ra.signed, ...rb.signed].every((s) => !s.alreadySigned && (s.qesDocumentId ?? 0) > 0)).toBe(true);
      expect(rb.deferred).toBeUndefined();
    } finally {
      sim.admin.faults.set({ operationLatencyMs: {}, perDocumentLatencyMs: 0 });
    }
    const calls = [...sim.admin.cardCalls()].sort((x, y) => x.receivedAt - y.receivedAt);
    expect(calls.map((c) => c.documents)).toEqual([5, 5]);
    // One SignDocument at a time per card from this worker: the second was sent after the first's answer.
    expect(calls[1]!.receivedAt).toBeGreaterThanOrEqual(calls[0]!.answeredAt);
  });

  test('signatures ahead are taken off the session: what they may have used is deferred, not failed, and never sent', async () => {
    await acts.deactivateComfortSignature({});
    sim.admin.setComfort({ max: 8 });
    await acts.activateComfortSignature({});
    try {
      const items = await contractDocuments(6);
      const sigsBefore = sim.admin.stats().signatures;
      // 5 signatures of an earlier call may still be on the card: of the session's 8, 3 are left for this one.
      const r = await acts.signDocuments({ items, ahead: 5 });
      expect(r.signed.map((s) => s.requestId)).toEqual(items.slice(0, 3).map(countersignRequestId));
      expect(r.deferred).toEqual(items.slice(3).map(countersignRequestId));
      expect(sim.admin.stats().signatures - sigsBefore).toBe(3);
      // Nothing ahead: the session's real rest (5) is signed, then the used-up session is a needs-a-person failure.
      const more = await contractDocuments(3);
      const f = await failureOf(acts.signDocuments({ items: [...items.slice(3), ...more] }));
      expect(f.type).toBe('COMFORT_SIGNATURE_EXPIRED');
      expect(detailsOf(f).signedRequestIds).toHaveLength(5);
      expect(sim.admin.stats().signatures - sigsBefore).toBe(8);
      // Everything ahead, nothing left: no call at all.
      await acts.activateComfortSignature({});
      const calls = sim.admin.stats().signDocumentCalls;
      const fresh = await contractDocuments(2);
      const none = await acts.signDocuments({ items: fresh, ahead: 8 });
      expect(none).toMatchObject({ signed: [], signDocumentCalls: 0 });
      expect(none.deferred).toEqual(fresh.map(countersignRequestId));
      expect(sim.admin.stats().signDocumentCalls).toBe(calls);
    } finally {
      await acts.deactivateComfortSignature({});
      sim.admin.setComfort({ max: 250 });
      await acts.activateComfortSignature({});
    }
  });

  test('deactivation ends the session', async () => {
    const res = await acts.deactivateComfortSignature({});
    expect(res.warnings).toEqual([]);
    expect((await acts.getSignatureMode()).active).toBe(false);
    const items = await contractDocuments(1);
    expect((await failureOf(acts.signDocuments({ items }))).type).toBe('COMFORT_SIGNATURE_NOT_ACTIVE');
  });
});
