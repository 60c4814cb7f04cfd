/**
 * The document fonts, parsed once per thread and remembering what every document would otherwise compute again.
 *
 * pdfkit makes a new embedded font per document, and with it an empty layout cache and a new subset; with the parsed
 * fontkit font kept per thread (render-contract.ts), what was left of a render's time was fontkit shaping the same
 * words (OpenType GSUB/GPOS lookups for "Honorarvertrag", "Vergütung", the dates…) and decoding the same glyph
 * outlines while subsetting, document after document: about 60 % of a contract document's and a Prüfprotokoll's CPU
 * (bench: profile of the PDF thread). Both results depend on the font and the input alone, so they are kept here:
 *
 * - `layout(text)` without features (the only way pdfkit calls it for our text) is remembered per text; every call
 *   gets its own copy of the positions, because pdfkit scales them in place.
 * - A glyph's decoded outline header (`_decode()`, which fontkit's TrueType subsetter reads only to find the
 *   components of a compound glyph) is decoded once per glyph. The subset's bytes are still assembled per document.
 *
 * Relies on fontkit 2.0's `Font.layout`, `Font.getGlyph` and `TTFGlyph._decode` (the version package-lock pins);
 * test/documents/parsed-fonts.test.ts renders with these fonts and with plain ones and asserts identical bytes.
 */
import * as fontkit from 'fontkit';
import { assembleSubsetsFromBytes } from './truetype-subset';

/** A parsed font (fontkit), which pdfkit takes in place of the file's bytes. */
export type ParsedFont = fontkit.Font;

/**
 * Distinct words kept per font: a contract document has ~150 words, most of them the same in every document; names,
 * ids and dates add a few per contract. When full the cache starts again (a few ms once), so its memory stays bounded
 * (~1–2 MB per font) however many contracts a thread renders.
 */
export const LAYOUT_CACHE_WORDS = 5000;

type GlyphRun = ReturnType<ParsedFont['layout']>;
interface DecodingGlyph {
  _decode(): unknown;
}

/**
 * pdfkit's own word cache of an embedded font (`EmbeddedFont.layoutCache`: text → run, positions already scaled to
 * 1000 units per em), which pdfkit starts empty for every document. Runs depend on the font alone (the scale is the
 * font's), and pdfkit only reads them (it already hands one run out for every occurrence of a word in a document), so
 * the documents of a thread share one per parsed font. Bounded like the layouts: checked every
 * WORD_CACHE_CHECK_EVERY documents, it starts again beyond LAYOUT_CACHE_WORDS words.
 */
interface SharedWords {
  runs: Record<string, unknown>;
  documents: number;
}
const sharedWords = new WeakMap<ParsedFont, SharedWords>();
/** How often (in documents) the shared word cache's size is checked. */
export const WORD_CACHE_CHECK_EVERY = 32;

/** pdfkit's embedded font as far as it is used here. */
interface PdfkitEmbeddedFont {
  font: unknown;
  layoutCache?: Record<string, unknown>;
}

/**
 * Lets pdfkit's embedded font (`doc._font` right after `doc.font(name)`) use the word cache its parsed font shares with
 * the thread's other documents. Fonts not from `parseFont` (a test's plain ones) keep pdfkit's per-document cache.
 */
export function shareWordCache(embedded: PdfkitEmbeddedFont): void {
  const shared = sharedWords.get(embedded.font as ParsedFont);
  if (!shared || !embedded.layoutCache) return;
  if (++shared.documents % WORD_CACHE_CHECK_EVERY === 0 && Object.keys(shared.runs).length > LAYOUT_CACHE_WORDS) {
    shared.runs = Object.create(null) as Record<string, unknown>;
  }
  embedded.layoutCache = shared.runs;
}

/** `fontkit.create` of a TrueType file with the memos above. Not for variable fonts (their outlines vary). */
export function parseFont(bytes: Buffer): ParsedFont {
  const font = fontkit.create(bytes) as ParsedFont;
  if (Object.keys(font.variationAxes).length > 0) throw new Error('parseFont: variable fonts are not supported');
  sharedWords.set(font, { runs: Object.create(null) as Record<string, unknown>, documents: 0 });
  assembleSubsetsFromBytes(font);
  const layout = font.layout.bind(font);
  const runs = new Map<string, GlyphRun>();
  font.layout = ((text: string, ...rest: unknown[]): GlyphRun => {
    if (rest.some((arg) => arg !== undefined)) return (layout as (...a: unknown[]) => GlyphRun)(text, ...rest);
    let run = runs.get(text);
    if (!run) {
      run = layout(text);
      if (runs.size >= LAYOUT_CACHE_WORDS) runs.clear();
      runs.set(text, run);
    }
    // A fresh run with fresh positions (pdfkit multiplies them by its scale); the glyphs are fontkit's own shared ones.
    const copy = Object.create(Object.getPrototypeOf(run) as object) as GlyphRun;
    return Object.assign(copy, run, {
      positions: run.positions.map((p: object) =>
        Object.assign(Object.create(Object.getPrototypeOf(p) as object) as object, p)
      ),
    });
  }) as ParsedFont['layout'];

  const getGlyph = font.getGlyph.bind(font);
  const decoded = new WeakSet<object>();
  font.getGlyph = ((id: number, codePoints?: number[]) => {
    const glyph = getGlyph(id, codePoints) as (ReturnType<typeof getGlyph> & Partial<DecodingGlyph>) | null;
    if (glyph && typeof glyph._decode === 'function' && !decoded.has(glyph)) {
      decoded.add(glyph);
      const decode = glyph._decode.bind(glyph);
      let header: unknown;
      let done = false;
      glyph._decode = () => {
        if (!done) {
          header = decode();
          done = true;
        }
        return header;
      };
    }
    return glyph;
  }) as ParsedFont['getGlyph'];
  return font;
}
