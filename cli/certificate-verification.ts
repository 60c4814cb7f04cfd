/**
 * The completion certificate's check for `signflow verify <contractId>`: the SHA-256 recorded in the audit trail when
 * the certificate was made (`certificate-created`) against the certificate's bytes in the CRM now. A changed or
 * replaced certificate does not match.
 */
import type { Knex } from 'knex';
import { CERTIFICATE_EVENT } from '../activities/certificate.activities';
import { AUDIT_TABLE } from '../activities/contract/plugin-tables';
import { readDocument } from '../db/crm-repository';
import type { CrmMapping } from '../db/crm-mapping';
import { sha256Hex } from '../domain/signature-hash';

export interface CertificateVerification {
  documentId: number;
  /** The hash written to the audit trail when the certificate was made. */
  auditedSha256: string;
  /** The hash of the bytes the CRM holds now; null when the document is gone. */
  actualSha256: string | null;
  match: boolean;
}

/** The contract's latest certificate, or undefined when none was made (a contract from before, or not completed). */
export async function verifyCertificate(
  db: Knex,
  crm: CrmMapping,
  contractId: number
): Promise<CertificateVerification | undefined> {
  const row = (await db(AUDIT_TABLE)
    .where({ contract_id: contractId, event: CERTIFICATE_EVENT })
    .orderBy('id', 'desc')
    .first()) as { detail: string } | undefined;
  if (!row) return undefined;
  const { documentId, sha256 } = JSON.parse(row.detail) as { documentId: number; sha256: string };
  const doc = await readDocument(db, crm, documentId);
  const actualSha256 = doc?.content ? sha256Hex(doc.content) : null;
  return { documentId, auditedSha256: sha256, actualSha256, match: actualSha256 === sha256 };
}
