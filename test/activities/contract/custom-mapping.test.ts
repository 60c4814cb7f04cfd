/**
 * Every name through the mapping: a CRM with other table and column names, other status labels and 'Ja'/'Nein' for
 * booleans. The default tables do not even exist here, so any hard-coded name would fail.
 */
import { createContractActivities } from '../../../activities/contract.activities';
import { ErrorCode } from '../../../domain/errors';
import { createTestDb, testDatabases, type TestDb } from '../../../harness/databases';
import { expectRejected, insertFreshContract, pngBase64 } from './fixtures';

const MAPPING = {
  contacts: { table: 'crm_person', id: 'person_nr', firstName: 'rufname', lastName: 'familienname', email: 'mail' },
  contracts: {
    table: 'crm_vertrag',
    id: 'vertrag_nr',
    contactId: 'person_nr',
    title: 'bezeichnung',
    status: 'zustand',
    lastStatusChange: 'zustand_seit',
    confirmedByFreelancer: 'hk_bestaetigt',
    confirmedAt: 'bestaetigt_zeit',
    confirmedBy: 'bestaetigt_person',
    start: 'von',
    end: 'bis',
    feeCents: 'betrag_ct',
    description: 'text',
  },
  documents: {
    table: 'crm_datei',
    id: 'datei_nr',
    title: 'name',
    templateKind: 'art',
    mimeType: 'typ',
    content: 'daten',
    md5: 'pruefsumme_md5',
    sha256: 'pruefsumme_sha256',
    linkedObjectType: 'objekt_art',
    linkedObjectId: 'objekt_nr',
    createdAt: 'angelegt',
  },
  signatures: {
    table: 'crm_signatur',
    id: 'signatur_nr',
    status: 'stand',
    contactId: 'person_nr',
    documentId: 'datei_nr',
    linkedObjectType: 'objekt_art',
    linkedObjectId: 'objekt_nr',
    byAuthenticatedClick: 'per_klick',
    image: 'bild',
    userId: 'nutzer',
    md5Hash: 'hash',
    signedAt: 'zeitpunkt',
  },
  values: {
    contractObjectType: 'Vertrag (Honorar)',
    contractTemplateKind: 'Honorarvertrag-PDF',
    signatureImageTemplateKind: 'Signaturbild',
    contractSendableStatuses: ['Entwurf', 'freigegeben'],
    contractSent: 'verschickt',
    contractInProgress: 'läuft',
    signaturePending: 'offen',
    signatureValid: 'unterschrieben',
    signatureWithdrawn: 'storniert',
    signatureExpired: 'verfallen',
    yes: 'Ja',
    no: 'Nein',
  },
};

describe.each(testDatabases())('a custom CRM mapping on $name', ({ name }) => {
  let t: TestDb;
  let activities: ReturnType<typeof createContractActivities>;

  beforeAll(async () => {
    t = await createTestDb(name, { crm: MAPPING });
    activities = createContractActivities({ db: t.db, config: t.config });
  });
  afterAll(async () => {
    await t?.destroy();
  });

  test('the default tables do not exist', async () => {
    for (const table of ['kontakte', 'honorarvertraege', 'dokumente', 'unterschriften']) {
      expect(await t.db.schema.hasTable(table)).toBe(false);
    }
  });

  test('prepare, sign by drawing and void write only mapped names and labels', async () => {
    const fresh = await insertFreshContract(t.db, t.config.crm, { status: 'freigegeben' });
    expect(await activities.loadContract(fresh.ref)).toMatchObject({ status: 'freigegeben', alreadyPrepared: false });
    const prep = await activities.prepareSignatureRequest(fresh.ref);
    expect(await t.db('crm_vertrag').where('vertrag_nr', fresh.contractId).first()).toMatchObject({
      zustand: 'verschickt',
      hk_bestaetigt: 'Nein',
    });
    expect(await t.db('crm_signatur').where('signatur_nr', prep.signatureId).first()).toMatchObject({
      stand: 'offen',
      person_nr: fresh.contactId,
      datei_nr: prep.documentId,
      objekt_art: 'Vertrag (Honorar)',
      objekt_nr: fresh.contractId,
    });
    expect(await t.db('crm_datei').where('datei_nr', prep.documentId).first()).toMatchObject({
      art: 'Honorarvertrag-PDF',
      typ: 'application/pdf',
      pruefsumme_sha256: prep.documentSha256,
    });

    const signedAt = '2026-12-02T10:11:12.131Z';
    const outcome = await activities.recordSignature({
      ...fresh.ref,
      signatureId: prep.signatureId,
      contactId: fresh.contactId,
      method: 'drawn',
      imagePngBase64: pngBase64(),
      signedAt,
    });
    const signature = await t.db('crm_signatur').where('signatur_nr', prep.signatureId).first();
    expect(signature).toMatchObject({
      stand: 'unterschrieben',
      per_klick: 'Nein',
      nutzer: fresh.contactId,
      hash: outcome.md5Hash,
    });
    expect(await t.db('crm_datei').where('datei_nr', signature.bild).first()).toMatchObject({
      art: 'Signaturbild',
      typ: 'image/png',
      objekt_art: 'Vertrag (Honorar)',
    });
    expect(await t.db('crm_vertrag').where('vertrag_nr', fresh.contractId).first()).toMatchObject({
      zustand: 'läuft',
      hk_bestaetigt: 'Ja',
      bestaetigt_person: fresh.contactId,
    });

    // A gültig ("unterschrieben") signature is not voided.
    expect(
      await activities.voidSignatureRequest({
        ...fresh.ref,
        signatureId: prep.signatureId,
        reason: 'withdrawn',
        at: signedAt,
      })
    ).toEqual({ result: 'already-valid' });
  });

  test('staff confirmation writes Ja; void uses the mapped labels; the default label is not sendable', async () => {
    const a = await insertFreshContract(t.db, t.config.crm, { status: 'Entwurf' });
    const prepA = await activities.prepareSignatureRequest(a.ref);
    await activities.recordManualConfirmation({
      ...a.ref,
      signatureId: prepA.signatureId,
      staffContactId: t.seed.staffContactId,
      confirmedAt: '2026-12-02T12:00:00.000Z',
    });
    expect(await t.db('crm_signatur').where('signatur_nr', prepA.signatureId).first()).toMatchObject({
      stand: 'unterschrieben',
      per_klick: 'Ja',
      nutzer: t.seed.staffContactId,
    });

    const b = await insertFreshContract(t.db, t.config.crm, { status: 'Entwurf' });
    const prepB = await activities.prepareSignatureRequest(b.ref);
    await activities.voidSignatureRequest({
      ...b.ref,
      signatureId: prepB.signatureId,
      reason: 'expired',
      at: '2026-12-03T00:00:00.000Z',
    });
    expect((await t.db('crm_signatur').where('signatur_nr', prepB.signatureId).first()).stand).toBe('verfallen');

    const c = await insertFreshContract(t.db, t.config.crm, { status: 'erstellt' });
    await expectRejected(activities.loadContract(c.ref), ErrorCode.CONTRACT_NOT_SENDABLE);
  });
});
