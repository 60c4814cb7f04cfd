/** `renderContractDocument` alone, in this process, with nothing else running: the CPU cost of one PDF/A + HTML. */
import fs from 'node:fs';
import path from 'node:path';
import PDFDocument from 'pdfkit';
import { renderContractDocument, renderContractHtml, type ContractDocumentData } from '../documents/render-contract';

export interface RenderResult {
  /** First call: template compile and font load included. */
  coldMs: number;
  /** Later calls, each, after 5 unmeasured warm-up renders. */
  documentMs: number[];
  /** The HTML rendition alone (Handlebars), each. */
  htmlMs: number[];
  pdfBytes: number;
  /**
   * A one-line PDF/A with the same two DejaVu fonts handed over as file bytes, as the renderer once did: what a
   * document would pay for parsing and embedding its fonts without the renderer's per-thread parsed fonts.
   */
  fontsOnlyMs: number[];
}

const FONT_DIR = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');

function fontsOnlyPdf(regular: Buffer, bold: Buffer): Promise<Buffer> {
  const doc = new PDFDocument({ pdfVersion: '1.7', subset: 'PDF/A-3b', tagged: true, lang: 'de-DE', size: 'A4' });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve) => doc.on('end', () => resolve(Buffer.concat(chunks))));
  doc.on('data', (c: Buffer) => chunks.push(c));
  doc.registerFont('regular', regular);
  doc.registerFont('bold', bold);
  doc.font('bold').text('Honorarvertrag');
  doc.font('regular').text('Vergütung: 1.234,56 €');
  doc.end();
  return done;
}

const data = (i: number): ContractDocumentData => ({
  contractId: 100 + i,
  practiceName: 'Physiotherapie am Markt',
  title: `Honorarvertrag Kursleitung ${i}`,
  freelancerName: 'Jürgen Weiß',
  start: '2027-01-01',
  end: '2027-06-30',
  feeCents: 123456,
  description: 'Kursleitung Rückenschule, 12 Termine à 90 Minuten; Unterlagen werden gestellt.',
  createdAt: new Date('2026-11-23T10:00:00Z'),
});

export async function runRender(iterations: number): Promise<RenderResult> {
  let t = performance.now();
  const first = await renderContractDocument(data(0));
  const coldMs = performance.now() - t;
  // The JIT needs a few documents before pdfkit and fontkit run at their steady speed; those are not counted.
  for (let i = 0; i < 5; i++) await renderContractDocument(data(1000 + i));
  const documentMs: number[] = [];
  const htmlMs: number[] = [];
  for (let i = 1; i <= iterations; i++) {
    t = performance.now();
    await renderContractDocument(data(i));
    documentMs.push(performance.now() - t);
    t = performance.now();
    renderContractHtml(data(i));
    htmlMs.push(performance.now() - t);
  }
  const regular = fs.readFileSync(path.join(FONT_DIR, 'DejaVuSans.ttf'));
  const bold = fs.readFileSync(path.join(FONT_DIR, 'DejaVuSans-Bold.ttf'));
  for (let i = 0; i < 3; i++) await fontsOnlyPdf(regular, bold);
  const fontsOnlyMs: number[] = [];
  for (let i = 1; i <= iterations; i++) {
    t = performance.now();
    await fontsOnlyPdf(regular, bold);
    fontsOnlyMs.push(performance.now() - t);
  }
  return { coldMs, documentMs, htmlMs, pdfBytes: first.pdf.length, fontsOnlyMs };
}
