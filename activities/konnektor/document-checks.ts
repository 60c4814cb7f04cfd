/**
 * What a Konnektor accepts per document and per SignDocument call (gemSpec_Kon TAB_KON_065, TIP1-A_4500): at most
 * 25 MB per document, 250 MB and (at least) 50 requests per call, and for a QES only XML, PDF/A, text and TIFF
 * (QES_DocFormate). Checked before sending, so one unfit document is reported on its own instead of failing a batch.
 */
import { KonnektorError, KonnektorFailureType } from '../../domain/konnektor-errors';

/** TIP1-A_4500: the Konnektor must not accept more than 25 MB per document. */
export const MAX_DOCUMENT_BYTES = 25 * 1024 * 1024;
/**
 * Document bytes per SignDocument call signflow sends by default. A Konnektor must take 250 MB per call; signflow stays
 * far below, because a call's documents, its answer (the signed documents, base64) and the signatures are all in the
 * worker's memory at its peak: 32 MiB keeps that near 150 MB whatever the batch (measured by `npm run bench --
 * --konnektor-memory`). Larger calls save little: the Konnektor's fixed cost per call is one certificate check.
 */
export const DEFAULT_MAX_CALL_BYTES = 32 * 1024 * 1024;
export const MAX_CALL_BYTES = 250 * 1024 * 1024;

/** The bytes are of the announced QES format (magic numbers; text without NUL bytes). */
export function isQesFormat(mimeType: string, content: Buffer): boolean {
  const m = mimeType.toLowerCase();
  if (/^application\/pdf(-a)?\b/.test(m)) return content.subarray(0, 1024).includes('%PDF-');
  if (m.startsWith('image/tiff')) {
    const head = content.subarray(0, 4).toString('hex');
    return head === '49492a00' || head === '4d4d002a';
  }
  if (/^(text|application)\/xml\b/.test(m))
    return /^\s*</.test(
      content
        .subarray(0, 1024)
        .toString('utf8')
        .replace(/^\uFEFF/, '')
    );
  if (m.startsWith('text/plain')) return !content.includes(0);
  return false;
}

/** Why the Konnektor would refuse a document of this size, or undefined when it fits (checked before it is loaded). */
export function sizeProblem(requestId: string, size: number): KonnektorError | undefined {
  if (size <= MAX_DOCUMENT_BYTES) return undefined;
  return new KonnektorError(
    `document ${requestId} has ${(size / 1024 / 1024).toFixed(1)} MB; a Konnektor signs at most 25 MB per document`,
    { failureType: KonnektorFailureType.DOCUMENT_TOO_LARGE, faultClass: 'needs-person', operation: 'SignDocument' }
  );
}

/** Why the Konnektor would refuse these bytes as a QES document, or undefined when they are of a QES format. */
export function formatProblem(requestId: string, mimeType: string, content: Buffer): KonnektorError | undefined {
  if (isQesFormat(mimeType, content)) return undefined;
  return new KonnektorError(
    `document ${requestId} (${mimeType || 'no MIME type'}) is not PDF/A, XML, text or TIFF, the formats of a QES`,
    {
      failureType: KonnektorFailureType.DOCUMENT_FORMAT_UNSUPPORTED,
      faultClass: 'needs-person',
      operation: 'SignDocument',
    }
  );
}

/** Why the Konnektor would refuse this document, or undefined when it fits. */
export function documentProblem(input: {
  requestId: string;
  document: Buffer;
  mimeType: string;
}): KonnektorError | undefined {
  return (
    sizeProblem(input.requestId, input.document.length) ??
    formatProblem(input.requestId, input.mimeType, input.document)
  );
}
