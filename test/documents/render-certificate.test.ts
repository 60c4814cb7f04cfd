/** The Prüfprotokoll's content: German, every event with Europe/Berlin and UTC time, in time order; PDF/A bytes. */
import { berlinAndUtc, certificateBlocks, countPdfPages, renderCertificate } from '../../documents/render-certificate';
import type { CertificateData } from '../../documents/render-certificate';

const data: CertificateData = {
  contractId: 42,
  contractTitle: 'Honorarvertrag Logopädie',
  practiceName: 'Praxis Müller',
  documentId: 7,
  documentTitle: 'Honorarvertrag Logopädie',
  documentSha256: 'a'.repeat(64),
  signatureMd5: 'b'.repeat(32),
  pageCount: 2,
  events: [
    {
      at: new Date('2026-07-01T10:00:05Z'),
      label: 'Unterschrieben per authentifiziertem Klick',
      details: ['IP-Adresse: 203.0.113.7'],
    },
    { at: new Date('2026-07-01T09:00:00Z'), label: 'Einladung gesendet', details: ['an anna@example.org'] },
  ],
  workflowId: 'honorarvertrag-42',
  runId: 'run-1',
  createdAt: new Date('2026-12-01T12:00:00Z'),
};

test('times in Europe/Berlin (summer and winter time) and UTC', () => {
  expect(berlinAndUtc(new Date('2026-07-01T09:00:00Z'))).toBe(
    '01.07.2026, 11:00:00 MESZ (UTC 2026-07-01T09:00:00.000Z)'
  );
  expect(berlinAndUtc(new Date('2026-12-01T12:00:00Z'))).toBe(
    '01.12.2026, 13:00:00 MEZ (UTC 2026-12-01T12:00:00.000Z)'
  );
});

test('lists the document, its hashes, every event in time order and how to verify', () => {
  const text = certificateBlocks(data).map((b) => (b.tag === 'img' ? '[Bild]' : b.text));
  expect(text[0]).toBe('Prüfprotokoll zu Honorarvertrag 42');
  expect(text).toEqual(
    expect.arrayContaining([
      'Dokument-ID: 7',
      `SHA-256: ${'a'.repeat(64)}`,
      `MD5 der Unterschrift (Unterschriften-Datensatz): ${'b'.repeat(32)}`,
      'Seitenzahl: 2',
      'Workflow-ID: honorarvertrag-42',
      'Run-ID: run-1',
    ])
  );
  const invitation = text.findIndex((t) => t.endsWith(': Einladung gesendet'));
  const signed = text.findIndex((t) => t.endsWith(': Unterschrieben per authentifiziertem Klick'));
  expect(invitation).toBeGreaterThan(0);
  expect(signed).toBeGreaterThan(invitation);
  expect(text[invitation]).toContain('11:00:00 MESZ (UTC 2026-07-01T09:00:00.000Z)');
  expect(text[invitation + 1]).toContain('an anna@example.org');
  expect(text.some((t) => t.includes('signflow verify 42'))).toBe(true);
});

test('renders a deterministic PDF/A-3b', async () => {
  const a = await renderCertificate(data);
  const b = await renderCertificate(data);
  expect(a.equals(b)).toBe(true);
  const raw = a.toString('latin1');
  expect(raw.startsWith('%PDF-1.7')).toBe(true);
  expect(raw).toMatch(/pdfaid:part>3</);
  expect(raw).toMatch(/pdfaid:conformance>B</);
  expect(countPdfPages(a)).toBe(1);
});
