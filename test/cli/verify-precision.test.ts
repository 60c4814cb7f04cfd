/**
 * `signflow verify <contractId>` against what the CRM actually stores: a MariaDB signing-time column declared plain
 * `DATETIME` (no fractional seconds, the common case in a CRM) and `DATETIME(3)`. The signature is recorded by the real
 * activity with a time that has milliseconds, as a click at the door has; verify must match on both columns. Also:
 * `--signature <id>` for the other way in, a contract without a signature, and a signature written before signing
 * times were cut to whole seconds (its hash has milliseconds the column dropped).
 */
import { createContractActivities } from '../../activities/contract.activities';
import { readSignature } from '../../db/crm-repository';
import { sha256Hex, signatureMd5 } from '../../domain/signature-hash';
import { createTestDb, testDatabases, type TestDb } from '../../harness/databases';
import { insertFreshContract } from '../activities/contract/fixtures';
import { runCli } from './run-cli';

const cases = testDatabases().flatMap((d) =>
  d.name === 'mariadb'
    ? [
        { db: d, column: 'DATETIME' },
        { db: d, column: 'DATETIME(3)' },
      ]
    : [{ db: d, column: 'as migrated' }]
);

describe.each(cases)('verify on $db.name with a signing-time column $column', ({ db, column }) => {
  let t: TestDb;
  let activities: ReturnType<typeof createContractActivities>;
  let env: Record<string, string>;

  beforeAll(async () => {
    t = await createTestDb(db.name);
    const s = t.config.crm.signatures;
    if (column !== 'as migrated') await t.db.raw(`ALTER TABLE ?? MODIFY ?? ${column} NULL`, [s.table, s.signedAt]);
    activities = createContractActivities({ db: t.db, config: t.config });
    env = { SIGNFLOW_DATABASE_URL: t.url };
  });
  afterAll(async () => {
    await t?.destroy();
  });

  async function signedContract(signedAt: string) {
    const fresh = await insertFreshContract(t.db, t.config.crm);
    const prep = await activities.prepareSignatureRequest(fresh.ref);
    const outcome = await activities.recordSignature({
      ...fresh.ref,
      signatureId: prep.signatureId,
      contactId: fresh.contactId,
      method: 'click',
      signedAt,
    });
    return { fresh, prep, outcome };
  }

  test('a click with milliseconds verifies by contract id, from what the column keeps', async () => {
    const { fresh, prep, outcome } = await signedContract('2026-11-23T17:30:00.789Z');
    // The time the CRM holds is the time that was hashed: whole seconds.
    expect(outcome.confirmedAt).toBe('2026-11-23T17:30:00.000Z');
    const stored = await readSignature(t.db, t.config.crm, prep.signatureId);
    expect(stored?.signedAt?.toISOString()).toBe('2026-11-23T17:30:00.000Z');

    const run = await runCli(['verify', String(fresh.contractId), '--json'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({
      contractId: fresh.contractId,
      signatureId: prep.signatureId,
      match: true,
      storedMd5: outcome.md5Hash,
    });
    expect(run.json().signedAtRecovered).toBeUndefined();

    const bySignature = await runCli(['verify', '--signature', String(prep.signatureId)], env);
    expect(bySignature.code).toBe(0);
    expect(bySignature.stdout).toContain(`contract ${fresh.contractId}, signature ${prep.signatureId}: MD5 matches`);
  });

  test('a changed signing time is still a mismatch', async () => {
    const { fresh, prep } = await signedContract('2026-11-23T18:00:00.250Z');
    const s = t.config.crm.signatures;
    await t
      .db(s.table)
      .where(s.id, prep.signatureId)
      .update({ [s.signedAt]: new Date('2026-11-23T18:00:01.000Z') });
    const run = await runCli(['verify', String(fresh.contractId), '--json'], env);
    expect(run.code).toBe(1);
    expect(run.json()).toMatchObject({ match: false, contractId: fresh.contractId });
  });

  test('a contract without a signature, an unknown contract and both ids at once are refused clearly', async () => {
    const fresh = await insertFreshContract(t.db, t.config.crm);
    const none = await runCli(['verify', String(fresh.contractId), '--json'], env);
    expect(none.code).toBe(3);
    expect(none.json().error).toMatchObject({ code: 'SIGNATURE_NOT_FOUND', details: { contractId: fresh.contractId } });

    await activities.prepareSignatureRequest(fresh.ref);
    const pending = await runCli(['verify', String(fresh.contractId), '--json'], env);
    expect(pending.code).toBe(1);
    expect(pending.json().error.code).toBe('SIGNATURE_NOT_SIGNED');

    const unknown = await runCli(['verify', '987654', '--json'], env);
    expect(unknown.code).toBe(3);
    expect(unknown.json().error.code).toBe('CONTRACT_NOT_FOUND');

    const both = await runCli(['verify', '1', '--signature', '1', '--json'], env);
    expect(both.code).toBe(2);
  });

  if (column === 'DATETIME') {
    test('a signature hashed with milliseconds before the whole-second rule still verifies, and says so', async () => {
      const { fresh, prep } = await signedContract('2026-11-23T19:00:00.000Z');
      const crm = t.config.crm;
      const sig = (await readSignature(t.db, crm, prep.signatureId))!;
      const d = crm.documents;
      const doc = await t.db(d.table).where(d.id, sig.documentId).first();
      // As the old code hashed it: the exact click time; the column then dropped the .456.
      const legacyMd5 = signatureMd5({
        documentSha256: sha256Hex(doc[d.content]),
        signerContactId: fresh.contactId,
        method: 'click',
        signedAt: '2026-11-23T19:00:00.456Z',
      });
      const s = crm.signatures;
      await t
        .db(s.table)
        .where(s.id, prep.signatureId)
        .update({ [s.md5Hash]: legacyMd5 });
      const run = await runCli(['verify', String(fresh.contractId), '--json'], env);
      expect(run.code).toBe(0);
      expect(run.json()).toMatchObject({ match: true, signedAtRecovered: '2026-11-23T19:00:00.456Z' });
    });
  }
});
