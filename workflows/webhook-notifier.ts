/**
 * Tells the webhook subscribers of a contract's events without holding the contract up: each event is one
 * `deliverWebhook` activity started and not awaited, retried with backoff for a day. The workflow drains the pending
 * deliveries before it returns, so none is lost when the contract ends. Behind `patched('webhooks')`: histories from
 * before it replay without the deliveries.
 */
import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { WebhookEventData, WebhookEventType } from '../domain/webhook-events';

/** Receivers may be down for hours: retried with growing pauses for a day, then given up (the log keeps the row). */
const WEBHOOK: wf.ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  scheduleToCloseTimeout: '1 day',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 hour' },
};

const acts = wf.proxyActivities<Activities>(WEBHOOK);

export interface WebhookNotifier {
  /** Starts the delivery of one event; returns at once. */
  emit(type: WebhookEventType, data?: WebhookEventData): void;
  /** Waits until every delivery started so far has succeeded or given up. */
  drain(): Promise<void>;
  /** True when no started delivery is still running (also those started after the last `drain`). */
  settled(): boolean;
}

/**
 * `subscribed`: the event types some endpoint wants (the workflow input's `webhookEvents`, only from
 * `patched('lean-contract-path')` on); undefined = every event starts a delivery, as before.
 */
export function createWebhookNotifier(contractId: number, subscribed?: readonly string[]): WebhookNotifier {
  const info = wf.workflowInfo();
  const pending: Promise<void>[] = [];
  let running = 0;
  return {
    emit(type, data = {}) {
      // With `subscribed` (lean path) the webhooks patch holds without its own marker: that code had it.
      if (!subscribed && !wf.patched('webhooks')) return;
      // Nobody listens: no activity, no history events, no billable action.
      if (subscribed && !subscribed.includes(type)) return;
      // uuid4() is seeded by the workflow: the same id on replay, hence on every retry of the activity.
      const messageId = `msg_${wf.uuid4().replace(/-/g, '')}`;
      const delivery = acts.deliverWebhook
        .executeWithOptions({ ...WEBHOOK, summary: `Webhook ${type} zustellen` }, [
          {
            messageId,
            type,
            occurredAt: new Date(Date.now()).toISOString(),
            contractId,
            workflowId: info.workflowId,
            runId: info.runId,
            data,
          },
        ])
        .then(
          () => undefined,
          (err: unknown) => {
            // Given up after a day: the contract is not failed for it; `signflow webhooks replay` re-sends.
            wf.log.warn('webhook not delivered', { contractId, type, messageId, error: String(err) });
          }
        );
      running++;
      pending.push(delivery.finally(() => running--));
    },
    async drain() {
      await Promise.all(pending);
    },
    settled: () => running === 0,
  };
}
