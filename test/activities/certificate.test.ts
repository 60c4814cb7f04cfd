/**
 * `createCompletionCertificate` (the Prüfprotokoll) from a real database: a contract whose first request was withdrawn
 * by staff, whose second request was viewed twice, reminded and signed with a drawn image from a portal client, and
 * countersigned with a PAdES QES by the Konnektor simulator's code. The PDF is read back as text (pdftotext, as a person
 * would read it) and must show each piece of evidence the issue lists; the drawn image must be embedded.
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCertificateActivities } from '../../activities/certificate.activities';
import { createContractActivities } from '../../activities/contract.activities';
import { createDocumentViewActivities } from '../../activities/document-view.activities';
import { insertQesRows } from '../../activities/konnektor/qes-tables';
import { readDocument } from '../../db/crm-repository';
import { signPdf } from '../../konnektor-simulator/cms';
import { createPki } from '../../konnektor-simulator/pki';
import { createTestDb, testDatabases, type TestDb } from '../../harness/databases';
import { insertFreshContract, strokePngBase64 } from './contract/fixtures';

function havePdftotext(): boolean {
  try {
    execFileSync('pdftotext', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const canRead = havePdftotext();
if (!canRead && process.env.CI !== 'true') {
  console.warn('skipping the Prüfprotokoll content test: no pdftotext (Debian package poppler-utils)');
}
const describeReadable =
  canRead || process.env.CI === 'true' ? describe.each(testDatabases()) : describe.skip.each(testDatabases());

function pdfText(pdf: Buffer): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-cert-')), 'c.pdf');
  fs.writeFileSync(file, pdf);
  // Lines joined: a long line may wrap in the PDF.
  return execFileSync('pdftotext', ['-raw', file, '-']).toString('utf8').replace(/\s+/g, ' ');
}

describeReadable('the Prüfprotokoll on $name', ({ name }) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(name);
  });
  afterAll(async () => {
    await t?.destroy();
  });

  test('lists every event of the contract with its evidence, the QES signer and the drawn image', async () => {
    const crm = t.config.crm;
    const contract = createContractActivities({ db: t.db, config: t.config });
    const views = createDocumentViewActivities({ db: t.db });
    const certificates = createCertificateActivities({ db: t.db, config: t.config });
    const fresh = await insertFreshContract(t.db, crm);
    const [staffId] = await t.db(crm.contacts.table).insert({
      [crm.contacts.firstName]: 'Petra',
      [crm.contacts.lastName]: 'Schäfer',
      [crm.contacts.email]: 'petra@example.org',
    });

    // Request 1: prepared, then withdrawn by staff.
    const first = await contract.prepareSignatureRequest(fresh.ref);
    await contract.voidSignatureRequest({
      ...fresh.ref,
      signatureId: first.signatureId,
      reason: 'withdrawn',
      at: '2026-11-02T09:00:00.000Z',
      staffContactId: Number(staffId),
    });
    // The CRM sets the contract back to a sendable status for the new request.
    await t
      .db(crm.contracts.table)
      .where(crm.contracts.id, fresh.contractId)
      .update({ [crm.contracts.status]: crm.values.contractSendableStatuses[0] });

    // Request 2 (keyed by its request key): mails, two views, a drawn signature from a portal client.
    const ref = { contractId: fresh.contractId, workflowId: `${fresh.ref.workflowId}~2` };
    const second = await contract.prepareSignatureRequest(ref);
    for (const [kind, sequence, at] of [
      ['invitation', null, '2026-11-03T08:00:00.000Z'],
      ['reminder', 1, '2026-11-06T08:00:00.000Z'],
    ] as const) {
      await t.db('signflow_mails').insert({
        mail_key: `${ref.workflowId}:${kind}${sequence ? `:${sequence}` : ''}`,
        workflow_id: ref.workflowId,
        contract_id: fresh.contractId,
        kind,
        sequence,
        recipient: fresh.email,
        subject: 's',
        message_id: `<${kind}@test>`,
        status: 'sent',
        created_at: new Date(at),
        sent_at: new Date(at),
      });
    }
    for (const [n, at] of [
      [1, '2026-11-04T10:00:00.000Z'],
      [2, '2026-11-06T10:00:00.000Z'],
    ] as const) {
      await views.recordDocumentView({
        ...ref,
        documentId: second.documentId,
        contactId: fresh.contactId,
        viewNumber: n,
        at,
        ip: '203.0.113.7',
        userAgent: 'Mozilla/5.0 (Test)',
      });
    }
    const image = strokePngBase64();
    const signed = await contract.recordSignature({
      ...ref,
      signatureId: second.signatureId,
      contactId: fresh.contactId,
      method: 'drawn',
      imagePngBase64: image,
      signedAt: '2026-11-06T11:00:00.000Z',
      ip: '198.51.100.23',
      userAgent: 'Mozilla/5.0 (Pad)',
    });

    // The practice's QES: the contract document signed (PAdES) with the simulator's eHBA key.
    const pki = createPki({
      konnektorIccsn: '80276883110000100001',
      hbaHolderName: 'Dr. Max Beispiel',
      hbaIccsn: '80276883110000099001',
    });
    const document = (await readDocument(t.db, crm, second.documentId))!;
    const signingTime = new Date('2026-11-06T12:00:00.000Z');
    const padEs = await signPdf(
      document.content!,
      { hba: pki.hba, chainPem: [pki.ca.certPem] },
      signingTime,
      'Dr. Max Beispiel'
    );
    await insertQesRows(t.db, [
      {
        requestId: `${ref.workflowId}/qes/${second.documentId}`,
        workflowId: ref.workflowId,
        contractId: fresh.contractId,
        sourceDocumentId: second.documentId,
        sourceSha256: document.sha256!,
        cardIccsn: '80276883110000099001',
        variant: 'PAdES',
        mimeType: 'application/pdf',
        signature: padEs,
        signatureSha256: createHash('sha256').update(padEs).digest('hex'),
        signedAt: signingTime,
      },
    ]);

    const made = await certificates.createCompletionCertificate({
      contractId: fresh.contractId,
      workflowId: fresh.ref.workflowId,
      runId: 'run-42',
      documentId: second.documentId,
      signatureId: second.signatureId,
      completedAt: '2026-11-06T12:05:00.000Z',
      requestKey: ref.workflowId,
    });
    const stored = (await readDocument(t.db, crm, made.certificateDocumentId))!;
    const text = pdfText(stored.content!);

    // The document and its hashes.
    expect(text).toContain(`SHA-256: ${document.sha256}`);
    expect(text).toContain(`MD5 der Unterschrift (Unterschriften-Datensatz): ${signed.md5Hash}`);
    // Request 1: withdrawn, by whom, marked as the earlier request.
    expect(text).toMatch(/UTC 2026-11-02T09:00:00\.000Z\): Unterschriftsanfrage zurückgezogen von Petra Schäfer/);
    expect(text).toContain(`frühere Unterschriftsanfrage (Schlüssel ${fresh.ref.workflowId})`);
    // Request 2: invitation and reminder with the address, the views (first and count), the client of the portal.
    expect(text).toMatch(new RegExp(`Einladung gesendet an ${fresh.email.replace('.', '\\.')}`));
    expect(text).toMatch(/1\. Erinnerung gesendet an /);
    expect(text).toContain(
      'Im Portal angesehen: 2-mal, zuerst 04.11.2026, 11:00:00 MEZ (UTC 2026-11-04T10:00:00.000Z)'
    );
    expect(text).toContain('Dokument im Portal angesehen (2. Ansicht)');
    expect(text).toContain('IP-Adresse (vom Portal übermittelt): 198.51.100.23');
    expect(text).toContain('Browser (User-Agent, vom Portal übermittelt): Mozilla/5.0 (Pad)');
    expect(text).toContain('Unterschrieben mit gezeichneter Unterschrift (Bild)');
    // The signer (the contract's own contact, read with the contract) and the viewer, named in every event.
    const signer = `angemeldeter Kontakt: ${fresh.firstName} ${fresh.lastName} (Kontakt ${fresh.contactId})`;
    expect(text.split(signer).length - 1).toBe(3);
    expect(text).toContain('(unten abgebildet)');
    // The QES: signer certificate, issuer, serial, signing time, format.
    expect(text).toContain('Zertifikat (Inhaber): CN=Dr. Max Beispiel');
    expect(text).toContain('Aussteller: CN=Konnektor-Simulator CA - NICHT PRODUKTIV');
    const serial = new X509Certificate(pki.hba.certPem).serialNumber.replace(/^(00)+/, '');
    expect(text).toContain(`Seriennummer: ${serial.toUpperCase()}`);
    expect(text).toContain(
      'Signaturzeitpunkt (laut Signatur): 06.11.2026, 13:00:00 MEZ (UTC 2026-11-06T12:00:00.000Z)'
    );
    // The simulator's eHBA signs like a G2.1 card: ECDSA on brainpoolP256r1.
    expect(text).toContain('Signaturformat: PAdES (ETSI.CAdES.detached), ECDSA brainpoolP256r1 / SHA-256');
    // How to verify: the command, the workflow id and run id.
    expect(text).toContain(`signflow verify ${fresh.contractId}`);
    expect(text).toContain(`Workflow-ID: ${fresh.ref.workflowId}`);
    expect(text).toContain('Run-ID: run-42');
    // The drawn image itself is in the PDF: an image XObject of its size.
    const raw = stored.content!.toString('latin1');
    expect(raw).toMatch(
      /\/Subtype \/Image[\s\S]{0,200}\/Width 120[\s\S]{0,60}\/Height 40|\/Width 120[\s\S]{0,200}\/Subtype \/Image/
    );
    // Idempotent: a retry returns the same certificate.
    expect(
      await certificates.createCompletionCertificate({
        contractId: fresh.contractId,
        workflowId: fresh.ref.workflowId,
        runId: 'run-42',
        documentId: second.documentId,
        signatureId: second.signatureId,
        completedAt: '2026-11-06T12:05:00.000Z',
        requestKey: ref.workflowId,
      })
    ).toEqual(made);
  }, 120_000);
});
