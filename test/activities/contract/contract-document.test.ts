/**
 * The contract document: one Handlebars source, an escaped HTML rendition and a deterministic, tagged PDF/A-3b with
 * embedded fonts. The last test re-renders a stored document from the database's data and gets the same bytes.
 */
import { createContractActivities } from '../../../activities/contract.activities';
import { readContact, readContract, readDocument } from '../../../db/crm-repository';
import {
  formatEuroCents,
  formatGermanDate,
  renderContractDocument,
  textBlocks,
  type ContractDocumentData,
} from '../../../documents/render-contract';
import { sha256Hex } from '../../../domain/signature-hash';
import { createTestDb, testDatabases, type TestDb } from '../../../harness/databases';
import { insertFreshContract } from './fixtures';

const DATA: ContractDocumentData = {
  contractId: 41,
  practiceName: 'Praxis Dr. Özdemir & Kollegen',
  title: 'Honorarvertrag <script>alert(1)</script> Logopädie',
  freelancerName: 'Jörg Weiß',
  start: '2027-01-01',
  end: new Date('2027-03-31T00:00:00.000Z'),
  feeCents: 450050,
  description: 'Therapie „Kinder“ & Jugendliche',
  createdAt: new Date('2026-11-23T17:30:00.123Z'),
};

describe('renderContractDocument', () => {
  test('the PDF is a tagged PDF/A-3b in German with embedded DejaVu fonts and no built-in Helvetica', async () => {
    const { pdf } = await renderContractDocument(DATA);
    const text = pdf.toString('latin1');
    expect(text.startsWith('%PDF-1.7')).toBe(true);
    expect(text.trimEnd().endsWith('%%EOF')).toBe(true);
    // XMP is stored uncompressed, so the identification is readable as is.
    expect(text).toContain('<pdfaid:part>3</pdfaid:part>');
    expect(text).toContain('<pdfaid:conformance>B</pdfaid:conformance>');
    expect(text).toMatch(/\/OutputIntents \[\d+ 0 R\]/);
    expect(text).toContain('/S /GTS_PDFA1');
    expect(text).toContain('/Lang (de-DE)');
    expect(text).toMatch(/\/MarkInfo \d+ 0 R/);
    expect(text).toContain('/Marked true');
    expect(text).toMatch(/\/StructTreeRoot \d+ 0 R/);
    expect(text).toMatch(/\/BaseFont \/[A-Z]{6}\+DejaVuSans\n/);
    expect(text).toMatch(/\/BaseFont \/[A-Z]{6}\+DejaVuSans-Bold\n/);
    expect(text.match(/\/FontFile2 \d+ 0 R/g)).toHaveLength(2);
    expect(text).not.toContain('Helvetica');
    // No personal data in the document's metadata (title = contract id only).
    expect(text).toContain('<rdf:li xml:lang="x-default">Honorarvertrag 41</rdf:li>');
    expect(text).not.toMatch(/Weiß|Wei\\337/);
  });

  test('one structure element per template block: the PDF is laid out from the same source as the HTML', async () => {
    const { pdf, html } = await renderContractDocument(DATA);
    const blocks = textBlocks(html);
    const text = pdf.toString('latin1');
    const count = (tag: string) => blocks.filter((b) => b.tag === tag).length;
    expect(count('h1')).toBe(1);
    expect(count('h2')).toBe(7);
    expect(text.match(/\/S \/H1\n/g)).toHaveLength(count('h1'));
    expect(text.match(/\/S \/H2\n/g)).toHaveLength(count('h2'));
    expect(text.match(/\/S \/P\n/g)).toHaveLength(count('p'));
    // What the PDF prints: entities decoded, values in German format.
    expect(blocks.map((b) => b.text)).toEqual(
      expect.arrayContaining([
        'Vertragsnummer 41 · erstellt am 23.11.2026',
        'zwischen Praxis Dr. Özdemir & Kollegen (im Folgenden „Praxis“)',
        'und Jörg Weiß (im Folgenden „Honorarkraft“)',
        'Honorarvertrag <script>alert(1)</script> Logopädie',
        'Therapie „Kinder“ & Jugendliche',
        'Der Vertrag beginnt am 01.01.2027 und endet am 31.03.2027, ohne dass es einer Kündigung bedarf.',
      ])
    );
    expect(blocks.find((b) => b.text.startsWith('Vertragsnummer'))?.meta).toBe(true);
  });

  test('the HTML rendition escapes every value', async () => {
    const { html } = await renderContractDocument(DATA);
    expect(html.startsWith("<article class='honorarvertrag' lang='de'>")).toBe(true);
    expect(html).not.toContain('<script>');
    expect(html).toContain('Honorarvertrag &lt;script&gt;alert(1)&lt;/script&gt; Logopädie');
    expect(html).toContain('Praxis Dr. Özdemir &amp; Kollegen');
    expect(html).toContain('4.500,50\u00a0€.');
    expect(textBlocks(html).map((b) => b.text)).toContainEqual(
      expect.stringContaining('ein Honorar von 4.500,50\u00a0€.')
    );
    expect(html).not.toContain('{{');
  });

  test('without end date and fee the template says so instead of printing blanks', async () => {
    const { html } = await renderContractDocument({ ...DATA, end: null, feeCents: null, description: '  ' });
    expect(html).toContain('läuft auf unbestimmte Zeit');
    expect(html).toContain('nach der gesonderten Vereinbarung');
    expect(html).not.toMatch(/<p>\s*<\/p>/);
    expect(html).not.toContain('null');
  });

  test('deterministic: equal data gives equal bytes; another creation time gives another file', async () => {
    const a = await renderContractDocument(DATA);
    const b = await renderContractDocument({ ...DATA });
    expect(sha256Hex(b.pdf)).toBe(sha256Hex(a.pdf));
    expect(b.html).toBe(a.html);
    const c = await renderContractDocument({ ...DATA, createdAt: new Date('2026-11-23T17:30:01.123Z') });
    expect(c.pdf.equals(a.pdf)).toBe(false);
    expect(c.pdf.toString('latin1')).toContain('(D:20261123173001Z)');
  });

  test('German formats', () => {
    expect(formatGermanDate('2027-12-31')).toBe('31.12.2027');
    expect(formatGermanDate(new Date('2027-02-01T00:00:00Z'))).toBe('01.02.2027');
    expect(formatGermanDate(null)).toBeNull();
    expect(formatEuroCents(99)).toBe('0,99\u00a0€');
    expect(formatEuroCents(123456789)).toBe('1.234.567,89\u00a0€');
  });
});

