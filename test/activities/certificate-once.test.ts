/**
 * One Prüfprotokoll per request, whatever runs twice: attempts of `createCompletionCertificate` that overlap (a retry
 * the server starts after a start-to-close timeout while the first attempt still runs, on another worker) must store
 * one certificate document and one `certificate-created` audit row, and every attempt answers with that one. On
 * MariaDB a plain check inside the transaction did not see the other attempt's uncommitted row, so both stored one.
 */
import { createCertificateActivities, CERTIFICATE_EVENT } from '../../activities/certificate.activities';
import { AUDIT_TABLE } from '../../activities/contract/plugin-tables';
import { createContractActivities } from '../../activities/contract.activities';
import { createTestDb, testDatabases, type TestDb } from '../../harness/databases';
import { insertFreshContract } from './contract/fixtures';

describe.each(testDatabases())('the Prüfprotokoll stored once on $name', ({ name }) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(name);
  });
  afterAll(async () => {
    await t?.destroy();
  });

  async function signedContract() {
    const crm = t.config.crm;
    const contract = createContractActivities({ db: t.db, config: t.config });
    const fresh = await insertFreshContract(t.db, crm);
    const prepared = await contract.prepareSignatureRequest(fresh.ref);
    await contract.recordSignature({
      ...fresh.ref,
      signatureId: prepared.signatureId,
      contactId: fresh.contactId,
      method: 'click',
      signedAt: '2026-11-06T11:00:00.000Z',
    });
    return {
      contractId: fresh.contractId,
      workflowId: fresh.ref.workflowId,
      runId: 'run-1',
      documentId: prepared.documentId,
      signatureId: prepared.signatureId,
      completedAt: '2026-11-06T11:00:05.000Z',
    };
  }

  async function storedCertificates(contractId: number, workflowId: string) {
    const d = t.config.crm.documents;
    const documents = await t
      .db(d.table)
      .where({ [d.linkedObjectId]: contractId, [d.templateKind]: t.config.crm.values.certificateTemplateKind })
      .select(d.id);
    const audit = await t.db(AUDIT_TABLE).where({ workflow_id: workflowId, event: CERTIFICATE_EVENT });
    return { documentIds: documents.map((r: Record<string, unknown>) => Number(r[d.id])), audit };
  }

  test('overlapping attempts store one certificate and all answer with it', async () => {
    const activities = createCertificateActivities({ db: t.db, config: t.config });
    const input = await signedContract();
    const answers = await Promise.all(Array.from({ length: 4 }, () => activities.createCompletionCertificate(input)));
    const { documentIds, audit } = await storedCertificates(input.contractId, input.workflowId);
    expect(documentIds).toHaveLength(1);
    expect(audit).toHaveLength(1);
    for (const answer of answers) expect(answer.certificateDocumentId).toBe(documentIds[0]);
    expect(new Set(answers.map((a) => a.sha256)).size).toBe(1);
  });

  test('one attempt: three reads, then one transaction whose first statement (MySQL) locks the contract row', async () => {
    const activities = createCertificateActivities({ db: t.db, config: t.config });
    const input = await signedContract();
    const seen: string[] = [];
    const listener = (q: { sql: string }) => seen.push(q.sql);
    t.db.on('query', listener);
    try {
      await activities.createCompletionCertificate(input);
    } finally {
      t.db.off('query', listener);
    }
    const begin = seen.findIndex((sql) => /^(begin|start transaction)/i.test(sql));
    const reads = seen.slice(0, begin);
    // The contract with its contact, document and signature hash; the audit trail with the mails; the QES rows.
    expect(reads).toHaveLength(3);
    expect(reads.every((sql) => /^select/i.test(sql))).toBe(true);
    const inTransaction = seen.slice(begin + 1, -1);
    if (name === 'mariadb') {
      expect(inTransaction[0]).toMatch(/for update/i);
      expect(inTransaction).toHaveLength(4);
    } else {
      expect(inTransaction).toHaveLength(3);
    }
    expect(seen[seen.length - 1]).toMatch(/^commit/i);
  });

  test('a retry after the commit answers with the stored certificate and stores nothing', async () => {
    const activities = createCertificateActivities({ db: t.db, config: t.config });
    const input = await signedContract();
    const first = await activities.createCompletionCertificate(input);
    const again = await activities.createCompletionCertificate(input);
    expect(again).toEqual(first);
    const { documentIds, audit } = await storedCertificates(input.contractId, input.workflowId);
    expect(documentIds).toEqual([first.certificateDocumentId]);
    expect(audit).toHaveLength(1);
  });
});
