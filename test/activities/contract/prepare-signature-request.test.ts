/**
 * Step 2, `prepareSignatureRequest`: one transaction, idempotent on the workflow id. Exact rows before and after,
 * retries and races that double nothing, and rejected writes that leave every table as it was.
 */
import { Worker } from 'node:worker_threads';
import { ApplicationFailure } from '@temporalio/common';
import { createContractActivities } from '../../../activities/contract.activities';
import { createDb, dialectOfDb } from '../../../db/connection';
import { readContract, readDocument, readSignature, toBool, toDate } from '../../../db/crm-repository';
import { ErrorCode } from '../../../domain/errors';
import { md5Hex, sha256Hex } from '../../../domain/signature-hash';
import { createTestDb, testDatabases, type TestDb } from '../../../harness/databases';
import { countRows, expectRejected, insertFreshContract, snapshotTables } from './fixtures';

describe.each(testDatabases())('prepareSignatureRequest on $name', ({ name }) => {
  let t: TestDb;
  let activities: ReturnType<typeof createContractActivities>;

  beforeAll(async () => {
    t = await createTestDb(name);
    activities = createContractActivities({ db: t.db, config: t.config });
  });
  afterAll(async () => {
    await t?.destroy();
  });

  test('writes exactly the document, the pending signature, the contract status and the request', async () => {
    const crm = t.config.crm;
    const fresh = await insertFreshContract(t.db, crm);
    const contractBefore = await readContract(t.db, crm, fresh.contractId);
    expect(contractBefore).toMatchObject({ status: 'erstellt', confirmedByFreelancer: false, confirmedAt: null });
    const counts = {
      documents: await countRows(t.db, 'dokumente'),
      signatures: await countRows(t.db, 'unterschriften'),
    };

    const t0 = Date.now();
    const prepared = await activities.prepareSignatureRequest(fresh.ref);
    const sentAt = new Date(prepared.sentAt);
    expect(sentAt.getTime()).toBeGreaterThanOrEqual(t0 - 5);
    expect(sentAt.getTime()).toBeLessThanOrEqual(Date.now());

    // dokumente: one new row, the PDF/A with its hashes, linked to the contract.
    expect(await countRows(t.db, 'dokumente')).toBe(counts.documents + 1);
    const document = await readDocument(t.db, crm, prepared.documentId);
    expect(document).toEqual({
      id: prepared.documentId,
      title: contractBefore!.title,
      templateKind: 'Vertrag',
      mimeType: 'application/pdf',
      content: expect.any(Buffer),
      md5: prepared.documentMd5,
      sha256: prepared.documentSha256,
      linkedObjectType: 'Honorarvertrag',
      linkedObjectId: fresh.contractId,
      createdAt: sentAt,
    });
    expect(md5Hex(document!.content!)).toBe(prepared.documentMd5);
    expect(sha256Hex(document!.content!)).toBe(prepared.documentSha256);
    expect(document!.content!.subarray(0, 8).toString('latin1')).toBe('%PDF-1.7');

    // unterschriften: one new row, ausstehend, nothing of the outcome filled in yet.
    expect(await countRows(t.db, 'unterschriften')).toBe(counts.signatures + 1);
    expect(await readSignature(t.db, crm, prepared.signatureId)).toEqual({
      id: prepared.signatureId,
      status: 'ausstehend',
      contactId: fresh.contactId,
      documentId: prepared.documentId,
      linkedObjectType: 'Honorarvertrag',
      linkedObjectId: fresh.contractId,
      byAuthenticatedClick: null,
      imageDocumentId: null,
      userId: null,
      md5Hash: null,
      signedAt: null,
    });

    // honorarvertraege: status and last status change only.
    expect(await readContract(t.db, crm, fresh.contractId)).toEqual({
      ...contractBefore,
      status: 'versendet',
      lastStatusChange: sentAt,
    });

    // signflow_requests + audit.
    const request = await t.db('signflow_requests').where('workflow_id', fresh.ref.workflowId).first();
    expect({ ...request, created_at: toDate(request.created_at)?.toISOString(), html: undefined }).toEqual({
      id: expect.any(Number),
      workflow_id: fresh.ref.workflowId,
      contract_id: fresh.contractId,
      contact_id: fresh.contactId,
      document_id: prepared.documentId,
      signature_id: prepared.signatureId,
      document_md5: prepared.documentMd5,
      document_sha256: prepared.documentSha256,
      created_at: prepared.sentAt,
      html: undefined,
    });
    expect(request.html).toContain('Therapie für Kinder &amp; Jugendliche &lt;Gruppe „Sonne“&gt;');
    expect(request.html).toContain(`${fresh.firstName} ${fresh.lastName}`);
    expect(request.html).toContain('1.234,56\u00a0€');
    const audit = await t.db('signflow_audit_events').where('workflow_id', fresh.ref.workflowId);
    expect(audit).toHaveLength(1);
    expect(audit[0].event).toBe('signature-request-prepared');
    expect(JSON.parse(audit[0].detail)).toEqual({
      documentId: prepared.documentId,
      signatureId: prepared.signatureId,
      documentSha256: prepared.documentSha256,
      previousStatus: t.config.crm.values.contractSendableStatuses[0],
    });
    expect(audit[0].detail).not.toContain(fresh.email);

    expect(prepared).toEqual({
      contractId: fresh.contractId,
      contactId: fresh.contactId,
      documentId: prepared.documentId,
      signatureId: prepared.signatureId,
      documentMd5: expect.stringMatching(/^[0-9a-f]{32}$/),
      documentSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      sentAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
  });

  test('a second run returns the stored result and changes nothing', async () => {
    const fresh = await insertFreshContract(t.db, t.config.crm);
    const first = await activities.prepareSignatureRequest(fresh.ref);
    const after = await snapshotTables(t.db, t.config.crm);
    const second = await activities.prepareSignatureRequest(fresh.ref);
    expect(second).toEqual(first);
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(after);
  });

  test('two concurrent attempts of one workflow write one set of rows and agree on the result', async () => {
    const fresh = await insertFreshContract(t.db, t.config.crm);
    const before = { docs: await countRows(t.db, 'dokumente'), sigs: await countRows(t.db, 'unterschriften') };
    const [a, b] = await Promise.all([
      activities.prepareSignatureRequest(fresh.ref),
      activities.prepareSignatureRequest(fresh.ref),
    ]);
    expect(b).toEqual(a);
    expect(await countRows(t.db, 'dokumente')).toBe(before.docs + 1);
    expect(await countRows(t.db, 'unterschriften')).toBe(before.sigs + 1);
    expect(await countRows(t.db, 'signflow_requests', { contract_id: fresh.contractId })).toBe(1);
    expect(await countRows(t.db, 'signflow_audit_events', { contract_id: fresh.contractId })).toBe(1);
  });

  test('CONTRACT_NOT_SENDABLE for a contract in Durchführung leaves every table unchanged', async () => {
    const before = await snapshotTables(t.db, t.config.crm);
    const contractId = t.seed.inProgressContractId;
    await expectRejected(
      activities.prepareSignatureRequest({ contractId, workflowId: `honorarvertrag-${contractId}` }),
      ErrorCode.CONTRACT_NOT_SENDABLE
    );
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });

  test.each([
    ['CONTRACT_NOT_FOUND', ErrorCode.CONTRACT_NOT_FOUND],
    ['CONTACT_EMAIL_INVALID', ErrorCode.CONTACT_EMAIL_INVALID],
    ['CONTACT_NOT_FOUND', ErrorCode.CONTACT_NOT_FOUND],
  ] as const)('%s leaves every table unchanged', async (_label, code) => {
    let ref = { contractId: 424242, workflowId: 'honorarvertrag-424242' };
    if (code === ErrorCode.CONTACT_EMAIL_INVALID)
      ref = (await insertFreshContract(t.db, t.config.crm, { email: 'x' })).ref;
    if (code === ErrorCode.CONTACT_NOT_FOUND)
      ref = (await insertFreshContract(t.db, t.config.crm, { contactId: 999 })).ref;
    const before = await snapshotTables(t.db, t.config.crm);
    await expectRejected(activities.prepareSignatureRequest(ref), code);
    expect(await snapshotTables(t.db, t.config.crm)).toEqual(before);
  });

  test('a status change that commits while the request is being prepared fails cleanly and writes nothing', async () => {
    const crm = t.config.crm;
    // SQLite's other writer holds its lock for a fixed time (see raceOnSqlite): on a busy machine the activity may not
    // reach the database before the commit, so the race is tried again with a longer hold until the activity did wait.
    for (const holdMs of dialectOfDb(t.db) === 'mysql' ? [0] : [800, 4_000, 20_000]) {
      const fresh = await insertFreshContract(t.db, crm);
      const before = await snapshotTables(t.db, crm);
      // Another writer, like the CRM's own UI, holds the contract while it changes the status; it commits only after
      // the activity has validated the old status and queued behind the lock.
      const settled = await (dialectOfDb(t.db) === 'mysql'
        ? raceOnMysql(t, fresh.contractId, () => activities.prepareSignatureRequest(fresh.ref))
        : raceOnSqlite(t, fresh.contractId, () => activities.prepareSignatureRequest(fresh.ref), holdMs));
      // Whether or not it waited, the activity refuses the changed status and writes nothing.
      await expectRejected(
        settled.result.then(() => undefined),
        ErrorCode.CONTRACT_NOT_SENDABLE
      );
      const after = await snapshotTables(t.db, crm);
      const changed = before[crm.contracts.table]!.map((row) =>
        (row as Record<string, unknown>)[crm.contracts.id] === fresh.contractId
          ? { ...(row as Record<string, unknown>), [crm.contracts.status]: 'storniert' }
          : row
      );
      expect(after).toEqual({ ...before, [crm.contracts.table]: changed });
      if (settled.waitedForLock || holdMs === 20_000) {
        expect(settled.waitedForLock).toBe(true);
        break;
      }
    }
  });

  test('a database error fails retryably, without the SQL and its personal data, and writes nothing', async () => {
    // A real fault on a database of its own: a trigger refuses the last insert (the way a full disk or a lost lock
    // would). A missing column is a different case: a configuration fault, non-retryable (CRM_MAPPING_INVALID).
    const broken = await createTestDb(name);
    try {
      await broken.db.raw(
        name === 'sqlite'
          ? "CREATE TRIGGER refuse_requests BEFORE INSERT ON signflow_requests BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
          : "CREATE TRIGGER refuse_requests BEFORE INSERT ON signflow_requests FOR EACH ROW SIGNAL SQLSTATE 'HY000' SET MESSAGE_TEXT = 'disk I/O error'"
      );
      const fresh = await insertFreshContract(broken.db, broken.config.crm);
      const before = await snapshotTables(broken.db, broken.config.crm);
      const own = createContractActivities({ db: broken.db, config: broken.config });
      const err = await own.prepareSignatureRequest(fresh.ref).then(
        () => undefined,
        (e: unknown) => e
      );
      expect(err).toBeInstanceOf(ApplicationFailure);
      const failure = err as ApplicationFailure;
      expect(failure.nonRetryable).toBe(false);
      expect(failure.message).toContain(`prepareSignatureRequest failed for contract ${fresh.contractId}`);
      for (const secret of [fresh.firstName, fresh.lastName, 'insert', 'html']) {
        expect(failure.message).not.toContain(secret);
      }
      expect(await snapshotTables(broken.db, broken.config.crm)).toEqual(before);
    } finally {
      await broken.destroy();
    }
  });

  test('booleans are written as the mapping says and read back as false', async () => {
    const fresh = await insertFreshContract(t.db, t.config.crm);
    await activities.prepareSignatureRequest(fresh.ref);
    const raw = await t.db('honorarvertraege').where('id', fresh.contractId).first();
    expect(toBool(raw.bestaetigt_durch_honorarkraft, t.config.crm)).toBe(false);
    expect([0, false]).toContain(raw.bestaetigt_durch_honorarkraft);
  });
});

interface Race {
  /** The activity's settled promise (re-wrapped so the caller can assert on it). */
  result: Promise<unknown>;
  /** True when the activity demonstrably waited for the other writer's lock. */
  waitedForLock: boolean;
}

function settle(p: Promise<unknown>): Promise<{ ok: boolean; value: unknown }> {
  return p.then(
    (value) => ({ ok: true, value }),
    (value: unknown) => ({ ok: false, value })
  );
}

function unsettle(s: { ok: boolean; value: unknown }): Promise<unknown> {
  return s.ok ? Promise.resolve(s.value) : Promise.reject(s.value);
}

/** MySQL: a second connection holds the row (`FOR UPDATE`); the activity's own `FOR UPDATE` then hangs in the processlist. */
async function raceOnMysql(t: TestDb, contractId: number, run: () => Promise<unknown>): Promise<Race> {
  const crm = t.config.crm;
  const other = createDb(t.url, { poolMax: 1 });
  const trx = await other.transaction();
  let race: { settled: { ok: boolean; value: unknown }; waitedForLock: boolean };
  try {
    await trx(crm.contracts.table).where(crm.contracts.id, contractId).forUpdate().first();
    await trx(crm.contracts.table)
      .where(crm.contracts.id, contractId)
      .update({ [crm.contracts.status]: 'storniert' });
    const pending = settle(run());
    const waitedForLock = await waitForLockWait(t, 30_000);
    await trx.commit();
    race = { settled: await pending, waitedForLock };
  } finally {
    // Never leave the transaction open: MariaDB would block the DROP DATABASE of the whole file.
    if (!trx.isCompleted()) await trx.rollback();
    await other.destroy();
  }
  // Re-wrapped only now: a rejected promise made before the `finally` awaits would count as unhandled meanwhile.
  return { result: unsettle(race.settled), waitedForLock: race.waitedForLock };
}

async function waitForLockWait(t: TestDb, timeoutMs: number): Promise<boolean> {
  const database = new URL(t.url).pathname.slice(1);
  const probe = createDb(t.url, { poolMax: 1 });
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      // A primary-key `FOR UPDATE` takes microseconds; one still running after 200 ms waits for a lock. (InnoDB's own
      // INNODB_TRX view does not always list a waiter whose wait began in the optimizer's const-table read.)
      const [rows] = (await probe.raw(
        `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST
          WHERE DB = ? AND ID <> CONNECTION_ID() AND COMMAND = 'Query' AND INFO LIKE '%for update%' AND TIME_MS > 200`,
        [database]
      )) as [Array<{ n: number | string }>];
      if (Number(rows[0]?.n ?? 0) > 0) return true;
      await new Promise((r) => setTimeout(r, 25));
    }
    return false;
  } finally {
    await probe.destroy();
  }
}

