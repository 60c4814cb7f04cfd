/**
 * The signature's MD5 hash ("MD5-Hash" of an Unterschrift) over a documented canonical form, so that anyone holding
 * the database can recompute it (`signflow verify`). The canonical form is UTF-8 text, LF line ends, no trailing LF:
 *
 *   signflow-signature-v1
 *   document-sha256:<lowercase hex SHA-256 of the stored document bytes>
 *   signer:<Kontakt id written as the signature's user>
 *   method:<click | drawn | staff>
 *   image-sha256:<lowercase hex SHA-256 of the PNG bytes, or "-" when there is no image>
 *   signed-at:<ISO 8601 UTC with milliseconds, e.g. 2026-11-23T17:30:00.000Z>
 *
 * signflow signs at whole seconds (`hashableSigningTime`: the milliseconds are always `.000`), because a CRM's plain
 * `DATETIME` column keeps no fraction and MySQL rounds what MariaDB truncates: a time the column cannot hold exactly
 * would make the hash unverifiable from what the CRM stores. Signatures written before that rule, with milliseconds,
 * still verify where the column kept them (`DATETIME(3)`, SQLite).
 *
 * MD5 is what the CRM's column asks for; it identifies, it does not protect. The SHA-256 digests inside make the
 * input collision-resistant, and the practice's QES countersignature is what carries legal weight.
 */
import { createHash } from 'node:crypto';

export interface SignatureHashInput {
  documentSha256: string;
  signerContactId: number;
  method: 'click' | 'drawn' | 'staff';
  imageSha256?: string;
  signedAt: Date | string;
}

/**
 * The signing time as it is written and hashed: cut to whole seconds, so every DATETIME column (with or without
 * fractional seconds, truncating or rounding) stores exactly the value that was hashed.
 */
export function hashableSigningTime(at: Date): Date {
  return new Date(Math.floor(at.getTime() / 1000) * 1000);
}

export function canonicalSignatureText(input: SignatureHashInput): string {
  const signedAt = new Date(input.signedAt);
  if (Number.isNaN(signedAt.getTime())) throw new Error(`invalid signedAt: ${String(input.signedAt)}`);
  if (!/^[0-9a-f]{64}$/.test(input.documentSha256)) throw new Error('documentSha256 must be 64 lowercase hex digits');
  return [
    'signflow-signature-v1',
    `document-sha256:${input.documentSha256}`,
    `signer:${input.signerContactId}`,
    `method:${input.method}`,
    `image-sha256:${input.imageSha256 ?? '-'}`,
    `signed-at:${signedAt.toISOString()}`,
  ].join('\n');
}

export function signatureMd5(input: SignatureHashInput): string {
  return createHash('md5').update(canonicalSignatureText(input), 'utf8').digest('hex');
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function md5Hex(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}
