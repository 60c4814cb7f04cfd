/**
 * Renders a Honorarvertrag from ONE Handlebars template (templates/documents/honorarvertrag.hbs) into the portal's HTML
 * rendition and a PDF/A-3b (tagged, embedded DejaVu fonts) that a Konnektor accepts for a QES countersignature.
 *
 * Deterministic: the same data gives the same bytes. Every date inside the PDF (Info, XMP, file ID) comes from
 * `data.createdAt`, never from the clock, so a hash of the document can be recomputed from a re-render.
 */
import fs from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import type PDFKitDocument from 'pdfkit';
import type { CrmContact, CrmContract } from '../db/crm-repository';
import { templateFile } from '../templating/template-files';
import type { ParsedFont } from './parsed-fonts';
import { renderPdfOffThread } from './pdf-threads';
import { gatherPdfWrites } from './pdf-writes';
import { compressStreamsRemembered } from './remembered-deflate';

export interface ContractDocumentData {
  contractId: number;
  practiceName: string;
  /** The contract's title (Honorarvertrag.titel). */
  title: string;
  /** First and last name of the freelancer (Honorarkraft). */
  freelancerName: string;
  /** ISO date `YYYY-MM-DD` or a Date (UTC midnight, as MySQL returns DATE); null = not set. */
  start: Date | string | null;
  end: Date | string | null;
  feeCents: number | null;
  description: string | null;
  /** Creation time of the document: the PDF's CreationDate, XMP date and file ID derive from it. */
  createdAt: Date;
}

/** The document's values from the CRM rows (the contract activity and `signflow templates preview` share it). */
export function contractDocumentData(
  contract: Pick<CrmContract, 'id' | 'title' | 'start' | 'end' | 'feeCents' | 'description'>,
  contact: Pick<CrmContact, 'firstName' | 'lastName'>,
  practiceName: string,
  createdAt: Date
): ContractDocumentData {
  return {
    contractId: contract.id,
    practiceName,
    title: contract.title,
    freelancerName: `${contact.firstName} ${contact.lastName}`.trim(),
    start: contract.start,
    end: contract.end,
    feeCents: contract.feeCents,
    description: contract.description,
    createdAt,
  };
}

export interface RenderedContractDocument {
  pdf: Buffer;
  html: string;
}

/** The contract document's template, relative to `templates/` (overridable by `SIGNFLOW_TEMPLATES_DIR`). */
export const CONTRACT_TEMPLATE = 'documents/honorarvertrag.hbs';
const FONT_DIR = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');

// Hoisted: building Intl formatters is far slower than using them.
const DATE_FORMAT = new Intl.DateTimeFormat('de-DE', {
  day: '2-digit',
  month: '2-digit',
  year: 'numeric',
  timeZone: 'UTC',
});
const DAY_IN_BERLIN = new Intl.DateTimeFormat('de-DE', {
  day: '2-digit',
  month: '2-digit',
  year: 'numeric',
  timeZone: 'Europe/Berlin',
});
const EURO = new Intl.NumberFormat('de-DE', { style: 'currency', currency: 'EUR' });

/**
 * pdfkit and fontkit (with brotli, linebreak and the rest under them: ~5 MB of V8 heap and ~20 MB of RSS with their
 * code) are loaded by the thread that lays out a PDF, on its first render: the PDF threads. The worker's main thread
 * only hands renders to them (`renderPdfOffThread`), and a worker with thousands of contracts waiting for their
 * signature should not hold a PDF library it never calls.
 */
function pdfDocumentClass(): typeof PDFKitDocument {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('pdfkit') as typeof PDFKitDocument;
}

function parsedFonts(): typeof import('./parsed-fonts') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./parsed-fonts') as typeof import('./parsed-fonts');
}

function parseFont(bytes: Buffer): ParsedFont {
  return parsedFonts().parseFont(bytes);
}

function shareWordCache(embedded: Parameters<typeof import('./parsed-fonts').shareWordCache>[0]): void {
  parsedFonts().shareWordCache(embedded);
}

/** Compiled once per file (the built-in one, or the override in use). */
const compiled = new Map<string, HandlebarsTemplateDelegate>();
/** The two fonts a document uses, parsed (fontkit). */
export interface DocumentFonts {
  regular: ParsedFont;
  bold: ParsedFont;
}
let fonts: DocumentFonts | undefined;

function template(): HandlebarsTemplateDelegate {
  const file = templateFile(CONTRACT_TEMPLATE);
  let t = compiled.get(file);
  if (!t) {
    // An isolated environment: helpers other modules register globally cannot change the contract's wording.
    t = Handlebars.create().compile(fs.readFileSync(file, 'utf8'), { strict: true });
    compiled.set(file, t);
  }
  return t;
}

/** The document fonts' files (DejaVu Sans, regular and bold). */
export function fontFileBytes(): { regular: Buffer; bold: Buffer } {
  return {
    regular: fs.readFileSync(path.join(FONT_DIR, 'DejaVuSans.ttf')),
    bold: fs.readFileSync(path.join(FONT_DIR, 'DejaVuSans-Bold.ttf')),
  };
}

