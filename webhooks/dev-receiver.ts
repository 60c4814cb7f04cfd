/**
 * The dev stack's webhook receiver (beside the inbox): accepts Standard Webhooks POSTs, verifies each with the
 * `standardwebhooks` package and the endpoint's secret, deduplicates on `webhook-id` as a real receiver must, and shows
 * what arrived on a page. Every arrival is appended to `<dir>/webhooks.jsonl`, so a restarted receiver still knows the
 * ids it accepted. Loopback only.
 *
 *   POST /hooks              a delivery: 200 accepted (or duplicate), 400 signature not verified
 *   GET  /                   the page (newest first, refreshes every 5 s)
 *   GET  /api/messages       JSON list of every arrival
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { escapeHtml } from '../mail/inbox-page';

export interface ReceivedWebhook {
  /** Arrival number, from 1. */
  seq: number;
  receivedAt: string;
  webhookId: string;
  webhookTimestamp: string;
  /** The `webhook-signature` header as sent. */
  signature: string;
  /** The signature verified with the package (and the timestamp was within its tolerance). */
  verified: boolean;
  /** Why it did not verify. */
  error?: string;
  /** Verified, but its id had been accepted before (a retry whose answer got lost, or a replay). */
  duplicate: boolean;
  type?: string;
  body: string;
}

export interface DevWebhookReceiver {
  port: number;
  /** Where deliveries go (`<base>/hooks`). */
  hookUrl: string;
  pageUrl: string;
  received(): ReceivedWebhook[];
  /** The verified, first-time arrivals: one per message. */
  accepted(): ReceivedWebhook[];
  waitFor(pred: (all: ReceivedWebhook[]) => boolean, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

export interface DevWebhookReceiverOptions {
  /** The secret of the endpoint this receiver stands for (`whsec_…`). */
  secret: string;
  port?: number;
  host?: string;
  /** Folder of `webhooks.jsonl`; without it the receiver keeps nothing across restarts. */
  dir?: string;
}

const MAX_BODY = 1024 * 1024;

function loadLog(file: string | undefined): ReceivedWebhook[] {
  if (!file || !fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ReceivedWebhook);
}

function pageHtml(all: ReceivedWebhook[]): string {
  const rows = [...all]
    .reverse()
    .map((r) => {
      const state = !r.verified
        ? `<td style="color:#b00">✗ ${escapeHtml(r.error ?? 'nicht verifiziert')}</td>`
        : `<td style="color:#070">✓ verifiziert${r.duplicate ? ' (Duplikat, ignoriert)' : ''}</td>`;
      return (
        `<tr><td>${r.seq}</td><td>${escapeHtml(r.receivedAt)}</td><td>${escapeHtml(r.type ?? '?')}</td>` +
        `<td><code>${escapeHtml(r.webhookId)}</code></td>${state}<td><pre>${escapeHtml(r.body)}</pre></td></tr>`
      );
    })
    .join('');
  const table = all.length
    ? `<table><tr><th>#</th><th>empfangen</th><th>Ereignis</th><th>webhook-id</th><th>Signatur</th><th>Inhalt</th></tr>${rows}</table>`
    : '<p>Noch keine Webhooks empfangen.</p>';
  return (
    `<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Webhooks</title>` +
    `<meta http-equiv="refresh" content="5"><style>body{font-family:system-ui,sans-serif;margin:2rem}` +
    `table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #ddd;` +
    `vertical-align:top}pre{white-space:pre-wrap;margin:0;font-size:.8rem}</style></head><body>` +
    `<h1>Webhook-Empfänger</h1><p>Zustellungen an <code>/hooks</code>, geprüft mit dem Paket standardwebhooks.</p>` +
    `${table}</body></html>`
  );
}

export async function startDevWebhookReceiver(opts: DevWebhookReceiverOptions): Promise<DevWebhookReceiver> {
  const verifier = new Webhook(opts.secret);
  const file = opts.dir ? path.join(opts.dir, 'webhooks.jsonl') : undefined;
  if (opts.dir) fs.mkdirSync(opts.dir, { recursive: true });
  const all = loadLog(file);
  const acceptedIds = new Set(all.filter((r) => r.verified && !r.duplicate).map((r) => r.webhookId));
  const waiters = new Set<() => void>();

  const record = (r: ReceivedWebhook) => {
    all.push(r);
    // Written before the answer: a receiver killed after this line has the id, and the retry is a duplicate.
    if (file) fs.appendFileSync(file, `${JSON.stringify(r)}\n`);
    for (const w of [...waiters]) w();
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(pageHtml(all));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/messages') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(all));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/hooks') {
      // The banner prints this endpoint; opened in a browser it says what it is instead of a bare 404.
      res
        .writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
        .end('signflow dev webhook receiver: POST Standard Webhooks deliveries here; what arrived: GET /\n');
      return;
    }
    if (req.method !== 'POST' || url.pathname !== '/hooks') {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const header = (name: string) => String(req.headers[name] ?? '');
      const base = {
        seq: all.length + 1,
        receivedAt: new Date().toISOString(),
        webhookId: header('webhook-id'),
        webhookTimestamp: header('webhook-timestamp'),
        signature: header('webhook-signature'),
        body,
      };
      let payload: { type?: string } | undefined;
      try {
        if (size > MAX_BODY) throw new Error('body too large');
        payload = verifier.verify(body, {
          'webhook-id': header('webhook-id'),
          'webhook-timestamp': header('webhook-timestamp'),
          'webhook-signature': header('webhook-signature'),
        }) as { type?: string };
      } catch (err) {
        record({ ...base, verified: false, error: (err as Error).message, duplicate: false });
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`signature not verified: ${(err as Error).message}`);
        return;
      }
      const duplicate = acceptedIds.has(base.webhookId);
      acceptedIds.add(base.webhookId);
      record({ ...base, verified: true, duplicate, type: payload?.type });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(duplicate ? 'duplicate' : 'accepted');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const base = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  const accepted = () => all.filter((r) => r.verified && !r.duplicate);
  return {
    port,
    hookUrl: `${base}/hooks`,
    pageUrl: `${base}/`,
    received: () => [...all],
    accepted,
    waitFor(pred, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!pred(all)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve([...all]);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`webhook receiver: condition not met within ${timeoutMs} ms (${all.length} arrivals)`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
