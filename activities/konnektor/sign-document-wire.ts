/**
 * SignDocument on the wire, without building the call in memory: the request is written to the socket document by
 * document (each document base64-encoded in small slices, with back-pressure), and the response is kept as bytes and
 * read one `SignResponse` at a time. A call of N MB of documents then needs about N MB for its documents, 1.4 N MB for
 * the answer and N MB for the signatures at its peak, instead of the many string copies node-soap makes of both
 * (a 5 MB document went through memory some eight times). The other, small operations still go through node-soap.
 *
 * The XML is the one node-soap writes from the WSDL (same prefixes, element order of the xsd:sequence), and the tests
 * validate it against the official schema of each interface version.
 */
import https from 'node:https';
import { XMLParser } from 'fast-xml-parser';

export const NS = {
  soap: 'http://schemas.xmlsoap.org/soap/envelope/',
  CONN: 'http://ws.gematik.de/conn/ConnectorCommon/v5.0',
  CCTX: 'http://ws.gematik.de/conn/ConnectorContext/v2.0',
  dss: 'urn:oasis:names:tc:dss:1.0:core:schema',
} as const;

export interface WireSignRequest {
  requestId: string;
  signatureType: string;
  includeEContent?: boolean;
  shortText: string;
  mimeType: string;
  document: Buffer;
}

export interface WireSignDocument {
  /** Schema namespace of the interface version, e.g. `http://ws.gematik.de/conn/SignatureService/v7.5`. */
  namespace: string;
  cardHandle: string;
  /** Only where the exact schema version has `SIG:Crypt` (not in 7.4.x). */
  crypt?: 'RSA' | 'ECC' | 'RSA_ECC';
  context: { mandantId: string; clientSystemId: string; workplaceId: string; userId?: string };
  jobNumber: string;
  includeRevocationInfo: boolean;
  requests: WireSignRequest[];
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const text = (name: string, value: string) => `<${name}>${esc(value)}</${name}>`;

/** The request as pieces: XML strings and the documents between them (encoded while writing). */
export function signDocumentPieces(call: WireSignDocument): (string | Buffer)[] {
  const c = call.context;
  const head =
    `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${NS.soap}"><soap:Body>` +
    `<SIG:SignDocument xmlns:SIG="${call.namespace}" xmlns:CONN="${NS.CONN}" xmlns:CCTX="${NS.CCTX}" xmlns:dss="${NS.dss}">` +
    text('CONN:CardHandle', call.cardHandle) +
    (call.crypt ? text('SIG:Crypt', call.crypt) : '') +
    '<CCTX:Context>' +
    text('CONN:MandantId', c.mandantId) +
    text('CONN:ClientSystemId', c.clientSystemId) +
    text('CONN:WorkplaceId', c.workplaceId) +
    (c.userId ? text('CONN:UserId', c.userId) : '') +
    '</CCTX:Context>' +
    text('SIG:TvMode', 'NONE') +
    text('SIG:JobNumber', call.jobNumber);
  const pieces: (string | Buffer)[] = [head];
  for (const r of call.requests) {
    pieces.push(
      `<SIG:SignRequest RequestID="${esc(r.requestId)}"><SIG:OptionalInputs>` +
        text('dss:SignatureType', r.signatureType) +
        (r.includeEContent === undefined ? '' : text('SIG:IncludeEContent', String(r.includeEContent))) +
        `</SIG:OptionalInputs><SIG:Document ShortText="${esc(r.shortText)}"><dss:Base64Data MimeType="${esc(r.mimeType)}">`,
      r.document,
      '</dss:Base64Data></SIG:Document>' +
        text('SIG:IncludeRevocationInfo', String(call.includeRevocationInfo)) +
        '</SIG:SignRequest>'
    );
  }
  pieces.push('</SIG:SignDocument></soap:Body></soap:Envelope>');
  return pieces;
}

/** Bytes of the request as written: UTF-8 of the XML, base64 of the documents. */
export function contentLength(pieces: (string | Buffer)[]): number {
  return pieces.reduce(
    (n, p) => n + (typeof p === 'string' ? Buffer.byteLength(p, 'utf8') : 4 * Math.ceil(p.length / 3)),
    0
  );
}

/**
 * Base64 is written in slices of this many input bytes: a multiple of 3 (so the slices concatenate), and small enough
 * that each slice's string is a young-generation object V8 frees at once (large strings wait for a full GC and make the
 * heap grow).
 */
const SLICE = 3 * 16 * 1024;

export interface WireResponse {
  status: number;
  contentType: string;
  body: Buffer;
}

export interface PostOptions {
  url: string;
  agent: https.Agent;
  soapAction: string;
  timeoutMs: number;
}

/**
 * POSTs the pieces as a SOAP 1.1 request and returns the answer as bytes. Transport errors reject with the socket's
 * error (classified by the caller); an HTTP error status resolves, so the caller can read the fault.
 */
export function postSignDocument(pieces: (string | Buffer)[], o: PostOptions): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(o.url, {
      method: 'POST',
      agent: o.agent,
      timeout: o.timeoutMs,
      headers: {
        'Content-Type': 'text/xml; charset=utf-8',
        SOAPAction: `"${o.soapAction}"`,
        'Content-Length': String(contentLength(pieces)),
      },
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout of SignDocument'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.on('response', (res) => {
      const declared = Number(res.headers['content-length']);
      // With a Content-Length the answer goes into one buffer as it arrives; chunked answers are joined once at the end.
      const whole = Number.isSafeInteger(declared) && declared > 0 ? Buffer.allocUnsafe(declared) : undefined;
      let filled = 0;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        if (whole && chunks.length === 0 && filled + c.length <= whole.length) {
          c.copy(whole, filled);
          filled += c.length;
        } else chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        const head = whole ? whole.subarray(0, filled) : Buffer.alloc(0);
        const body = chunks.length === 0 ? head : Buffer.concat([head, ...chunks]);
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body });
      });
    });
    void writePieces(req, pieces).catch((err: unknown) => req.destroy(err as Error));
  });
}

