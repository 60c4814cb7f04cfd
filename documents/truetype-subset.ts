/**
 * The embedded font subset of every document, assembled from bytes instead of encoded field by field.
 *
 * fontkit's TrueType subset (`TTFSubset.encode`) collects the used glyphs' outlines and then encodes the whole font
 * file through restructure, value by value: the directory, `head`, `hhea`, `maxp`, the hinting tables `cvt `, `prep`
 * and `fpgm` (a few KB of numbers for DejaVu Sans, the same for every document), `loca`, `glyf` and `hmtx`. That was
 * about a fifth of a PDF's CPU (profile of the PDF thread, fourth and fifth round in docs/benchmarks.md). What varies
 * between subsets is only the glyphs: `glyf`, `loca`, `hmtx`, and the glyph count in `hhea` (numberOfMetrics) and
 * `maxp` (numGlyphs). So the font's other tables are taken once, as fontkit encodes them, from a subset of glyph 0, and
 * each document's subset is written around its glyphs in fontkit's layout: a directory with the tables in fontkit's
 * order (checksums 0, as fontkit writes them), the tables back to back without padding.
 *
 * A glyph list seen lately (the same glyphs in the same order: documents with the same names, dates and amounts'
 * characters) gets the same font file again, as the very same array, which documents/remembered-deflate.ts then finds
 * compressed without hashing it.
 *
 * The bytes are fontkit's own (test/documents/truetype-subset.test.ts compares them for many glyph sets, simple and
 * compound glyphs, both DejaVu fonts). Relies on fontkit 2.0's TTFSubset (`glyphs`, `_addGlyph`, the `glyf`, `loca`,
 * `hmtx` fields it fills), the version package-lock pins; any other table layout falls back to fontkit's encoder.
 */
import type * as fontkit from 'fontkit';

/** fontkit's TrueType subset as far as it is used here. */
interface TrueTypeSubset {
  font: fontkit.Font & { loca?: { version: number } };
  glyphs: number[];
  glyf: Uint8Array[];
  offset: number;
  loca: { offsets: number[]; version: number };
  hmtx: { metrics: { advance: number; bearing: number }[]; bearings: number[] };
  _addGlyph(gid: number): number;
  encode(): Uint8Array;
}

/** The tables fontkit writes for a TrueType subset, in its order. */
const TABLE_ORDER = ['head', 'hhea', 'loca', 'maxp', 'cvt ', 'prep', 'glyf', 'hmtx', 'fpgm'] as const;
type Tag = (typeof TABLE_ORDER)[number];
const PER_SUBSET = new Set<Tag>(['loca', 'glyf', 'hmtx']);

/** The font's tables that do not depend on the glyphs, as fontkit encodes them (`hhea` and `maxp` get the count). */
type FixedTables = Map<Tag, Uint8Array>;

function isTrueTypeSubset(subset: object): subset is TrueTypeSubset {
  const s = subset as Partial<TrueTypeSubset>;
  return (
    typeof s._addGlyph === 'function' &&
    Array.isArray(s.glyphs) &&
    typeof s.font?.loca?.version === 'number' &&
    !(s.font as { _variationProcessor?: unknown })._variationProcessor
  );
}

/** The tables of a font file fontkit encoded, by tag (offsets and lengths from its directory). */
function tablesOf(file: Uint8Array): Map<string, Uint8Array> {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const tables = new Map<string, Uint8Array>();
  const count = view.getUint16(4);
  for (let i = 0; i < count; i++) {
    const entry = 12 + 16 * i;
    const tag = String.fromCharCode(...file.subarray(entry, entry + 4));
    const offset = view.getUint32(entry + 8);
    tables.set(tag, file.subarray(offset, offset + view.getUint32(entry + 12)));
  }
  return tables;
}

/**
 * The glyph-independent tables of `font`, from fontkit's encoding of the subset of glyph 0; undefined when that subset
 * is not laid out as expected (then fontkit's encoder stays in use).
 */
function fixedTablesOf(reference: TrueTypeSubset): FixedTables | undefined {
  const tables = tablesOf(reference.encode());
  const tags = [...tables.keys()];
  const expected = TABLE_ORDER.filter((tag) => tables.has(tag));
  if (tags.length !== expected.length || tags.some((tag, i) => tag !== expected[i])) return undefined;
  if (!tables.has('hhea') || !tables.has('maxp') || !tables.has('glyf')) return undefined;
  const fixed: FixedTables = new Map();
  for (const [tag, bytes] of tables) if (!PER_SUBSET.has(tag as Tag)) fixed.set(tag as Tag, bytes.slice());
  return fixed;
}