/**
 * Parsed once per process (each PDF thread): given the bytes, pdfkit parses each 700 KiB TrueType file again for every
 * document, which was two thirds of the render time (bench: 24.6 of 36.9 ms). Each document still embeds its own
 * subset. parsed-fonts.ts also keeps the words' layouts and the glyphs' outlines across documents.
 */
function fontFiles(): DocumentFonts {
  if (!fonts) {
    const bytes = fontFileBytes();
    fonts = { regular: parseFont(bytes.regular), bold: parseFont(bytes.bold) };
  }
  return fonts;
}

/** `2027-01-31` or a Date at UTC midnight → `31.01.2027`; strings that are not ISO dates are printed as given. */
export function formatGermanDate(value: Date | string | null): string | null {
  if (value === null || value === '') return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : DATE_FORMAT.format(value);
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  return m ? `${m[3]}.${m[2]}.${m[1]}` : value;
}

export function formatEuroCents(cents: number | null): string | null {
  return cents === null ? null : EURO.format(cents / 100);
}

/** Every key the template names is present (null when empty), which strict mode requires. */
function viewModel(data: ContractDocumentData): Record<string, unknown> {
  return {
    contractId: data.contractId,
    createdOn: DAY_IN_BERLIN.format(data.createdAt),
    practiceName: data.practiceName,
    freelancerName: data.freelancerName,
    title: data.title,
    description: data.description?.trim() || null,
    start: formatGermanDate(data.start) ?? 'Vertragsschluss',
    end: formatGermanDate(data.end),
    fee: formatEuroCents(data.feeCents),
  };
}

export function renderContractHtml(data: ContractDocumentData): string {
  return template()(viewModel(data)).trim() + '\n';
}

type BlockTag = 'h1' | 'h2' | 'p' | 'li';

export interface TextBlock {
  tag: BlockTag;
  meta: boolean;
  text: string;
}

