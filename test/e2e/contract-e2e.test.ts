/**
 * End to end on the real parts: the Temporal dev server (CLI binary), the real worker with the real activities, a
 * CRM database (SQLite, and MariaDB as in production), an SMTP server on loopback, and the HTTP API with the dev portal page that the invitation links
 * to. Start → invitation mail with a working link → sign → database rows exactly as the process description says →
 * confirmation mail; plus search attributes and the history ops see.
 *
 * With SIGNFLOW_RECORD_HISTORIES=1 the finished histories (of the SQLite run) are written to test/histories/ for the
 * replay test.
 */
import { PNG } from 'pngjs';
import type { CapturedMail } from '../../mail/dev-inbox';
import { signatureMd5, sha256Hex } from '../../domain/signature-hash';
import {
  SA_CONTRACT_STATUS,
  SA_CRM_CONTRACT_ID,
  SA_SIGNATURE_STATUS,
  SA_WAITING_REASON,
} from '../../workflows/definitions';
import { startApiStack, type ApiStack } from '../api/api-stack';
import { addSendableContract } from '../helpers/contract-stack';
import { testDatabases } from '../../harness/databases';
import { recordHistory } from '../helpers/histories';
import { eventually } from '../helpers/waits';
import { startDevServer, type DevServerHandle } from '../../harness/temporal';
import { LOCAL_ACTIVITY_MARKER } from '../../bench/actions';

jest.setTimeout(180_000);

const mailKey = (m: CapturedMail): string => m.headers['x-signflow-mail-key'] ?? '';

/** The portal link in the text part of the invitation (the only http URL there). */
function linkIn(mail: CapturedMail): string {
  const url = /https?:\/\/\S+/.exec(mail.text)?.[0];
  if (!url) throw new Error(`no link in the invitation mail:\n${mail.text}`);
  return url.replace(/[>).,]+$/, '');
}

