/**
 * The fonts that remember word layouts and glyph outlines across documents (documents/parsed-fonts.ts) give the very
 * bytes that plainly parsed fontkit fonts give: for the contract document and the Prüfprotokoll, for the first document
 * and for later ones that meet the remembered words (pdfkit scales each layout's positions in place, so a shared copy
 * would shift every later document), and after the word cache has started again.
 */
import * as fontkit from 'fontkit';
import { PNG } from 'pngjs';
import { certificateBlocks, type CertificateData } from '../../documents/render-certificate';
import {
  fontFileBytes,
  renderContractHtml,
  renderTextBlocksPdfHere,
  textBlocks,
  type ContractDocumentData,
  type DocumentFonts,
} from '../../documents/render-contract';
import { LAYOUT_CACHE_WORDS, parseFont, shareWordCache, WORD_CACHE_CHECK_EVERY } from '../../documents/parsed-fonts';

const bytes = fontFileBytes();
const plain = (): DocumentFonts => ({
  regular: fontkit.create(bytes.regular) as DocumentFonts['regular'],
  bold: fontkit.create(bytes.bold) as DocumentFonts['bold'],
});

const contract = (i: number): ContractDocumentData => ({
  contractId: i,
  practiceName: 'Praxis Müller & Söhne',
  title: `Honorarvertrag Logopädie ${i} – offizielle Fassung`,
  freelancerName: i % 2 ? 'Anna Müller' : 'Jürgen Weiß-Öztürk',
  start: '2027-01-01',
  end: i % 3 ? '2027-12-31' : null,
  feeCents: 100_000 + i * 37,
  description: 'Therapie – „Sprachförderung“ für Kinder, 2× wöchentlich; Pflichtenheft ﬁnal.\nZweite Zeile.',
  createdAt: new Date('2026-11-30T09:00:00Z'),
});

function signaturePng(): Buffer {
  const png = new PNG({ width: 60, height: 20 });
  for (let x = 2; x < 58; x++) {
    const i = (png.width * (10 + Math.round(5 * Math.sin(x / 5))) + x) << 2;
    png.data[i + 3] = 255;
  }
  return PNG.sync.write(png);
}

const certificate = (i: number): CertificateData => ({
  contractId: i,
  contractTitle: `Honorarvertrag Logopädie ${i}`,
  practiceName: 'Praxis Müller',
  documentId: 10 + i,
  documentTitle: 'Honorarvertrag Logopädie',
  documentSha256: 'a'.repeat(64),
  signatureMd5: 'b'.repeat(32),
  pageCount: 1,
  views: { count: 2, first: new Date('2026-11-30T09:30:00Z') },
  events: [
    { at: new Date('2026-11-30T09:00:01Z'), label: 'Einladung gesendet', details: ['an <e-mail>'] },
    {
      at: new Date('2026-11-30T10:00:00Z'),
      label: 'Unterschrieben mit gezeichneter Unterschrift (Bild)',
      details: [`IP-Adresse (vom Portal übermittelt): 203.0.113.${i}`],
      image: signaturePng(),
    },
  ],
  workflowId: `honorarvertrag-${i}`,
  runId: `run-${i}`,
  createdAt: new Date('2026-11-30T12:00:00Z'),
});

async function documents(fonts: DocumentFonts, ids: number[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const i of ids) {
    const d = contract(i);
    out.push(
      await renderTextBlocksPdfHere(
        textBlocks(renderContractHtml(d)),
        { title: `H ${i}`, createdAt: d.createdAt },
        fonts
      )
    );
    out.push(
      await renderTextBlocksPdfHere(
        certificateBlocks(certificate(i)),
        { title: `P ${i}`, createdAt: d.createdAt },
        fonts
      )
    );
  }
  return out;
}