async function writePieces(req: NodeJS.WritableStream & { destroyed?: boolean }, pieces: (string | Buffer)[]) {
  const write = (chunk: string) =>
    new Promise<void>((resolve) => {
      if (req.write(chunk)) resolve();
      else req.once('drain', () => resolve());
    });
  for (const p of pieces) {
    if (typeof p === 'string') {
      await write(p);
      continue;
    }
    for (let off = 0; off < p.length; off += SLICE) {
      if (req.destroyed) return;
      await write(p.subarray(off, Math.min(p.length, off + SLICE)).toString('base64'));
    }
  }
  req.end();
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  attributesGroupName: 'attributes',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // Character references (`&#252;`, `&#xD;`) are XML; a vendor writing ASCII only uses them for every umlaut.
  htmlEntities: true,
  isArray: (name) => name === 'Trace',
});

export type ResponseNode = Record<string, unknown>;

/** Where the next element named `local` (any prefix, or none) starts at or after `from`, and its qualified name. */
function nextElement(body: Buffer, local: string, from: number): { start: number; qname: string } | undefined {
  let at = from;
  for (;;) {
    const hit = body.indexOf(local, at, 'latin1');
    if (hit < 0) return undefined;
    at = hit + local.length;
    const after = body[at];
    // The name must end here (space, `>`, `/`) …
    if (after !== 0x20 && after !== 0x3e && after !== 0x2f && after !== 0x09 && after !== 0x0a && after !== 0x0d)
      continue;
    // … and start right after `<` or after `<prefix:`.
    let s = hit - 1;
    if (body[s] === 0x3a) {
      while (s > 0 && /[A-Za-z0-9_.-]/.test(String.fromCharCode(body[s - 1]!))) s--;
      s--;
    }
    if (s >= 0 && body[s] === 0x3c)
      return { start: s, qname: body.subarray(s + 1, hit + local.length).toString('latin1') };
  }
}

/** Where the start tag that begins at `start` ends (its `>`): a `>` inside a quoted attribute value does not count. */
function startTagEnd(body: Buffer, start: number): number {
  let quote = 0;
  for (let i = start + 1; i < body.length; i++) {
    const c = body[i]!;
    if (quote) {
      if (c === quote) quote = 0;
    } else if (c === 0x22 || c === 0x27) quote = c;
    else if (c === 0x3e) return i;
  }
  return -1;
}

