/**
 * pdfkit's writes, gathered as text and turned into bytes once.
 *
 * pdfkit turns every piece of PDF syntax into bytes as it is written, one JavaScript loop per character
 * (`fromBinaryString`): each line of a page's content stream (`BT`, `/F1 10.5 Tf`, `[<…>] TJ`, …) becomes a small
 * array of its own, and every line of the file itself (`12 0 obj`, the dictionary, `stream`, `endobj`, the xref
 * table) becomes one and is pushed through the document's Readable stream. A contract document makes a few thousand
 * of them. Here the text is kept as strings and converted in one native call per run of text (`latin1`, the same
 * byte per character as pdfkit's `charCodeAt(i) & 0xff`), and the file's bytes are gathered without the stream. The
 * bytes of the PDF do not change (test/documents/pdf-writes.test.ts compares them with pdfkit's own).
 */

/** pdfkit's PDFReference as far as used here. */
interface PdfkitReference {
  data: { Length?: number; Filter?: string };
  compress: boolean;
  uncompressedLength: number;
  buffer: Uint8Array[];
  write(chunk: string | Uint8Array): void;
  finalize(): void;
}

/** pdfkit's PDFDocument as far as used here. */
interface PdfkitDocument {
  ref(data?: object): PdfkitReference;
  _write(data: string | Uint8Array): void;
  _offset: number;
  page: { content: PdfkitReference };
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
}

/** Text and bytes in the order written; runs of text become one Buffer each. */
class Parts {
  private chunks: Uint8Array[] = [];
  private text: string[] = [];

  add(part: string | Uint8Array): void {
    if (typeof part === 'string') {
      this.text.push(part);
      return;
    }
    this.flushText();
    this.chunks.push(part);
  }

  get empty(): boolean {
    return this.chunks.length === 0 && this.text.length === 0;
  }

  /** Everything added so far as one array (a sole array added as it is, not copied); empties the list. */
  take(): Uint8Array {
    this.flushText();
    const whole = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [];
    return whole;
  }

  private flushText(): void {
    if (this.text.length === 0) return;
    this.chunks.push(Buffer.from(this.text.join(''), 'latin1'));
    this.text = [];
  }
}

/**
 * Makes `doc`'s streams (page contents and the rest) and the file itself gather their writes as text. Call it right
 * after creating the document, before anything else is written, and after `compressStreamsRemembered` (so a
 * stream's bytes are whole when that compresses them). Returns the finished file, for the document's `end` event: the
 * header pdfkit wrote in its constructor (through the stream, given as `headerChunks`) and everything after.
 */
export function gatherPdfWrites(doc: object): { file(headerChunks: readonly Uint8Array[]): Buffer } {
  const pdf = doc as PdfkitDocument;

  const ref = pdf.ref.bind(pdf);
  pdf.ref = (data?: object) => gatherStream(ref(data));
  // The first page and its content stream come from pdfkit's constructor, before this.
  gatherStream(pdf.page.content);

  const file = new Parts();
  pdf._write = (data) => {
    const part = typeof data === 'string' ? `${data}\n` : data;
    file.add(part);
    pdf._offset += part.length;
  };

  return {
    file: (headerChunks) => Buffer.concat([...headerChunks, file.take()]),
  };
}

/** Makes `reference` gather what is written into its stream, converted when it is finalized. */
function gatherStream(reference: PdfkitReference): PdfkitReference {
  const parts = new Parts();
  // What pdfkit wrote before (the first page's coordinate flip, written by its constructor) comes first.
  for (const chunk of reference.buffer) parts.add(chunk);
  reference.buffer = [];
  // pdfkit's `write` with the conversion left for `finalize`: the same Length, Filter and uncompressedLength.
  reference.write = (chunk) => {
    const part = typeof chunk === 'string' ? `${chunk}\n` : chunk;
    parts.add(part);
    reference.uncompressedLength += part.length;
    reference.data.Length = (reference.data.Length ?? 0) + part.length;
    if (reference.compress) reference.data.Filter = 'FlateDecode';
  };
  const finalize = reference.finalize.bind(reference);
  reference.finalize = () => {
    if (!parts.empty) reference.buffer = [parts.take()];
    finalize();
  };
  return reference;
}
