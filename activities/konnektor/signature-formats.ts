/**
 * Which QES variant the Konnektor is asked for, per document (gemSpec_Kon TAB_KON_583 / TAB_KON_778):
 * PDF/A → PAdES (the signature goes into the PDF); everything else → CAdES detached (a separate CMS file).
 * XAdES is allowed for QES only under a Konnektor signature policy, so signflow never asks for it.
 */

export const SIGNATURE_TYPE_CADES = 'urn:ietf:rfc:5652';
export const SIGNATURE_TYPE_PADES = 'http://uri.etsi.org/02778/3';

export type SignatureVariant = 'PAdES' | 'CAdES';

export interface SignatureRequestFormat {
  variant: SignatureVariant;
  signatureType: string;
  /** MIME type announced in `dss:Base64Data/@MimeType`. */
  mimeType: string;
  /** CAdES only: false = detached. */
  includeEContent?: boolean;
}

/** MIME type of a PDF/A at the Konnektor interface (used by public clients; to verify on a real Konnektor). */
export const PDFA_MIME = 'application/pdf-a';

export function isPdf(mimeType: string): boolean {
  return /^application\/pdf(-a)?\b/i.test(mimeType);
}

export function formatFor(mimeType: string): SignatureRequestFormat {
  if (isPdf(mimeType)) return { variant: 'PAdES', signatureType: SIGNATURE_TYPE_PADES, mimeType: PDFA_MIME };
  return { variant: 'CAdES', signatureType: SIGNATURE_TYPE_CADES, mimeType, includeEContent: false };
}

/** MIME type of what the Konnektor returns, as stored in the CRM's `dokumente`. */
export function resultMimeType(variant: SignatureVariant): string {
  return variant === 'PAdES' ? 'application/pdf' : 'application/pkcs7-signature';
}

const SHORT_TEXT_MAX = 30;

/**
 * `ShortText` is mandatory for QES and shown on the card terminal's small display. The schema's ShortText element
 * allows ≤30 characters of `[a-zA-Z 0-9_.\-äöüÄÖÜß]`; some Konnektoren check the attribute against it, so every
 * other character becomes a space.
 */
export function shortTextFor(title: string): string {
  const cleaned = title
    .replace(/[^a-zA-Z 0-9_.\-äöüÄÖÜß]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const cut = cleaned.slice(0, SHORT_TEXT_MAX).trim();
  return cut.length > 0 ? cut : 'Vertrag';
}