describe.each(testDatabases())('the stored contract document on $name', ({ name }) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb(name);
  });
  afterAll(async () => {
    await t?.destroy();
  });

  test('re-rendering from the database data and the stored creation time reproduces the stored bytes', async () => {
    const crm = t.config.crm;
    const activities = createContractActivities({ db: t.db, config: t.config });
    const fresh = await insertFreshContract(t.db, crm);
    const prep = await activities.prepareSignatureRequest(fresh.ref);
    const stored = (await readDocument(t.db, crm, prep.documentId))!;
    const contract = (await readContract(t.db, crm, fresh.contractId))!;
    const contact = (await readContact(t.db, crm, fresh.contactId))!;
    const again = await renderContractDocument({
      contractId: contract.id,
      practiceName: t.config.mail.practiceName,
      title: contract.title,
      freelancerName: `${contact.firstName} ${contact.lastName}`,
      start: contract.start,
      end: contract.end,
      feeCents: contract.feeCents,
      description: contract.description,
      createdAt: stored.createdAt!,
    });
    expect(sha256Hex(again.pdf)).toBe(prep.documentSha256);
    expect(again.pdf.equals(stored.content!)).toBe(true);
    const request = await t.db('signflow_requests').where('workflow_id', fresh.ref.workflowId).first();
    expect(request.html).toBe(again.html);
  });
});
