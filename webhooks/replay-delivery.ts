/**
 * Re-sends one logged delivery (`signflow webhooks replay <id>`): the stored body and the same `webhook-id`, freshly
 * signed with the endpoint's current secret and sent to its current URL, so a receiver that already has the message
 * recognises the duplicate. The attempt is logged like the workflow's own.
 */
import type { Knex } from 'knex';
import type { SignflowConfig } from '../temporal.config';
import { findDeliveryById, recordAttempt, type DeliveryRow } from './delivery-log';
import { sendWebhook, type AttemptResult } from './send-webhook';

export class WebhookReplayError extends Error {
  override readonly name = 'WebhookReplayError';
  constructor(
    /**
     * `WEBHOOK_DELIVERY_NOT_FOUND`: no logged delivery has this id; list them with `signflow webhooks list`.
     * `WEBHOOK_ENDPOINT_UNKNOWN`: the delivery's endpoint is no longer configured; add it again to replay.
     */
    readonly code: 'WEBHOOK_DELIVERY_NOT_FOUND' | 'WEBHOOK_ENDPOINT_UNKNOWN',
    message: string
  ) {
    super(message);
  }
}

export async function replayDelivery(
  db: Knex,
  config: SignflowConfig,
  id: number
): Promise<{ delivery: DeliveryRow; attempt: AttemptResult }> {
  const row = await findDeliveryById(db, id);
  if (!row) throw new WebhookReplayError('WEBHOOK_DELIVERY_NOT_FOUND', `no webhook delivery ${id}`);
  const endpoint = config.webhooks.endpoints.find((e) => e.name === row.endpoint);
  if (!endpoint) {
    throw new WebhookReplayError(
      'WEBHOOK_ENDPOINT_UNKNOWN',
      `webhook delivery ${id} went to endpoint "${row.endpoint}", which is not configured (SIGNFLOW_WEBHOOKS)`
    );
  }
  const attempt = await sendWebhook(
    { url: endpoint.url, secret: endpoint.secret, timeoutMs: config.webhooks.attemptTimeoutMs },
    row.messageId,
    row.body
  );
  await recordAttempt(db, row.id, attempt);
  return { delivery: (await findDeliveryById(db, id)) as DeliveryRow, attempt };
}