describe.each(testDatabases())('on $name', (database) => {
  /** The stored histories come from the SQLite run (one set of files; both runs make the same histories). */
  const record: typeof recordHistory = (handle, name) =>
    database.name === 'sqlite' ? recordHistory(handle, name) : Promise.resolve();

  let server: DevServerHandle;
  let api: ApiStack;

  beforeAll(async () => {
    // One dev server per database: contract ids (and so workflow ids) repeat across the two databases.
    server = await startDevServer();
    api = await startApiStack(server, { dev: true, db: database.name });
  });

  afterAll(async () => {
    await api?.stop();
    await server?.stop();
  });

  async function startAndOpenInvitation(contractId: number) {
    const start = await api.call('POST', `/api/v1/contracts/${contractId}/signature-request`, { as: 'crm' });
    expect(start.status).toBe(202);
    expect(start.json.workflowId).toBe(`honorarvertrag-${contractId}`);
    const invitation = await api.stack.waitForMail((m) => mailKey(m) === `honorarvertrag-${contractId}:invitation`);
    return { start, invitation };
  }

  test('start → invitation mail with a working link → click-sign → rows as described → confirmation mail', async () => {
    const { t, client } = api.stack;
    const contractId = await addSendableContract(t);
    const contractBefore = await t.db('honorarvertraege').where('id', contractId).first();
    expect(contractBefore.status).toBe('erstellt');

    const { invitation } = await startAndOpenInvitation(contractId);
    const contact = await t.db('kontakte').where('id', contractBefore.kontakt_id).first();
    expect(invitation.to).toEqual([contact.email]);
    expect(invitation.html).toContain(contact.nachname);

    // After sending: document, pending signature, contract `versendet`.
    const doc = await t
      .db('dokumente')
      .where({ verknuepftes_objekt_typ: 'Honorarvertrag', verknuepftes_objekt_id: contractId })
      .first();
    expect(doc).toMatchObject({ vorlagenart: 'Vertrag', mime_type: 'application/pdf' });
    const pdf = Buffer.from(doc.inhalt);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(doc.sha256).toBe(sha256Hex(pdf));
    const pending = await t.db('unterschriften').where({ dokument_id: doc.id }).first();
    expect(pending).toMatchObject({
      status: 'ausstehend',
      kontakt_id: contact.id,
      verknuepftes_objekt_typ: 'Honorarvertrag',
      verknuepftes_objekt_id: contractId,
    });
    const sent = await t.db('honorarvertraege').where('id', contractId).first();
    expect(sent.status).toBe('versendet');
    expect(sent.letzte_statusaenderung).not.toBeNull();

    // The link in the mail opens the document's detail page in the (dev) portal.
    const link = linkIn(invitation);
    expect(link).toBe(`${api.config.portal.baseUrl}/dokumente/${doc.id}`);
    const page = await fetch(link, { signal: AbortSignal.timeout(20_000) });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Dieses Dokument unterzeichnen');
    expect(html).toContain('Unterschrift jetzt setzen');

    // The workflow is visible to ops with typed search attributes and no personal data.
    const handle = client.workflow.getHandle(`honorarvertrag-${contractId}`);
    await eventually(async () => {
      const d = await handle.describe();
      expect(d.typedSearchAttributes.get(SA_CRM_CONTRACT_ID)).toBe(contractId);
      expect(d.typedSearchAttributes.get(SA_CONTRACT_STATUS)).toBe('versendet');
      expect(d.typedSearchAttributes.get(SA_SIGNATURE_STATUS)).toBe('ausstehend');
      expect(d.typedSearchAttributes.get(SA_WAITING_REASON)).toBe('signature');
    });
    await eventually(async () => {
      const found = [];
      for await (const w of client.workflow.list({
        query: `CrmContractId = ${contractId} AND WaitingReason = 'signature'`,
      })) {
        found.push(w.workflowId);
      }
      expect(found).toEqual([`honorarvertrag-${contractId}`]);
    });

    // The contact signs in the portal.
    const signed = await api.call('POST', `/api/v1/contracts/${contractId}/signature`, {
      as: 'portal',
      body: { contactId: contact.id, method: 'click' },
    });
    expect(signed.status).toBe(200);
    const outcome = signed.json;
    const confirmation = await api.stack.waitForMail((m) => mailKey(m) === `honorarvertrag-${contractId}:confirmation`);
    expect(confirmation.to).toEqual([contact.email]);
    const result = await handle.result();
    expect(result).toMatchObject({ contractId, outcome: 'signed', documentId: doc.id, signatureId: pending.id });

    // Rows exactly as the seed describes.
    const sig = await t.db('unterschriften').where('id', pending.id).first();
    expect(sig.status).toBe('gültig');
    expect(Boolean(sig.unterschrift_per_authentifiziertem_klick)).toBe(true);
    expect(sig.benutzer_id).toBe(contact.id);
    expect(sig.unterschriftenbild ?? null).toBeNull();
    expect(new Date(sig.unterschrieben_am).toISOString()).toBe(outcome.confirmedAt);
    // Anyone can recompute the MD5 from the database.
    expect(sig.md5_hash).toBe(
      signatureMd5({
        documentSha256: sha256Hex(pdf),
        signerContactId: contact.id,
        method: 'click',
        signedAt: sig.unterschrieben_am,
      })
    );
    const done = await t.db('honorarvertraege').where('id', contractId).first();
    expect(done.status).toBe('in Durchführung');
    expect(Boolean(done.bestaetigt_durch_honorarkraft)).toBe(true);
    expect(done.bestaetigt_durch).toBe(contact.id);
    expect(new Date(done.bestaetigt_am).toISOString()).toBe(outcome.confirmedAt);
    expect(new Date(done.letzte_statusaenderung).toISOString()).toBe(outcome.confirmedAt);
    expect([done.titel, done.kontakt_id, done.honorar_cent]).toEqual([
      contractBefore.titel,
      contractBefore.kontakt_id,
      contractBefore.honorar_cent,
    ]);

    const d = await handle.describe();
    expect(d.typedSearchAttributes.get(SA_CONTRACT_STATUS)).toBe('in Durchführung');
    expect(d.typedSearchAttributes.get(SA_SIGNATURE_STATUS)).toBe('gültig');
    // Search attributes and the memo carry no personal data.
    expect(JSON.stringify(d.raw.workflowExecutionInfo?.searchAttributes ?? {})).not.toContain(contact.nachname);

    // The history explains itself: every activity and every local activity (its marker: the recording, generation 3
    // on) has a summary.
    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? []).filter(
      (e) =>
        e.activityTaskScheduledEventAttributes || e.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER
    );
    expect(scheduled.length).toBeGreaterThanOrEqual(5);
    for (const e of scheduled) expect(e.userMetadata?.summary?.data?.length ?? 0).toBeGreaterThan(0);
    // Exactly one invitation and one confirmation.
    const keys = api.stack.inbox
      .messages()
      .map(mailKey)
      .filter((k) => k.startsWith(`honorarvertrag-${contractId}:`))
      .sort();
    expect(keys).toEqual([`honorarvertrag-${contractId}:confirmation`, `honorarvertrag-${contractId}:invitation`]);
    await record(handle, 'click-signed');
  });

  test('drawn signature from the portal API is stored as an image document', async () => {
    const { t, client } = api.stack;
    const contractId = await addSendableContract(t);
    await startAndOpenInvitation(contractId);
    const contactId = (await t.db('honorarvertraege').where('id', contractId).first()).kontakt_id;
    const png = new PNG({ width: 200, height: 60 });
    png.data.fill(255);
    for (let x = 20; x < 180; x++) {
      const i = (30 * 200 + x) * 4;
      png.data[i] = png.data[i + 1] = png.data[i + 2] = 0;
    }
    const image = PNG.sync.write(png);
    const signed = await api.call('POST', `/api/v1/contracts/${contractId}/signature`, {
      as: 'portal',
      body: { contactId, method: 'drawn', imagePngBase64: image.toString('base64') },
    });
    expect(signed.status).toBe(200);
    const handle = client.workflow.getHandle(`honorarvertrag-${contractId}`);
    await handle.result();
    const sig = await t.db('unterschriften').where({ verknuepftes_objekt_id: contractId }).first();
    expect(Boolean(sig.unterschrift_per_authentifiziertem_klick)).toBe(false);
    const stored = await t.db('dokumente').where('id', sig.unterschriftenbild).first();
    expect(Buffer.from(stored.inhalt).equals(image)).toBe(true);
    await record(handle, 'drawn-signed');
  });

  test('staff confirmation and withdrawal through the API', async () => {
    const { t, client } = api.stack;
    const confirmed = await addSendableContract(t);
    const withdrawn = await addSendableContract(t);
    await startAndOpenInvitation(confirmed);
    await startAndOpenInvitation(withdrawn);
    const staff = t.seed.staffContactId;

    const c = await api.call('POST', `/api/v1/contracts/${confirmed}/confirmation`, {
      as: 'staff',
      body: { staffContactId: staff },
    });
    expect(c.status).toBe(200);
    const w = await api.call('POST', `/api/v1/contracts/${withdrawn}/withdrawal`, { as: 'staff', body: {} });
    // The withdrawal is an Update: it answers what happened (200 withdrawn), not "accepted".
    expect([w.status, w.json?.result]).toEqual([200, 'withdrawn']);

    const confirmedHandle = client.workflow.getHandle(`honorarvertrag-${confirmed}`);
    const withdrawnHandle = client.workflow.getHandle(`honorarvertrag-${withdrawn}`);
    expect(await confirmedHandle.result()).toMatchObject({ outcome: 'confirmed' });
    expect(await withdrawnHandle.result()).toMatchObject({ outcome: 'withdrawn' });
    expect((await t.db('honorarvertraege').where('id', confirmed).first()).bestaetigt_durch).toBe(staff);
    expect((await t.db('unterschriften').where('verknuepftes_objekt_id', withdrawn).first()).status).toBe(
      'zurückgezogen'
    );
    await record(confirmedHandle, 'staff-confirmed');
    await record(withdrawnHandle, 'withdrawn');
  });
});