/** Where the end tag `</qname>` (white space allowed before its `>`) starts at or after `from`, and where it ends. */
function endTag(body: Buffer, qname: string, from: number): { start: number; end: number } | undefined {
  const open = `</${qname}`;
  for (let at = from; ;) {
    const hit = body.indexOf(open, at, 'latin1');
    if (hit < 0) return undefined;
    let i = hit + open.length;
    while (body[i] === 0x20 || body[i] === 0x09 || body[i] === 0x0a || body[i] === 0x0d) i++;
    if (body[i] === 0x3e) return { start: hit, end: i + 1 };
    at = hit + open.length;
  }
}

/** The element's text as bytes: between the end of its start tag and its end tag. */
function textRange(body: Buffer, open: { start: number; qname: string }): { from: number; to: number } | undefined {
  const startEnd = startTagEnd(body, open.start);
  if (startEnd < 0 || body[startEnd - 1] === 0x2f) return undefined;
  const close = endTag(body, open.qname, startEnd);
  return close ? { from: startEnd + 1, to: close.start } : undefined;
}

const CHAR_REF = /&(?:#(\d+)|#x([0-9a-fA-F]+)|(amp|lt|gt|quot|apos));/g;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * Decodes the base64 text of an element as it stands in the XML: usually plain base64 (decoded from the bytes at once),
 * but a vendor may wrap it in CDATA sections or write line breaks and other characters as references (`&#13;&#10;`).
 * Only then is the text turned into a string first.
 */
export function decodeBase64Text(raw: Buffer): Buffer {
  if (!raw.includes(0x26) && !raw.includes(0x3c)) return Buffer.from(raw.toString('latin1'), 'base64');
  const text = raw
    .toString('latin1')
    .replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, (_, inner: string) => inner.replace(/&/g, '&amp;'))
    .replace(CHAR_REF, (_, dec?: string, hex?: string, name?: string) =>
      name ? NAMED[name]! : String.fromCodePoint(dec ? Number(dec) : Number.parseInt(hex!, 16))
    );
  return Buffer.from(text, 'base64');
}

/** Element names whose text is a document or a signature (base64): decoded from the bytes, never parsed as XML. */
const BINARY = ['Base64Data', 'Base64Signature'];

export interface ParsedSignResponse {
  /** The SignResponse without its base64 texts (Status, attributes, …), as fast-xml-parser gives it. */
  node: ResponseNode;
  /** Decoded base64 of each binary element, by the element path below SignResponse (e.g. `SignatureObject/Base64Signature`). */
  binary: Map<string, Buffer>;
}

/**
 * The `SignResponse` elements of a SignDocumentResponse, one at a time. The base64 of each signed document is cut out
 * of the bytes and decoded on its own, and only the small rest goes through the XML parser, so a call's answer is in
 * memory once (as bytes) plus one document at a time. Prefixes and namespace declarations of the vendor's
 * serialisation do not matter.
 */
export function* signResponses(body: Buffer): Generator<ParsedSignResponse> {
  let from = 0;
  for (;;) {
    const open = nextElement(body, 'SignResponse', from);
    if (!open) return;
    const close = endTag(body, open.qname, open.start);
    if (!close) return;
    const end = close.start;
    from = close.end;
    const binary = new Map<string, Buffer>();
    const kept: Buffer[] = [];
    let at = open.start;
    for (;;) {
      const next = BINARY.map((name) => nextElement(body, name, at))
        .filter((e): e is { start: number; qname: string } => !!e && e.start < end)
        .sort((a, b) => a.start - b.start)[0];
      const range = next && textRange(body, next);
      if (!next || !range) break;
      const local = next.qname.replace(/^.*:/, '');
      const parent = BINARY_PARENT[local]!;
      binary.set(`${parent}/${local}`, decodeBase64Text(body.subarray(range.from, range.to)));
      kept.push(body.subarray(at, range.from));
      at = range.to;
    }
    kept.push(body.subarray(at, from));
    const doc = parser.parse(Buffer.concat(kept).toString('utf8')) as ResponseNode;
    const node = doc.SignResponse;
    if (node && typeof node === 'object') yield { node: node as ResponseNode, binary };
  }
}

/** Where each binary element sits: `DocumentWithSignature/Base64Data`, `SignatureObject/Base64Signature`. */
const BINARY_PARENT: Record<string, string> = {
  Base64Data: 'DocumentWithSignature',
  Base64Signature: 'SignatureObject',
};
