/**
 * Streams that repeat between documents (the ICC profile, a font subset with the same glyphs) are compressed once per
 * thread (documents/remembered-deflate.ts), with zlib's own bytes.
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import {
  deflateCount,
  deflateRemembered,
  KEPT_STREAMS,
  MIN_REMEMBERED_BYTES,
} from '../../documents/remembered-deflate';
import { renderContractHtml, renderTextBlocksPdfHere, textBlocks } from '../../documents/render-contract';

const stream = (n: number, size = 4000): Buffer =>
  Buffer.from(
    Array.from({ length: size }, (_, i) => `${n}:${i % 97} `)
      .join('')
      .slice(0, size)
  );

test('the same bytes as zlib, on the first, second and later sightings, and after being pushed out', () => {
  const a = stream(1);
  for (let i = 0; i < 4; i++) expect(Buffer.from(deflateRemembered(a)).equals(zlib.deflateSync(a))).toBe(true);
  const small = stream(2, MIN_REMEMBERED_BYTES - 1);
  expect(Buffer.from(deflateRemembered(small)).equals(zlib.deflateSync(small))).toBe(true);
  // More repeating streams than are kept: each still compresses to zlib's bytes.
  for (let round = 0; round < 3; round++) {
    for (let n = 10; n < 10 + KEPT_STREAMS + 5; n++) {
      const s = stream(n);
      expect(Buffer.from(deflateRemembered(s)).equals(zlib.deflateSync(s))).toBe(true);
    }
  }
});

test('equal bytes are compressed twice (first and second sighting), then never again; a small stream every time', () => {
  const big = stream(1000);
  const small = stream(1001, MIN_REMEMBERED_BYTES - 1);
  const before = deflateCount();
  for (let i = 0; i < 5; i++) {
    // A copy each time: found by its hash.
    deflateRemembered(Buffer.from(big));
    deflateRemembered(small);
  }
  expect(deflateCount() - before).toBe(2 + 5);
});

test("the very same array handed over again is compressed once, and answers zlib's bytes every time", () => {
  const kept = stream(1002);
  const before = deflateCount();
  for (let i = 0; i < 4; i++) expect(Buffer.from(deflateRemembered(kept)).equals(zlib.deflateSync(kept))).toBe(true);
  expect(deflateCount() - before).toBe(1);
});

test('a document rendered again compresses only what changed: its page and the small streams', async () => {
  const data = {
    contractId: 5,
    practiceName: 'Praxis Müller',
    title: 'Honorarvertrag Logopädie',
    freelancerName: 'Anna Müller',
    start: '2027-01-01',
    end: null,
    feeCents: 100_000,
    description: null,
    createdAt: new Date('2026-11-30T09:00:00Z'),
  };
  const render = () =>
    renderTextBlocksPdfHere(textBlocks(renderContractHtml(data)), { title: 'H 5', createdAt: data.createdAt });
  const first = deflateCount();
  const a = await render();
  const second = deflateCount();
  const b = await render();
  const third = deflateCount();
  const c = await render();
  const fourth = deflateCount();
  expect(crypto.createHash('sha256').update(a).digest('hex')).toBe(crypto.createHash('sha256').update(c).digest('hex'));
  expect(b.equals(a)).toBe(true);
  // First sightings: the ICC profile, both font files and the small streams are compressed (the page's text is
  // compressed by pdfkit itself and not counted here).
  expect(second - first).toBeGreaterThanOrEqual(4);
  // Later: the font files come as the same arrays from the subsetter (documents/truetype-subset.ts) and the ICC profile
  // is kept; left are the ToUnicode maps, shorter than MIN_REMEMBERED_BYTES.
  expect(third - second).toBeLessThan(second - first);
  expect(fourth - third).toBe(third - second);
  expect(fourth - third).toBeLessThanOrEqual(3);
});
