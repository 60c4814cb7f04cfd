/**
 * The documents' font subsets assembled from bytes (documents/truetype-subset.ts) are byte for byte what fontkit's own
 * encoder writes: for random glyph sets of both DejaVu fonts, with compound glyphs (whose components join the subset
 * while it is written), the empty subset (glyph 0 only) and a subset encoded twice; the font file of a glyph list seen
 * lately is handed out again as the same array.
 */
import * as fontkit from 'fontkit';
import { fontFileBytes } from '../../documents/render-contract';
import { assembleSubsetsFromBytes, ENCODED_KEPT } from '../../documents/truetype-subset';

/** fontkit's subset and font as far as used here (its type declarations leave out `glyphs` and `_decode`). */
interface Subset {
  includeGlyph(id: number): number;
  encode(): Uint8Array;
  glyphs: number[];
}
interface Font {
  createSubset(): Subset;
  numGlyphs: number;
  getGlyph(id: number): { _decode(): { numberOfContours: number } | null };
}

const files = fontFileBytes();

/** A deterministic pseudo-random sequence (the same glyph sets on every run). */
function random(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

describe.each([
  ['DejaVu Sans', files.regular],
  ['DejaVu Sans Bold', files.bold],
])('%s', (_name, bytes) => {
  const plain = fontkit.create(bytes) as unknown as Font;
  const assembledFont = fontkit.create(bytes) as fontkit.Font;
  assembleSubsetsFromBytes(assembledFont);
  const assembled = assembledFont as unknown as Font;
  const compound: number[] = [];
  for (let id = 0; id < plain.numGlyphs && compound.length < 40; id++) {
    if ((plain.getGlyph(id)._decode()?.numberOfContours ?? 0) < 0) compound.push(id);
  }

  function both(ids: number[]): [Buffer, Buffer, Subset] {
    const a = plain.createSubset();
    const b = assembled.createSubset();
    for (const id of ids) {
      a.includeGlyph(id);
      b.includeGlyph(id);
    }
    return [Buffer.from(a.encode()), Buffer.from(b.encode()), b];
  }

  test('has compound glyphs to test with', () => {
    expect(compound.length).toBeGreaterThan(10);
  });

  test('random glyph sets, simple and compound: fontkit’s bytes', () => {
    const next = random(bytes.length);
    for (let k = 0; k < 60; k++) {
      const ids = Array.from({ length: Math.floor(next() * 150) }, () => Math.floor(next() * plain.numGlyphs));
      if (k % 2) ids.push(...compound.slice(k % 20, (k % 20) + 10));
      const [want, got] = both(ids);
      expect(got.equals(want)).toBe(true);
    }
  });

  test('only glyph 0, and a subset encoded twice (pdfkit encodes once, fontkit allows more)', () => {
    const [want, got] = both([]);
    expect(got.equals(want)).toBe(true);
    const [want2, got2, subset] = both([...compound.slice(0, 5), 36, 37, 38]);
    expect(got2.equals(want2)).toBe(true);
    const glyphsAfterFirst = subset.glyphs.length;
    expect(Buffer.from(subset.encode()).equals(want2)).toBe(true);
    expect(subset.glyphs.length).toBe(glyphsAfterFirst);
  });

  test('the same glyphs in the same order: the same array again, until ENCODED_KEPT other lists came after it', () => {
    const ids = [36, 37, 38, ...compound.slice(0, 3)];
    const [want] = both(ids);
    const encodeNew = (list: number[]) => {
      const subset = assembled.createSubset();
      for (const id of list) subset.includeGlyph(id);
      return subset.encode();
    };
    const first = encodeNew(ids);
    expect(encodeNew(ids)).toBe(first);
    expect(Buffer.from(first).equals(want)).toBe(true);
    // Another order is another font file.
    expect(encodeNew([...ids].reverse())).not.toBe(first);
    // Pushed out by other lists: encoded anew, to the same bytes.
    for (let k = 0; k < ENCODED_KEPT; k++) encodeNew([40 + k, 41 + k]);
    const late = encodeNew(ids);
    expect(late).not.toBe(first);
    expect(Buffer.from(late).equals(want)).toBe(true);
  });
});