test('documents rendered with the remembering fonts have the bytes of plainly parsed fonts, also the later ones', async () => {
  const remembering: DocumentFonts = { regular: parseFont(bytes.regular), bold: parseFont(bytes.bold) };
  // The same contracts twice (the second time every word is remembered) and new ones in between.
  const ids = [1, 2, 1, 3, 2, 2];
  const expected = await documents(plain(), ids);
  const actual = await documents(remembering, ids);
  expect(actual.map((b) => b.toString('base64'))).toEqual(expected.map((b) => b.toString('base64')));
});

test('a remembered layout is fontkit’s, handed out as a fresh copy each time; the cache starts again when full', () => {
  const plainFont = fontkit.create(bytes.regular) as DocumentFonts['regular'];
  const font = parseFont(bytes.regular);
  const text = 'Vergütung ﬁnal AVA';
  const first = font.layout(text);
  const want = plainFont.layout(text);
  const shape = (run: typeof want) => ({
    ids: run.glyphs.map((g) => g.id),
    positions: run.positions.map((p) => ({ ...p })),
    advanceWidth: run.advanceWidth,
  });
  expect(shape(first)).toEqual(shape(want));
  // What pdfkit does to a run: scale its positions in place.
  for (const p of first.positions) p.xAdvance *= 1000;
  const second = font.layout(text);
  expect(shape(second)).toEqual(shape(want));
  expect(second.glyphs).toBe(first.glyphs); // remembered, not laid out again
  expect(second.positions).not.toBe(first.positions);

  for (let i = 0; i < LAYOUT_CACHE_WORDS; i++) font.layout(`w${i}`);
  const afterRestart = font.layout(text);
  expect(afterRestart.glyphs).not.toBe(first.glyphs);
  expect(shape(afterRestart)).toEqual(shape(want));
});

test('a document embeds each font once, and a repeated document lays out no word again (pdfkit’s word cache is shared)', async () => {
  const fonts: DocumentFonts = { regular: parseFont(bytes.regular), bold: parseFont(bytes.bold) };
  let subsets = 0;
  let layouts = 0;
  for (const font of [fonts.regular, fonts.bold]) {
    const createSubset = font.createSubset.bind(font);
    font.createSubset = () => (subsets++, createSubset());
    const layout = font.layout.bind(font);
    font.layout = ((...args: Parameters<typeof layout>) => (layouts++, layout(...args))) as typeof font.layout;
  }
  // A contract document and a Prüfprotokoll: one embedded font (one subset) per font and document; pdfkit once made a
  // new one for every block in the regular font.
  await documents(fonts, [4]);
  expect(subsets).toBe(2 * 2);
  expect(layouts).toBeGreaterThan(50);
  subsets = 0;
  layouts = 0;
  await documents(fonts, [4]);
  expect(subsets).toBe(2 * 2);
  expect(layouts).toBe(0);
});

test('the shared word cache starts again once it holds more than LAYOUT_CACHE_WORDS words', () => {
  const font = parseFont(bytes.regular);
  const embedded = () => ({ font, layoutCache: {} as Record<string, unknown> });
  const first = embedded();
  shareWordCache(first);
  const shared = first.layoutCache;
  for (let i = 0; i <= LAYOUT_CACHE_WORDS; i++) shared[`w${i}`] = i;
  let last = first;
  // Checked every WORD_CACHE_CHECK_EVERY documents: until then the documents share the full cache.
  for (let d = 2; d < WORD_CACHE_CHECK_EVERY; d++) {
    last = embedded();
    shareWordCache(last);
    expect(last.layoutCache).toBe(shared);
  }
  last = embedded();
  shareWordCache(last);
  expect(last.layoutCache).not.toBe(shared);
  expect(Object.keys(last.layoutCache)).toHaveLength(0);
  // A font that parseFont did not make keeps pdfkit's own cache.
  const plainEmbedded = { font: fontkit.create(bytes.regular), layoutCache: {} };
  const own = plainEmbedded.layoutCache;
  shareWordCache(plainEmbedded);
  expect(plainEmbedded.layoutCache).toBe(own);
});
