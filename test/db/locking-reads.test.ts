/**
 * The locking reads of db/crm-repository.ts (MySQL/MariaDB): step 2 and the recording take their row lock with the
 * read of the row itself (`SELECT … FOR UPDATE`), one statement where `lockRow` and the read were two. They must give
 * what the plain read gives, lock the contract (or signature) row, and leave the contact's (or document's) row
 * unlocked, as `lockRow` did: a CRM transaction that writes the contact is not made to wait, and cannot deadlock with
 * step 2.
 */
import type { Knex } from 'knex';
import { createDb } from '../../db/connection';
import { readContractWithContact, readSignatureWithDocumentContent } from '../../db/crm-repository';
import { createTestDb, testDatabases, type TestDb } from '../../harness/databases';
import { createContractActivities } from '../../activities/contract.activities';
import { lockInFirstRead } from '../../db/row-lock';
import { insertFreshContract } from '../activities/contract/fixtures';

const mariadb = testDatabases().filter((d) => d.name === 'mariadb');

/** Whether another connection can lock the row at once (`FOR UPDATE NOWAIT`: refused at once when it is locked). */
async function lockable(other: Knex, table: string, id: number): Promise<boolean> {
  const trx = await other.transaction();
  try {
    await trx.raw('SELECT ?? FROM ?? WHERE ?? = ? FOR UPDATE NOWAIT', ['id', table, 'id', id]);
    return true;
  } catch (err) {
    // ER_LOCK_WAIT_TIMEOUT is what MariaDB answers a NOWAIT that meets a lock.
    if ((err as { code?: string }).code === 'ER_LOCK_WAIT_TIMEOUT') return false;
    throw err;
  } finally {
    await trx.rollback();
  }
}

(mariadb.length ? describe : describe.skip)('locking reads on MariaDB', () => {
  let t: TestDb;
  let other: Knex;
  beforeAll(async () => {
    t = await createTestDb('mariadb');
    other = createDb(t.url, { poolMax: 1 });
  });
  afterAll(async () => {
    await other?.destroy();
    await t?.destroy();
  });

  test('contract and contact: the plain read’s answer, the contract row locked, the contact row not', async () => {
    const crm = t.config.crm;
    const fresh = await insertFreshContract(t.db, crm);
    const plain = await readContractWithContact(t.db, crm, fresh.contractId);
    expect(plain?.contact?.id).toBe(fresh.contactId);
    await t.db.transaction(async (trx) => {
      expect(lockInFirstRead(trx)).toBe(true);
      const locked = await readContractWithContact(trx, crm, fresh.contractId, undefined, 'forUpdate');
      expect(locked).toEqual(plain);
      expect(await lockable(other, crm.contracts.table, fresh.contractId)).toBe(false);
      expect(await lockable(other, crm.contacts.table, fresh.contactId)).toBe(true);
    });
    expect(await lockable(other, crm.contracts.table, fresh.contractId)).toBe(true);
    // No contract: no row, as the plain read; a contract whose contact is gone: no contact, as the plain read.
    await t.db.transaction(async (trx) => {
      expect(await readContractWithContact(trx, crm, 999_999, undefined, 'forUpdate')).toBeUndefined();
    });
    const orphan = await insertFreshContract(t.db, crm, { contactId: 999_998 });
    await t.db.transaction(async (trx) => {
      const locked = await readContractWithContact(trx, crm, orphan.contractId, undefined, 'forUpdate');
      expect(locked).toEqual(await readContractWithContact(t.db, crm, orphan.contractId));
      expect(locked?.contact).toBeUndefined();
    });
  });

  test('signature and its document’s content: the plain read’s answer, the signature row locked, the document not', async () => {
    const crm = t.config.crm;
    const fresh = await insertFreshContract(t.db, crm);
    const acts = createContractActivities({ db: t.db, config: t.config });
    const prepared = await acts.loadAndPrepareSignatureRequest(fresh.ref);
    const plain = await readSignatureWithDocumentContent(t.db, crm, prepared.signatureId);
    expect(Buffer.isBuffer(plain?.content)).toBe(true);
    expect(plain!.content!.length).toBeGreaterThan(1000);
    await t.db.transaction(async (trx) => {
      const locked = await readSignatureWithDocumentContent(trx, crm, prepared.signatureId, 'forUpdate');
      expect(locked).toEqual(plain);
      expect(await lockable(other, crm.signatures.table, prepared.signatureId)).toBe(false);
      expect(await lockable(other, crm.documents.table, prepared.documentId)).toBe(true);
    });
  });

  test('step 2 and the recording each send one statement fewer: the lock is the read', async () => {
    const crm = t.config.crm;
    const fresh = await insertFreshContract(t.db, crm);
    const acts = createContractActivities({ db: t.db, config: t.config });
    const seen: string[] = [];
    const record = (q: { sql: string }) => seen.push(q.sql);
    t.db.on('query', record);
    try {
      const prepared = await acts.loadAndPrepareSignatureRequest(fresh.ref);
      const forUpdate = seen.filter((sql) => /for update/i.test(sql));
      expect(forUpdate).toHaveLength(1);
      expect(forUpdate[0]).toMatch(/^select `k`\.\*, \(select /);
      // read, BEGIN, locking read, document, signature, status, request, audit, COMMIT
      expect(seen).toHaveLength(9);
      seen.length = 0;
      await acts.recordSignature({
        ...fresh.ref,
        signatureId: prepared.signatureId,
        contactId: fresh.contactId,
        method: 'click',
        signedAt: new Date().toISOString(),
      });
      expect(seen.filter((sql) => /for update/i.test(sql))).toHaveLength(1);
      // BEGIN, locking read with the content, signature, contract, audit, COMMIT
      expect(seen).toHaveLength(6);
    } finally {
      t.db.off('query', record);
    }
  });
});
