/**
 * The PDF streams that repeat from document to document, compressed once per thread.
 *
 * pdfkit compresses every stream of every document (zlib at its default level): after the fifth round, zlib was the
 * largest item of the PDF thread's profile (about a fifth of a render). Some streams are the same bytes in document
 * after document: the sRGB ICC profile of the PDF/A output intent (3 KB, in every document), and a font subset with
 * its ToUnicode map whenever a document uses the same glyphs in the same order as an earlier one. zlib gives the same
 * output for the same input, so a stream seen before gets the compressed bytes it got then: the PDF's bytes do not
 * change. A stream is kept on its second sighting (one that never repeats, such as a page's text, costs only its
 * hash), at most KEPT_STREAMS of them, least recently used first out.
 */
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';

/** Streams shorter than this are compressed every time (a hash costs about as much). */
export const MIN_REMEMBERED_BYTES = 1024;
/** Compressed streams kept per thread (a few KB each). */
export const KEPT_STREAMS = 64;
/** Hashes of streams seen once, waiting for a second sighting. */
const SEEN_HASHES = 256;

const kept = new Map<string, Uint8Array>();
const seen = new Set<string>();
let compressions = 0;

/** zlib's compression of `raw` (as pdfkit calls it), from the streams kept when it repeats. */
export function deflateRemembered(raw: Uint8Array): Uint8Array {
  if (raw.length < MIN_REMEMBERED_BYTES) return deflate(raw);
  const same = byObject.get(raw);
  if (same) return same;
  const compressed = deflateRememberedByHash(raw);
  byObject.set(raw, compressed);
  return compressed;
}

/**
 * The compressed bytes of a stream handed over as the very same array again (a font file the subsetter kept,
 * documents/truetype-subset.ts): found without hashing. Such arrays are never written to after they are handed out.
 */
const byObject = new WeakMap<Uint8Array, Uint8Array>();

function deflateRememberedByHash(raw: Uint8Array): Uint8Array {
  const key = createHash('sha256').update(raw).digest('base64');
  const hit = kept.get(key);
  if (hit) {
    kept.delete(key);
    kept.set(key, hit);
    return hit;
  }
  const compressed = deflate(raw);
  if (seen.delete(key)) {
    kept.set(key, compressed);
    if (kept.size > KEPT_STREAMS) kept.delete(kept.keys().next().value!);
  } else {
    seen.add(key);
    if (seen.size > SEEN_HASHES) seen.delete(seen.values().next().value!);
  }
  return compressed;
}

function deflate(raw: Uint8Array): Uint8Array {
  compressions++;
  return zlib.deflateSync(raw);
}

/** Streams compressed by zlib in this thread so far (tests count them). */
export function deflateCount(): number {
  return compressions;
}

/** pdfkit's PDFReference as far as used here. */
interface PdfkitReference {
  compress: boolean;
  buffer: Uint8Array[];
  finalize(): void;
}

/** pdfkit's PDFDocument as far as used here. */
interface PdfkitDocument {
  ref(data?: object): PdfkitReference;
}

/**
 * Makes the streams of `doc` (pdfkit) compress through `deflateRemembered`. pdfkit compresses a stream when it
 * finalizes it, if `compress` is set (the stream is then already marked FlateDecode); here the bytes are compressed
 * just before, and pdfkit writes them as they are.
 */
export function compressStreamsRemembered(doc: object): void {
  const pdf = doc as PdfkitDocument;
  const ref = pdf.ref.bind(pdf);
  pdf.ref = (data?: object) => {
    const reference = ref(data);
    const finalize = reference.finalize.bind(reference);
    reference.finalize = () => {
      if (reference.compress && reference.buffer.length > 0) {
        const raw = reference.buffer.length === 1 ? reference.buffer[0]! : Buffer.concat(reference.buffer);
        reference.buffer = [deflateRemembered(raw)];
        reference.compress = false;
      }
      finalize();
    };
    return reference;
  };
}
