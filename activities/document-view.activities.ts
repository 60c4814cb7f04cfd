/**
 * The audit record of a document view in the portal (Signal `documentViewed`). Idempotent per view number: a retried
 * activity finds its row and writes nothing.
 */
import type { Knex } from 'knex';
import { AUDIT_TABLE, appendAudit } from './contract/plugin-tables';

export interface RecordDocumentViewInput {
  contractId: number;
  workflowId: string;
  documentId: number;
  contactId: number;
  /** 1 for the first view of this workflow, then 2, 3, … */
  viewNumber: number;
  /** ISO time (workflow time of the signal). */
  at: string;
  ip?: string;
  userAgent?: string;
}

export function createDocumentViewActivities(deps: { db: Knex }) {
  const { db } = deps;
  return {
    async recordDocumentView(view: RecordDocumentViewInput): Promise<void> {
      await db.transaction(async (trx) => {
        const rows = (await trx(AUDIT_TABLE)
          .where({ workflow_id: view.workflowId, event: 'document-viewed' })
          .select('detail')) as { detail: string }[];
        if (rows.some((r) => (JSON.parse(r.detail) as { viewNumber?: number }).viewNumber === view.viewNumber)) return;
        await appendAudit(trx, {
          workflowId: view.workflowId,
          contractId: view.contractId,
          event: 'document-viewed',
          at: new Date(view.at),
          detail: {
            documentId: view.documentId,
            contactId: view.contactId,
            viewNumber: view.viewNumber,
            ip: view.ip ?? null,
            userAgent: view.userAgent ?? null,
          },
        });
      });
    },
  };
}
