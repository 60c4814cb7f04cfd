/**
 * The webhook events signflow tells subscribers (the CRM and other systems) about: names of the outer contract
 * (../shared/DESIGN.md). Sandbox-safe (no imports): the contract workflow emits them, the config validates filters
 * against them.
 */
export const WEBHOOK_EVENT_TYPES = [
  'contract.sent',
  'contract.viewed',
  'contract.reminded',
  'contract.signed',
  'contract.confirmed',
  'contract.withdrawn',
  'contract.expired',
  'contract.countersign.waiting',
  'contract.countersigned',
  'contract.completed',
  'contract.failed',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export function isWebhookEventType(value: string): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}

/**
 * What the workflow knows about an event: ids, status labels, codes and timestamps only. Personal data is added by
 * the delivery activity, and only for endpoints configured to receive it.
 */
export type WebhookEventData = Record<string, string | number | boolean | null | undefined>;

/** One event as the contract workflow hands it to the delivery activity. */
export interface WebhookEventInput {
  /**
   * The Standard Webhooks `webhook-id`: made once by the workflow (deterministic on replay), the same on every retry
   * and replay, so receivers deduplicate on it.
   */
  messageId: string;
  type: WebhookEventType;
  /** ISO time of the event (workflow time). */
  occurredAt: string;
  contractId: number;
  workflowId: string;
  runId: string;
  data: WebhookEventData;
}
