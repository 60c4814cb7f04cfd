/**
 * pdfkit's writes gathered as text and converted once (documents/pdf-writes.ts): the same bytes as pdfkit writing
 * them itself, for contract documents (one and more pages, characters beyond Latin-1) and Prüfprotokolle with drawn
 * signatures (image streams between the text), which come out the same on every render.
 */
import { PNG } from 'pngjs';
import { certificateBlocks, type CertificateData } from '../../documents/render-certificate';
import {
  renderContractHtml,
  renderTextBlocksPdfHere,
  textBlocks,
  type ContractDocumentData,
  type ImageBlock,
  type TextBlock,
} from '../../documents/render-contract';

const contract = (i: number, description: string | null): ContractDocumentData => ({
  contractId: i,
  practiceName: 'Praxis Müller',
  title: `Honorarvertrag Logopädie ${i}`,
  freelancerName: i % 2 ? 'Özlem Yılmaz' : 'Łukasz Wójcik-Weiß',
  start: '2027-01-01',
  end: i % 3 ? '2027-12-31' : null,
  feeCents: 100_000 + i * 37,
  description,
  createdAt: new Date('2026-11-30T09:00:00Z'),
});

function signaturePng(): Buffer {
  const png = new PNG({ width: 80, height: 24 });
  for (let x = 2; x < 78; x++) {
    const i = (png.width * (12 + Math.round(6 * Math.sin(x / 6))) + x) << 2;
    png.data[i + 3] = 255;
  }
  return PNG.sync.write(png);
}

const certificate = (i: number, events: number): CertificateData => ({
  contractId: i,
  contractTitle: `Honorarvertrag Logopädie ${i}`,
  practiceName: 'Praxis Müller',
  documentId: 10 + i,
  documentTitle: 'Honorarvertrag Logopädie',
  documentSha256: 'a'.repeat(64),
  signatureMd5: 'b'.repeat(32),
  pageCount: 1,
  views: { count: 1, first: new Date('2026-11-30T09:30:00Z') },
  events: Array.from({ length: events }, (_, n) => ({
    at: new Date(Date.UTC(2026, 10, 30, 9, n)),
    label: n % 2 ? 'Erinnerung gesendet' : 'Unterschrieben mit gezeichneter Unterschrift (Bild)',
    details: [`an anna${n}@example.org`, 'Zeichen: „€ – ß ✓“'],
    ...(n % 2 ? {} : { image: signaturePng() }),
  })),
  workflowId: `honorarvertrag-${i}`,
  runId: `run-${i}`,
  createdAt: new Date('2026-11-30T12:00:00Z'),
});

async function both(blocks: (TextBlock | ImageBlock)[], title: string): Promise<[Buffer, Buffer]> {
  const data = { title, createdAt: new Date('2026-11-30T12:00:00Z') };
  const pdfkitsOwn = await renderTextBlocksPdfHere(blocks, data, undefined, { gatherWrites: false });
  const gathered = await renderTextBlocksPdfHere(blocks, data);
  return [pdfkitsOwn, gathered];
}

test('contract documents: the bytes pdfkit writes itself, one page and several', async () => {
  const long = Array.from({ length: 120 }, (_, n) => `Absatz ${n}: Kursleitung Rückenschule à 90 Minuten.`).join(' ');
  for (const [i, description] of [
    [1, null],
    [2, 'Therapie – „Sprachförderung“ für Kinder, 2× wöchentlich; Pflichtenheft ﬁnal.\nZweite Zeile.'],
    [3, long],
  ] as const) {
    const [own, gathered] = await both(textBlocks(renderContractHtml(contract(i, description))), `H ${i}`);
    expect(gathered.length).toBe(own.length);
    expect(gathered.equals(own)).toBe(true);
  }
});

test('Prüfprotokolle with drawn signatures between the text: the bytes pdfkit writes itself', async () => {
  for (const [i, events] of [
    [4, 2],
    [5, 30],
  ] as const) {
    const blocks = certificateBlocks(certificate(i, events));
    expect(blocks.some((b) => b.tag === 'img')).toBe(true);
    const [own, gathered] = await both(blocks, `P ${i}`);
    expect(gathered.equals(own)).toBe(true);
    // Several drawn signatures, decoded on zlib's thread pool: still written in the order drawn, so the same bytes.
    const [own2, gathered2] = await both(blocks, `P ${i}`);
    expect(own2.equals(own)).toBe(true);
    expect(gathered2.equals(own)).toBe(true);
    expect(gathered.subarray(0, 8).toString('latin1')).toBe('%PDF-1.7');
    expect(gathered.subarray(-6).toString('latin1')).toBe('%%EOF\n');
  }
});
