/**
 * One signed HTTP attempt of a stored delivery, per the Standard Webhooks specification: headers `webhook-id` (the same
 * on every attempt), `webhook-timestamp` (this attempt's time, which receivers check against replays) and
 * `webhook-signature` (HMAC-SHA256 over id, timestamp and body), made by the `standardwebhooks` package.
 */
import { Webhook } from 'standardwebhooks';

export interface AttemptResult {
  ok: boolean;
  statusCode: number | null;
  /** The start of the answer, or the network error. */
  response: string;
  at: Date;
}

export function signedHeaders(secret: string, messageId: string, at: Date, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'signflow-webhooks',
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(messageId, at, body),
  };
}

/** Never throws: a refused connection, a timeout and a 5xx are all results, recorded by the caller. */
export async function sendWebhook(
  target: { url: string; secret: string; timeoutMs: number },
  messageId: string,
  body: string
): Promise<AttemptResult> {
  const at = new Date();
  try {
    const res = await fetch(target.url, {
      method: 'POST',
      headers: signedHeaders(target.secret, messageId, at, body),
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(target.timeoutMs),
    });
    const text = await res.text().catch(() => '');
    return { ok: res.status >= 200 && res.status < 300, statusCode: res.status, response: text.slice(0, 1000), at };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    return { ok: false, statusCode: null, response: `no answer: ${why}`, at };
  }
}
