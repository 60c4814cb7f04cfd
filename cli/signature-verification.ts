/**
 * `signflow verify`: recompute an Unterschrift's MD5 from what the database holds now (the document's bytes, the
 * signer, the method, the image's bytes, the time) with the documented canonical form of domain/signature-hash.ts, and
 * compare it with the stored `md5_hash`. Any later change to the document, the image or those columns shows as a
 * mismatch.
 */
import type { Knex } from 'knex';
import type { CrmMapping } from '../db/crm-mapping';
import { readContract, readDocument, readSignature } from '../db/crm-repository';
import { canonicalSignatureText, sha256Hex, signatureMd5, type SignatureHashInput } from '../domain/signature-hash';
import { CliError, ExitCode } from './exit-codes';

export interface SignatureVerification {
  /** The contract the signature is linked to (null for a signature row linked to no contract). */
  contractId: number | null;
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
  /**
   * Set when the stored time has no milliseconds but the hash was made with them (signatures written before signflow
   * signed at whole seconds, into a CRM column without fractional seconds): the time that matched within the stored
   * second. Everything else in the hash matched exactly.
   */
  signedAtRecovered?: string;
}

/**
 * Signatures written before signing times were cut to whole seconds carry milliseconds in their hash; a plain DATETIME
 * column dropped them (MariaDB truncates, MySQL rounds). Candidates: every millisecond of the stored second and, for a
 * rounding server, of the half second before it.
 */
function lostMillisecondCandidates(stored: Date): Date[] {
  const t = stored.getTime();
  if (t % 1000 !== 0) return [];
  const out: Date[] = [];
  for (let ms = 1; ms < 1000; ms++) out.push(new Date(t + ms));
  for (let ms = 500; ms < 1000; ms++) out.push(new Date(t - 1000 + ms));
  return out;
}

/**
 * The signature a contract's verification is about: its `gültig` one (there is at most one), otherwise the newest one
 * that carries a hash. Withdrawn or expired requests have none.
 */
export async function signatureIdOfContract(db: Knex, crm: CrmMapping, contractId: number): Promise<number> {
  if (!(await readContract(db, crm, contractId))) {
    throw new CliError(
      ExitCode.NOT_FOUND,
      'CONTRACT_NOT_FOUND',
      `contract ${contractId} does not exist in ${crm.contracts.table}`,
      { contractId }
    );
  }
  const s = crm.signatures;
  const linked = () =>
    db(s.table)
      .where(s.linkedObjectType, crm.values.contractObjectType)
      .andWhere(s.linkedObjectId, contractId)
      .orderBy(s.id, 'desc')
      .first(s.id);
  const row =
    (await linked().andWhere(s.status, crm.values.signatureValid)) ?? (await linked().whereNotNull(s.md5Hash));
  if (!row) {
    const any = await linked();
    throw new CliError(
      any ? ExitCode.REJECTED : ExitCode.NOT_FOUND,
      any ? 'SIGNATURE_NOT_SIGNED' : 'SIGNATURE_NOT_FOUND',
      any
        ? `contract ${contractId} has no signed signature yet (its newest signature ${Number(any[s.id])} has no hash)`
        : `contract ${contractId} has no signature in ${s.table} (was it ever sent?)`,
      { contractId, ...(any ? { signatureId: Number(any[s.id]) } : {}) }
    );
  }
  return Number(row[s.id]);
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
  const storedMd5 = sig.md5Hash.toLowerCase();
  let computedMd5 = signatureMd5(input);
  let signedAtRecovered: string | undefined;
  if (computedMd5 !== storedMd5) {
    const recovered = lostMillisecondCandidates(sig.signedAt).find(
      (at) => signatureMd5({ ...input, signedAt: at }) === storedMd5
    );
    if (recovered) {
      computedMd5 = storedMd5;
      signedAtRecovered = recovered.toISOString();
      input.signedAt = recovered;
    }
  }
  return {
    contractId: sig.linkedObjectType === crm.values.contractObjectType ? sig.linkedObjectId : null,
    signatureId,
    match: computedMd5 === storedMd5,
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
    ...(signedAtRecovered ? { signedAtRecovered } : {}),
  };
}
