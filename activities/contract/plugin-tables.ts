/**
 * Reads and writes of the plugin's own tables that the contract activities need: the prepared request (the idempotency
 * record of step 2) and the append-only audit trail. Column names are fixed by db/migrations/signflow.
 */
import type { Knex } from 'knex';
import { insertRow } from '../../db/compiled';
import { toDate } from '../../db/crm-repository';

export const REQUESTS_TABLE = 'signflow_requests';
export const AUDIT_TABLE = 'signflow_audit_events';

export interface StoredRequest {
  workflowId: string;
  contractId: number;
  contactId: number;
  documentId: number;
  signatureId: number;
  documentMd5: string;
  documentSha256: string;
  createdAt: Date;
}

export async function findRequest(db: Knex | Knex.Transaction, workflowId: string): Promise<StoredRequest | undefined> {
  const row = await db(REQUESTS_TABLE).where('workflow_id', workflowId).first();
  if (!row) return undefined;
  const createdAt = toDate(row.created_at);
  if (!createdAt) throw new Error(`signflow_requests row of ${workflowId} has no created_at`);
  return {
    workflowId: String(row.workflow_id),
    contractId: Number(row.contract_id),
    contactId: Number(row.contact_id),
    documentId: Number(row.document_id),
    signatureId: Number(row.signature_id),
    documentMd5: String(row.document_md5),
    documentSha256: String(row.document_sha256),
    createdAt,
  };
}

export async function insertRequest(trx: Knex.Transaction, request: StoredRequest, html: string): Promise<void> {
  await insertRow(trx, REQUESTS_TABLE, {
    workflow_id: request.workflowId,
    contract_id: request.contractId,
    contact_id: request.contactId,
    document_id: request.documentId,
    signature_id: request.signatureId,
    document_md5: request.documentMd5,
    document_sha256: request.documentSha256,
    html,
    created_at: request.createdAt,
  });
}

export type AuditEvent =
  | 'signature-request-prepared'
  | 'signature-recorded'
  | 'signature-confirmed-manually'
  | 'signature-withdrawn'
  | 'signature-expired'
  /** A mail the recipient's server refused for good (MAIL_REJECTED); the staff digest lists these. */
  | 'mail-rejected'
  /** An invitation or reminder not sent because the signature was no longer pending. */
  | 'mail-skipped'
  /** A request whose workflow failed after writing was undone: signature voided, contract status restored. */
  | 'signature-request-reverted'
  | 'document-viewed'
  /** The completion certificate (Prüfprotokoll) was stored; `detail.sha256` is the hash of its bytes. */
  | 'certificate-created';

/**
 * `detail` holds ids, hashes and labels; for the portal's steps also the client's IP address and user agent as the
 * portal passed them, the evidence the completion certificate (Prüfprotokoll) shows; for a withdrawal the reason staff
 * gave (`detail.reason`, free text the CRM shows with the contract).
 */
export async function appendAudit(
  trx: Knex | Knex.Transaction,
  event: { workflowId: string; contractId: number; event: AuditEvent; at: Date; detail: Record<string, unknown> }
): Promise<void> {
  await insertRow(trx, AUDIT_TABLE, {
    workflow_id: event.workflowId,
    contract_id: event.contractId,
    event: event.event,
    detail: JSON.stringify(event.detail),
    at: event.at,
  });
}
