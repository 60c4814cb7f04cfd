/** Reads and writes of `signflow_qes` and `signflow_comfort_sessions` (db/migrations/signflow/…_qes_tables). */
import type { Knex } from 'knex';
import { toDate } from '../../db/crm-repository';

export const QES_TABLE = 'signflow_qes';
export const COMFORT_SESSIONS_TABLE = 'signflow_comfort_sessions';

export interface QesRow {
  requestId: string;
  workflowId: string;
  contractId: number;
  sourceDocumentId: number;
  sourceSha256: string;
  cardIccsn: string | null;
  variant: 'PAdES' | 'CAdES';
  mimeType: string;
  signature: Buffer;
  signatureSha256: string;
  signedAt: Date;
  qesDocumentId: number | null;
}

function toRow(r: Record<string, unknown>): QesRow {
  return {
    requestId: String(r.request_id),
    workflowId: String(r.workflow_id),
    contractId: Number(r.contract_id),
    sourceDocumentId: Number(r.source_document_id),
    sourceSha256: String(r.source_sha256),
    cardIccsn: r.card_iccsn == null ? null : String(r.card_iccsn),
    variant: r.variant === 'PAdES' ? 'PAdES' : 'CAdES',
    mimeType: String(r.mime_type),
    signature: Buffer.isBuffer(r.signature) ? r.signature : Buffer.from(r.signature as Uint8Array),
    signatureSha256: String(r.signature_sha256),
    signedAt: toDate(r.signed_at) ?? new Date(0),
    qesDocumentId: r.qes_document_id == null ? null : Number(r.qes_document_id),
  };
}

/** A recorded signature without its bytes (what a batch keeps of each: a batch's signatures never sit in memory whole). */
export type QesRowSummary = Omit<QesRow, 'signature'>;

const SUMMARY_COLUMNS = [
  'request_id',
  'workflow_id',
  'contract_id',
  'source_document_id',
  'source_sha256',
  'card_iccsn',
  'variant',
  'mime_type',
  'signature_sha256',
  'signed_at',
  'qes_document_id',
];

export async function findQesRows(db: Knex | Knex.Transaction, requestIds: string[]): Promise<QesRowSummary[]> {
  if (requestIds.length === 0) return [];
  const rows: QesRowSummary[] = [];
  // Bounded IN lists: MySQL and SQLite both cope, and batches are ≤ 250 anyway.
  for (let i = 0; i < requestIds.length; i += 200) {
    const part = (await db(QES_TABLE)
      .select(SUMMARY_COLUMNS)
      .whereIn('request_id', requestIds.slice(i, i + 200))) as Record<string, unknown>[];
    rows.push(...part.map((r) => toRow({ ...r, signature: Buffer.alloc(0) })).map(({ signature: _, ...rest }) => rest));
  }
  return rows;
}

export async function findQesRow(
  db: Knex | Knex.Transaction,
  where: { requestId: string } | { qesDocumentId: number }
): Promise<QesRow | undefined> {
  const q = db(QES_TABLE);
  const row = (
    'requestId' in where ? q.where('request_id', where.requestId) : q.where('qes_document_id', where.qesDocumentId)
  ).first();
  const r = (await row) as Record<string, unknown> | undefined;
  return r ? toRow(r) : undefined;
}

/** Records signatures; a request id recorded before stays as it was (first signature wins). */
export async function insertQesRows(db: Knex | Knex.Transaction, rows: Omit<QesRow, 'qesDocumentId'>[]): Promise<void> {
  if (rows.length === 0) return;
  await db.transaction(async (trx) => {
    for (const r of rows) {
      await trx(QES_TABLE)
        .insert({
          request_id: r.requestId,
          workflow_id: r.workflowId,
          contract_id: r.contractId,
          source_document_id: r.sourceDocumentId,
          source_sha256: r.sourceSha256,
          card_iccsn: r.cardIccsn,
          variant: r.variant,
          mime_type: r.mimeType,
          signature: r.signature,
          signature_sha256: r.signatureSha256,
          signed_at: r.signedAt,
          qes_document_id: null,
          stored_at: null,
        })
        .onConflict('request_id')
        .ignore();
    }
  });
}

export interface ComfortSessionRow {
  cardIccsn: string;
  userId: string;
  activatedAt: Date;
  deactivatedAt: Date | null;
}

export async function findComfortSession(db: Knex, cardIccsn: string): Promise<ComfortSessionRow | undefined> {
  const r = (await db(COMFORT_SESSIONS_TABLE).where('card_iccsn', cardIccsn).first()) as
    Record<string, unknown> | undefined;
  if (!r) return undefined;
  return {
    cardIccsn: String(r.card_iccsn),
    userId: String(r.user_id),
    activatedAt: toDate(r.activated_at) ?? new Date(0),
    deactivatedAt: toDate(r.deactivated_at),
  };
}

export async function saveComfortSession(
  db: Knex,
  s: { cardIccsn: string; userId: string; activatedAt: Date; activatedBy?: number }
): Promise<void> {
  await db(COMFORT_SESSIONS_TABLE)
    .insert({
      card_iccsn: s.cardIccsn,
      user_id: s.userId,
      activated_at: s.activatedAt,
      activated_by: s.activatedBy ?? null,
      deactivated_at: null,
    })
    .onConflict('card_iccsn')
    .merge();
}

export async function markComfortSessionDeactivated(db: Knex, cardIccsn: string, at: Date): Promise<void> {
  await db(COMFORT_SESSIONS_TABLE).where('card_iccsn', cardIccsn).update({ deactivated_at: at });
}
