/**
 * Webhook delivery, an activity of the contract workflow: one call per event delivers it to every configured endpoint
 * subscribed to its type. The workflow never waits on it for its own progress; Temporal retries it with backoff for a
 * day. Each (message, endpoint) is a row of `signflow_webhook_deliveries`: the body is fixed at the first attempt, and an
 * endpoint that answered 2xx is not called again when a retry is for another endpoint that is still failing.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import { readContact, readContract } from '../db/crm-repository';
import type { WebhookEventInput } from '../domain/webhook-events';
import type { SignflowConfig } from '../temporal.config';
import { ensureDelivery, recordAttempt } from '../webhooks/delivery-log';
import { subscribes, type WebhookEndpoint } from '../webhooks/webhook-config';
import { sendWebhook } from '../webhooks/send-webhook';

export interface WebhookActivityDeps {
  db: Knex;
  config: SignflowConfig;
}

/** The failure type of an attempt round in which an endpoint did not answer 2xx; retried by Temporal. */
export const WEBHOOK_NOT_DELIVERED = 'WEBHOOK_NOT_DELIVERED';

export interface DeliverWebhookResult {
  /** Endpoint names that have the message now (this attempt or before). */
  delivered: string[];
}

export function createWebhookActivities(deps: WebhookActivityDeps) {
  const { db, config } = deps;

  /** The Standard Webhooks payload shape `{ type, timestamp, data }`; personal data only for opted-in endpoints. */
  async function bodyFor(endpoint: WebhookEndpoint, event: WebhookEventInput): Promise<string> {
    const data: Record<string, unknown> = {
      contractId: event.contractId,
      workflowId: event.workflowId,
      runId: event.runId,
      ...event.data,
    };
    if (endpoint.personalData) {
      const contract = await readContract(db, config.crm, event.contractId);
      const contact = contract ? await readContact(db, config.crm, contract.contactId) : undefined;
      if (contact) {
        data.contact = {
          id: contact.id,
          firstName: contact.firstName,
          lastName: contact.lastName,
          email: contact.email,
        };
      }
      if (contract) data.contractTitle = contract.title;
    }
    return JSON.stringify({ type: event.type, timestamp: event.occurredAt, data });
  }

  return {
    async deliverWebhook(event: WebhookEventInput): Promise<DeliverWebhookResult> {
      const endpoints = config.webhooks.endpoints.filter((e) => subscribes(e, event.type));
      const delivered: string[] = [];
      const failed: string[] = [];
      for (const endpoint of endpoints) {
        const row = await ensureDelivery(db, {
          messageId: event.messageId,
          endpoint: endpoint.name,
          url: endpoint.url,
          eventType: event.type,
          workflowId: event.workflowId,
          contractId: event.contractId,
          body: await bodyFor(endpoint, event),
        });
        if (row.status === 'delivered') {
          delivered.push(endpoint.name);
          continue;
        }
        const result = await sendWebhook(
          { url: endpoint.url, secret: endpoint.secret, timeoutMs: config.webhooks.attemptTimeoutMs },
          row.messageId,
          row.body
        );
        await recordAttempt(db, row.id, result);
        if (result.ok) delivered.push(endpoint.name);
        else failed.push(`${endpoint.name} (${result.statusCode ?? result.response})`);
      }
      if (failed.length > 0) {
        // Retryable: the same message id and body go out again after the backoff.
        throw ApplicationFailure.create({
          type: WEBHOOK_NOT_DELIVERED,
          message: `webhook ${event.type} ${event.messageId} not delivered to ${failed.join(', ')}`,
        });
      }
      return { delivered };
    },
  };
}