/** An image (PNG or JPEG) as a tagged Figure with its alternative text, scaled into `maxHeight` points. */
export interface ImageBlock {
  tag: 'img';
  image: Buffer;
  alt: string;
  maxHeight: number;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/** The template's block elements in order, as plain text: what the PDF prints. */
export function textBlocks(html: string): TextBlock[] {
  const blocks: TextBlock[] = [];
  for (const m of html.matchAll(/<(h1|h2|p|li)(\s[^>]*)?>([\s\S]*?)<\/\1>/g)) {
    // Source line breaks are layout of the template, not of the text: collapse them first (but not the no-break spaces
    // the formatters put between amount and currency), then honour <br>.
    const inner = (m[3] ?? '')
      .replace(/[ \t\r\n]+/g, ' ')
      .replace(/<br\s*\/?>/gi, '\n')
      .replace(/<[^>]*>/g, '');
    const text = decodeEntities(inner)
      .split('\n')
      .map((line) => line.replace(/^ +| +$/g, ''))
      .join('\n');
    blocks.push({ tag: m[1] as BlockTag, meta: /class=["'][^"']*\bmeta\b/.test(m[2] ?? ''), text });
  }
  return blocks;
}

const STYLE: Record<BlockTag, { font: 'regular' | 'bold'; size: number; before: number; after: number }> = {
  h1: { font: 'bold', size: 20, before: 0, after: 6 },
  h2: { font: 'bold', size: 12.5, before: 12, after: 4 },
  p: { font: 'regular', size: 10.5, before: 0, after: 6 },
  li: { font: 'regular', size: 10.5, before: 0, after: 3 },
};
const STRUCT_TYPE: Record<BlockTag, string> = { h1: 'H1', h2: 'H2', p: 'P', li: 'LI' };

/**
 * Text blocks as a tagged PDF/A-3b with the embedded DejaVu fonts; the contract and the Prüfprotokoll share it.
 * Rendered on a thread of the PDF pool (documents/pdf-threads.ts), so the event loop stays free meanwhile.
 */
export function renderTextBlocksPdf(
  blocks: (TextBlock | ImageBlock)[],
  data: Pick<ContractDocumentData, 'createdAt'> & { title: string }
): Promise<Buffer> {
  return renderPdfOffThread({ blocks, data: { title: data.title, createdAt: data.createdAt } });
}

/**
 * `renderTextBlocksPdf` on this thread (the pool's threads run this). `fonts`: the process's own parsed fonts unless
 * given (a test compares them with plainly parsed ones). `gatherWrites: false` leaves pdfkit's own way of writing
 * (a test compares the bytes).
 */
export function renderTextBlocksPdfHere(
  blocks: (TextBlock | ImageBlock)[],
  data: Pick<ContractDocumentData, 'createdAt'> & { title: string },
  fonts: DocumentFonts = fontFiles(),
  options: { gatherWrites?: boolean } = {}
): Promise<Buffer> {
  const { regular, bold } = fonts;
  const PDFDocument = pdfDocumentClass();
  const doc = new PDFDocument({
    // No starting font: pdfkit's default, Helvetica, was parsed from its AFM file for every document (~0.7 ms of a
    // render), although no text uses it; our regular font is selected by name below, before anything is measured.
    // (Given here as the parsed font instead, it was keyed by its PostScript name only, so every later
    // `font('regular')` made a new embedded font, compared it by JSON of its name table and dropped it, and with it
    // pdfkit's layout cache.)
    font: null as unknown as string,
    pdfVersion: '1.7',
    subset: 'PDF/A-3b',
    tagged: true,
    lang: 'de-DE',
    displayTitle: true,
    size: 'A4',
    margins: { top: 64, bottom: 64, left: 64, right: 64 },
    // Only ASCII here: pdfkit copies these into the XMP packet without escaping. No personal data either.
    info: {
      Title: data.title,
      Creator: 'signflow',
      Producer: 'signflow (PDFKit)',
      CreationDate: data.createdAt,
    },
  });
  // The ICC profile and a font subset seen before are not compressed again (same bytes).
  compressStreamsRemembered(doc);
  // The file and its streams gathered as text, turned into bytes once (documents/pdf-writes.ts). Only the header that
  // pdfkit's constructor wrote comes through the stream.
  const writes = options.gatherWrites === false ? undefined : gatherPdfWrites(doc);
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(writes ? writes.file(chunks) : Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  // pdfkit takes a parsed fontkit font (PDFFontFactory.open checks for `layout`); its type declarations only list bytes.
  doc.registerFont('regular', regular as unknown as Buffer);
  doc.registerFont('bold', bold as unknown as Buffer);
  // Both embedded fonts now (in this order: resource names F1, F2), each with the word cache the thread's documents
  // share; the text starts with the regular one. An embedded font no text uses is not written into the PDF.
  for (const name of ['regular', 'bold']) {
    doc.font(name);
    shareWordCache((doc as unknown as { _font: Parameters<typeof shareWordCache>[0] })._font);
  }
  doc.font('regular');

  const openImage = imagesWrittenInDrawOrder(doc);
  const root = doc.struct('Document');
  doc.addStructure(root);
  const width = doc.page.width - doc.page.margins.left - doc.page.margins.right;
  for (const block of blocks) {
    if (block.tag === 'img') {
      if (doc.y + block.maxHeight > doc.page.height - doc.page.margins.bottom) doc.addPage();
      const y = doc.y;
      root.add(
        doc.struct('Figure', { alt: block.alt }, () => {
          doc.image(openImage(block.image), doc.page.margins.left + 24, y, { fit: [width / 2, block.maxHeight] });
        })
      );
      doc.y = y + block.maxHeight + 6;
      continue;
    }
    const style = STYLE[block.tag];
    const size = block.meta ? 8.5 : style.size;
    if (style.before) doc.moveDown(style.before / size);
    root.add(
      doc.struct(STRUCT_TYPE[block.tag], {}, () => {
        doc
          .font(style.font)
          .fontSize(size)
          .fillColor(block.meta ? '#555555' : '#000000')
          .text(block.text, doc.page.margins.left, doc.y, { width, lineGap: 2, align: 'left' });
      })
    );
    doc.moveDown(style.after / size);
  }
  root.end();
  doc.end();
  return done;
}

/** pdfkit's image as far as used here. */
interface PdfkitImage {
  finalize(): void;
}

/**
 * Opens images for `doc.image` so that they are written into the file in the order they are drawn. pdfkit decodes a
 * PNG with an alpha channel (a drawn signature) asynchronously (zlib on the thread pool) and writes the image when its
 * decoding ends: with two or more such images the order of the objects in the file, and so the document's bytes and
 * hash, depended on which decoding ended first. An image whose turn has not come waits for the one drawn before it.
 */
function imagesWrittenInDrawOrder(doc: PDFKit.PDFDocument): (bytes: Buffer) => Buffer {
  let previous: { written: boolean; then: Promise<void> } = { written: true, then: Promise.resolve() };
  return (bytes) => {
    const image = (doc as unknown as { openImage(src: Buffer): PdfkitImage }).openImage(bytes);
    const before = previous;
    let written!: () => void;
    const mine = { written: false, then: new Promise<void>((resolve) => (written = resolve)) };
    previous = mine;
    const finalize = image.finalize.bind(image);
    image.finalize = () => {
      const write = () => {
        finalize();
        mine.written = true;
        written();
      };
      if (before.written) write();
      else void before.then.then(write);
    };
    // doc.image takes an opened image as well (it has width and height); its types list only the sources.
    return image as unknown as Buffer;
  };
}

export async function renderContractDocument(data: ContractDocumentData): Promise<RenderedContractDocument> {
  const html = renderContractHtml(data);
  const pdf = await renderTextBlocksPdf(textBlocks(html), {
    title: `Honorarvertrag ${data.contractId}`,
    createdAt: data.createdAt,
  });
  return { pdf, html };
}
