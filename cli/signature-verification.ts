/**
 * `signflow verify`: recompute an Unterschrift's MD5 from what the database holds now (the document's bytes, the
 * signer, the method, the image's bytes, the time) with the documented canonical form of domain/signature-hash.ts, and
 * compare it with the stored `md5_hash`. Any later change to the document, the image or those columns shows as a
 * mismatch.
 */
import type { Knex } from 'knex';
import type { CrmMapping } from '../db/crm-mapping';
import { readDocument, readSignature } from '../db/crm-repository';
import { canonicalSignatureText, sha256Hex, signatureMd5, type SignatureHashInput } from '../domain/signature-hash';
import { CliError, ExitCode } from './exit-codes';

export interface SignatureVerification {
  signatureId: number;
  match: boolean;
  storedMd5: string;
  computedMd5: string;
  /** The inputs as read from the database, so a mismatch can be traced to a column. */
  inputs: SignatureHashInput & { documentId: number; imageDocumentId: number | null };
  /** The canonical text that was hashed (no personal data: ids, digests, method, time). */
  canonicalText: string;
  /** The document's stored SHA-256 column against its bytes: false = the bytes changed after storing. */
  documentDigestMatches: boolean | null;
}

/**
 * The method is not a column of its own; it follows from the row as the activity wrote it: an image means `drawn`;
 * an authenticated click by the contact themself means `click`; by anyone else it was staff confirming.
 */
function methodOf(sig: {
  imageDocumentId: number | null;
  byAuthenticatedClick: boolean | null;
  userId: number | null;
  contactId: number;
}) {
  if (sig.imageDocumentId !== null || sig.byAuthenticatedClick === false) return 'drawn' as const;
  return sig.userId === sig.contactId ? ('click' as const) : ('staff' as const);
}

export async function verifySignature(db: Knex, crm: CrmMapping, signatureId: number): Promise<SignatureVerification> {
  const sig = await readSignature(db, crm, signatureId);
  if (!sig) {
    throw new CliError(
      ExitCode.NOT_FOUND,
      'SIGNATURE_NOT_FOUND',
      `signature ${signatureId} does not exist in ${crm.signatures.table}`
    );
  }
  if (sig.md5Hash === null || sig.signedAt === null || sig.userId === null) {
    throw new CliError(
      ExitCode.REJECTED,
      'SIGNATURE_NOT_SIGNED',
      `signature ${signatureId} is "${sig.status}" and has no hash to verify (nobody has signed it)`,
      { signatureId, status: sig.status }
    );
  }
  const document = await readDocument(db, crm, sig.documentId);
  if (!document?.content) {
    throw new CliError(
      ExitCode.NOT_FOUND,
      'DOCUMENT_NOT_FOUND',
      `document ${sig.documentId} of signature ${signatureId} is missing or empty`,
      {
        signatureId,
        documentId: sig.documentId,
      }
    );
  }
  let imageSha256: string | undefined;
  if (sig.imageDocumentId !== null) {
    const image = await readDocument(db, crm, sig.imageDocumentId);
    if (!image?.content) {
      throw new CliError(
        ExitCode.NOT_FOUND,
        'DOCUMENT_NOT_FOUND',
        `signature image ${sig.imageDocumentId} of signature ${signatureId} is missing`,
        {
          signatureId,
          imageDocumentId: sig.imageDocumentId,
        }
      );
    }
    imageSha256 = sha256Hex(image.content);
  }
  const documentSha256 = sha256Hex(document.content);
  const input: SignatureHashInput = {
    documentSha256,
    signerContactId: sig.userId,
    method: methodOf(sig),
    imageSha256,
    signedAt: sig.signedAt,
  };
  const computedMd5 = signatureMd5(input);
  return {
    signatureId,
    match: computedMd5 === sig.md5Hash.toLowerCase(),
    storedMd5: sig.md5Hash,
    computedMd5,
    inputs: {
      ...input,
      signedAt: sig.signedAt.toISOString(),
      documentId: sig.documentId,
      imageDocumentId: sig.imageDocumentId,
    },
    canonicalText: canonicalSignatureText(input),
    documentDigestMatches: document.sha256 === null ? null : document.sha256 === documentSha256,
  };
}