/**
 * SQLite: better-sqlite3 waits for a lock synchronously, blocking this thread's event loop, so the other writer must
 * live on another thread. It takes the write lock, changes the status, holds the lock for HOLD_MS, then commits. An
 * activity that settles only after the commit began waited for it (it would otherwise be done in well under HOLD_MS).
 */
const HOLD_MS = 800;

async function raceOnSqlite(
  t: TestDb,
  contractId: number,
  run: () => Promise<unknown>,
  holdMs = HOLD_MS
): Promise<Race> {
  const crm = t.config.crm;
  const worker = new Worker(
    `
    const { parentPort, workerData: w } = require('node:worker_threads');
    const Database = require(w.driver);
    const db = new Database(w.file);
    db.pragma('busy_timeout = 5000');
    db.exec('BEGIN IMMEDIATE');
    db.prepare(w.sql).run(w.status, w.id);
    parentPort.postMessage({ locked: true });
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, w.holdMs);
    const committingAt = Date.now();
    db.exec('COMMIT');
    db.close();
    parentPort.postMessage({ committingAt });
    `,
    {
      eval: true,
      workerData: {
        driver: require.resolve('better-sqlite3'),
        file: t.url,
        sql: `UPDATE "${crm.contracts.table}" SET "${crm.contracts.status}" = ? WHERE "${crm.contracts.id}" = ?`,
        status: 'storniert',
        id: contractId,
        holdMs,
      },
    }
  );
  let locked = false;
  let race: { settled: { ok: boolean; value: unknown }; waitedForLock: boolean };
  const committing = new Promise<number>((resolve, reject) => {
    worker.on('message', (m: { locked?: boolean; committingAt?: number }) => {
      if (m.locked) locked = true;
      if (m.committingAt !== undefined) resolve(m.committingAt);
    });
    worker.on('error', reject);
  });
  try {
    const deadline = Date.now() + 5000;
    while (!locked && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const settled = await settle(run());
    const settledAt = Date.now();
    const committingAt = await committing;
    race = { settled, waitedForLock: locked && settledAt >= committingAt };
  } finally {
    await worker.terminate();
  }
  // Re-wrapped only now: a rejected promise made before the `finally` awaits would count as unhandled meanwhile.
  return { result: unsettle(race.settled), waitedForLock: race.waitedForLock };
}
