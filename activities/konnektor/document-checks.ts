/**
 * What a Konnektor accepts per document and per SignDocument call (gemSpec_Kon TAB_KON_065, TIP1-A_4500): at most
 * 25 MB per document, 250 MB and (at least) 50 requests per call, and for a QES only XML, PDF/A, text and TIFF
 * (QES_DocFormate). Checked before sending, so one unfit document is reported on its own instead of failing a batch.
 */
import { KonnektorError, KonnektorFailureType } from '../../domain/konnektor-errors';

/** TIP1-A_4500: the Konnektor must not accept more than 25 MB per document. */
export const MAX_DOCUMENT_BYTES = 25 * 1024 * 1024;
/** The Konnektor must take 250 MB per call; signflow stays well below (base64 and envelope add a third on the wire). */
export const DEFAULT_MAX_CALL_BYTES = 200 * 1024 * 1024;
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

/** Why the Konnektor would refuse this document, or undefined when it fits. */
export function documentProblem(input: {
  requestId: string;
  document: Buffer;
  mimeType: string;
}): KonnektorError | undefined {
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (input.document.length > MAX_DOCUMENT_BYTES) {
    return new KonnektorError(
      `document ${input.requestId} has ${mb(input.document.length)}; a Konnektor signs at most 25 MB per document`,
      { failureType: KonnektorFailureType.DOCUMENT_TOO_LARGE, faultClass: 'needs-person', operation: 'SignDocument' }
    );
  }
  if (!isQesFormat(input.mimeType, input.document)) {
    return new KonnektorError(
      `document ${input.requestId} (${input.mimeType || 'no MIME type'}) is not PDF/A, XML, text or TIFF, the formats of a QES`,
      {
        failureType: KonnektorFailureType.DOCUMENT_FORMAT_UNSUPPORTED,
        faultClass: 'needs-person',
        operation: 'SignDocument',
      }
    );
  }
  return undefined;
}