/** The subset's font file, byte for byte what fontkit's `encode()` returns. */
function encodeSubset(subset: TrueTypeSubset, fixed: FixedTables): Uint8Array {
  // Collect the glyphs as fontkit does (compound glyphs add their components to `glyphs` while this runs).
  subset.glyf = [];
  subset.offset = 0;
  subset.loca = { offsets: [], version: subset.font.loca!.version };
  subset.hmtx = { metrics: [], bearings: [] };
  for (let i = 0; i < subset.glyphs.length; i++) subset._addGlyph(subset.glyphs[i]!);
  subset.loca.offsets.push(subset.offset);
  const count = subset.glyf.length;
  const shortLoca = subset.loca.version === 0;

  const lengths = new Map<Tag, number>();
  for (const tag of TABLE_ORDER) {
    const bytes = fixed.get(tag);
    if (bytes) lengths.set(tag, bytes.length);
  }
  lengths.set('loca', (count + 1) * (shortLoca ? 2 : 4));
  lengths.set('glyf', subset.offset);
  lengths.set('hmtx', count * 4);
  const tags = TABLE_ORDER.filter((tag) => lengths.has(tag));

  const numTables = tags.length;
  const maxPowerOf2 = 2 ** Math.floor(Math.log2(numTables));
  let total = 12 + 16 * numTables;
  for (const tag of tags) total += lengths.get(tag)!;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set([0x74, 0x72, 0x75, 0x65]); // 'true', as fontkit writes it
  view.setUint16(4, numTables);
  view.setUint16(6, maxPowerOf2 * 16);
  view.setUint16(8, Math.log2(maxPowerOf2));
  view.setUint16(10, numTables * 16 - maxPowerOf2 * 16);

  let offset = 12 + 16 * numTables;
  tags.forEach((tag, i) => {
    const entry = 12 + 16 * i;
    const length = lengths.get(tag)!;
    for (let c = 0; c < 4; c++) out[entry + c] = tag.charCodeAt(c);
    view.setUint32(entry + 4, 0); // fontkit leaves every checksum 0
    view.setUint32(entry + 8, offset);
    view.setUint32(entry + 12, length);
    switch (tag) {
      case 'loca':
        subset.loca.offsets.forEach((o, g) =>
          shortLoca ? view.setUint16(offset + 2 * g, o >>> 1) : view.setUint32(offset + 4 * g, o)
        );
        break;
      case 'glyf': {
        let at = offset;
        for (const glyph of subset.glyf) {
          out.set(glyph, at);
          at += glyph.length;
        }
        break;
      }
      case 'hmtx':
        subset.hmtx.metrics.forEach((m, g) => {
          view.setUint16(offset + 4 * g, m.advance);
          view.setInt16(offset + 4 * g + 2, m.bearing);
        });
        break;
      default: {
        out.set(fixed.get(tag)!, offset);
        // The glyph count: hhea.numberOfMetrics is its last field (offset 34), maxp.numGlyphs follows the version.
        if (tag === 'hhea') view.setUint16(offset + 34, count);
        if (tag === 'maxp') view.setUint16(offset + 4, count);
      }
    }
    offset += length;
  });
  return out;
}

/**
 * Makes `font.createSubset()` hand out subsets that assemble their bytes as above (TrueType fonts; any other subset is
 * fontkit's own). The fixed tables are taken on the first subset.
 */
export function assembleSubsetsFromBytes(font: fontkit.Font): void {
  const createSubset = font.createSubset.bind(font);
  let fixed: FixedTables | null | undefined;
  font.createSubset = () => {
    const subset = createSubset();
    if (!isTrueTypeSubset(subset)) return subset;
    if (fixed === undefined) {
      const reference = createSubset();
      fixed = (isTrueTypeSubset(reference) && fixedTablesOf(reference)) || null;
    }
    const tables = fixed;
    if (tables) subset.encode = () => encodedBefore(subset, tables);
    return subset;
  };
  // The font files of the latest glyph lists: the same glyphs in the same order give the same bytes.
  const encoded = new Map<string, Uint8Array>();
  function encodedBefore(subset: TrueTypeSubset, tables: FixedTables): Uint8Array {
    const key = subset.glyphs.join(',');
    let bytes = encoded.get(key);
    if (bytes) {
      encoded.delete(key);
    } else {
      bytes = encodeSubset(subset, tables);
      if (encoded.size >= ENCODED_KEPT) encoded.delete(encoded.keys().next().value!);
    }
    encoded.set(key, bytes);
    return bytes;
  }
}

/** Font files kept per font (a few KB to tens of KB each), least recently used first out. */
export const ENCODED_KEPT = 16;
