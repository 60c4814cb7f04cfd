/**
 * Reads and writes of `signflow_webhook_deliveries`, shared by the delivery activity and `signflow webhooks`.
 */
import type { Knex } from 'knex';
import { toDate } from '../db/crm-repository';
import { WEBHOOK_DELIVERIES_TABLE } from '../db/migrations/signflow/20260501000000_create_signflow_webhook_deliveries';

export { WEBHOOK_DELIVERIES_TABLE };

export type DeliveryStatus = 'pending' | 'delivered';

export interface DeliveryRow {
  id: number;
  messageId: string;
  endpoint: string;
  url: string;
  eventType: string;
  workflowId: string;
  contractId: number;
  body: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastResponse: string | null;
  createdAt: Date;
  lastAttemptAt: Date | null;
  deliveredAt: Date | null;
}

/** How much of a receiver's answer is kept: enough to read an error page's message. */
const RESPONSE_KEEP = 1000;

function fromRow(row: Record<string, unknown>): DeliveryRow {
  return {
    id: Number(row.id),
    messageId: String(row.message_id),
    endpoint: String(row.endpoint),
    url: String(row.url),
    eventType: String(row.event_type),
    workflowId: String(row.workflow_id),
    contractId: Number(row.contract_id),
    body: String(row.body),
    status: String(row.status) as DeliveryStatus,
    attempts: Number(row.attempts),
    lastStatusCode: row.last_status_code == null ? null : Number(row.last_status_code),
    lastResponse: row.last_response == null ? null : String(row.last_response),
    createdAt: toDate(row.created_at) ?? new Date(0),
    lastAttemptAt: toDate(row.last_attempt_at),
    deliveredAt: toDate(row.delivered_at),
  };
}

export async function findDelivery(db: Knex, messageId: string, endpoint: string): Promise<DeliveryRow | undefined> {
  const row = await db(WEBHOOK_DELIVERIES_TABLE).where({ message_id: messageId, endpoint }).first();
  return row ? fromRow(row) : undefined;
}

export async function findDeliveryById(db: Knex, id: number): Promise<DeliveryRow | undefined> {
  const row = await db(WEBHOOK_DELIVERIES_TABLE).where({ id }).first();
  return row ? fromRow(row) : undefined;
}

/**
 * The row of (message, endpoint), created with `body` when missing. A concurrent insert (two attempts racing after a
 * worker crash) loses on the unique key and reads the winner's row, so the body is fixed once.
 */
export async function ensureDelivery(
  db: Knex,
  row: Pick<DeliveryRow, 'messageId' | 'endpoint' | 'url' | 'eventType' | 'workflowId' | 'contractId' | 'body'>
): Promise<DeliveryRow> {
  const existing = await findDelivery(db, row.messageId, row.endpoint);
  if (existing) return existing;
  await db(WEBHOOK_DELIVERIES_TABLE)
    .insert({
      message_id: row.messageId,
      endpoint: row.endpoint,
      url: row.url,
      event_type: row.eventType,
      workflow_id: row.workflowId,
      contract_id: row.contractId,
      body: row.body,
      status: 'pending',
      attempts: 0,
      created_at: new Date(),
    })
    .onConflict(['message_id', 'endpoint'])
    .ignore();
  const stored = await findDelivery(db, row.messageId, row.endpoint);
  if (!stored) throw new Error(`webhook delivery ${row.messageId} → ${row.endpoint} was not stored`);
  return stored;
}

/** Records one attempt; a 2xx makes the row `delivered` (and it stays so: a later failed replay does not undo it). */
export async function recordAttempt(
  db: Knex,
  id: number,
  attempt: { at: Date; statusCode: number | null; response: string; ok: boolean }
): Promise<void> {
  await db(WEBHOOK_DELIVERIES_TABLE)
    .where({ id })
    .update({
      attempts: db.raw('attempts + 1'),
      last_status_code: attempt.statusCode,
      last_response: attempt.response.slice(0, RESPONSE_KEEP),
      last_attempt_at: attempt.at,
      ...(attempt.ok ? { status: 'delivered', delivered_at: attempt.at } : {}),
    });
}

export interface DeliveryFilter {
  contractId?: number;
  status?: DeliveryStatus;
  eventType?: string;
  limit?: number;
}

/** Newest first. */
export async function listDeliveries(db: Knex, filter: DeliveryFilter = {}): Promise<DeliveryRow[]> {
  const q = db(WEBHOOK_DELIVERIES_TABLE)
    .orderBy('id', 'desc')
    .limit(filter.limit ?? 100);
  if (filter.contractId !== undefined) q.where('contract_id', filter.contractId);
  if (filter.status !== undefined) q.where('status', filter.status);
  if (filter.eventType !== undefined) q.where('event_type', filter.eventType);
  const rows = (await q) as Record<string, unknown>[];
  return rows.map(fromRow);
}
