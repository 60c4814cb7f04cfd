/**
 * A small web page over the dev inbox, for the dev stack: the list of captured mails, one mail's headers and text
 * (escaped, links clickable), its HTML part in a sandboxed frame (no scripts, no origin), and the raw `.eml`.
 * Loopback only.
 *
 *   GET /                    list, newest first (refreshes every 5 s)
 *   GET /messages/<id>       one mail
 *   GET /messages/<id>.eml   raw message (message/rfc822)
 *   GET /messages/<id>.html  the HTML part alone (what the frame shows)
 *   GET /api/messages        JSON list without the raw bytes
 */
import http from 'node:http';
import type { CapturedMail, DevInbox } from './dev-inbox';

export interface InboxPage {
  url: string;
  port: number;
  close(): Promise<void>;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The mail's HTML runs no scripts and gets no origin; its links may open in a new tab (the portal link is the point of
 * an invitation), which `<base target="_blank">` in the served part makes the default.
 */
const FRAME_SANDBOX = 'allow-popups allow-popups-to-escape-sandbox';

/** Makes http(s) URLs in already escaped text clickable (new tab). */
function linkify(escaped: string): string {
  return escaped.replace(
    /https?:\/\/[^\s<>"']+/g,
    (url) => `<a href="${url}" target="_blank" rel="noopener">${url}</a>`
  );
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #ddd}tr:hover{background:#f6f6f6}
pre{white-space:pre-wrap;background:#f6f6f6;padding:1rem}iframe{width:100%;height:32rem;border:1px solid #ccc}
dt{font-weight:600}dd{margin:0 0 .4rem 1rem;word-break:break-all}`;

function page(title: string, body: string, refresh = false): string {
  return `<!doctype html><html lang="de"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>${
    refresh ? '<meta http-equiv="refresh" content="5">' : ''
  }<style>${STYLE}</style></head><body>${body}</body></html>`;
}

function listPage(mails: CapturedMail[]): string {
  const rows = [...mails]
    .reverse()
    .map(
      (m) =>
        `<tr><td>${m.id}</td><td>${escapeHtml(m.receivedAt.toISOString())}</td><td>${escapeHtml(m.from)}</td>` +
        `<td>${escapeHtml(m.to.join(', '))}</td><td><a href="/messages/${m.id}">${escapeHtml(m.subject || '(kein Betreff)')}</a></td></tr>`
    )
    .join('');
  const table = mails.length
    ? `<table><tr><th>#</th><th>empfangen</th><th>von</th><th>an</th><th>Betreff</th></tr>${rows}</table>`
    : '<p>Noch keine Nachrichten.</p>';
  return page('signflow dev inbox', `<h1>signflow dev inbox</h1><p>${mails.length} Nachricht(en)</p>${table}`, true);
}

function messagePage(m: CapturedMail): string {
  const headers = Object.entries(m.headers)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`)
    .join('');
  const html = m.html
    ? `<h2>HTML</h2><iframe sandbox="${FRAME_SANDBOX}" src="/messages/${m.id}.html" title="HTML-Teil"></iframe>`
    : '<p>(kein HTML-Teil)</p>';
  return page(
    m.subject,
    `<p><a href="/">&larr; Posteingang</a> · <a href="/messages/${m.id}.eml">.eml</a></p>` +
      `<h1>${escapeHtml(m.subject || '(kein Betreff)')}</h1><dl>${headers}</dl>` +
      `<h2>Text</h2><pre>${linkify(escapeHtml(m.text))}</pre>${html}`
  );
}

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer, extra = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...extra });
  res.end(body);
}

export async function startInboxPage(inbox: DevInbox, port: number, host = '127.0.0.1'): Promise<InboxPage> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://inbox.invalid');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed');
    if (url.pathname === '/') return send(res, 200, 'text/html; charset=utf-8', listPage(inbox.messages()));
    if (url.pathname === '/api/messages') {
      const list = inbox.messages().map(({ raw: _raw, ...m }) => m);
      return send(res, 200, 'application/json', JSON.stringify(list));
    }
    const match = /^\/messages\/(\d+)(\.eml|\.html)?$/.exec(url.pathname);
    const mail = match ? inbox.messages().find((m) => m.id === Number(match[1])) : undefined;
    if (!match || !mail) return send(res, 404, 'text/plain', 'not found');
    if (match[2] === '.eml') {
      return send(res, 200, 'message/rfc822', mail.raw, {
        'content-disposition': `attachment; filename="signflow-${mail.id}.eml"`,
      });
    }
    if (match[2] === '.html') {
      // Served for the sandboxed frame only; the CSP keeps the mail's HTML from running scripts even if opened directly.
      return send(res, 200, 'text/html; charset=utf-8', `<base target="_blank">${mail.html}`, {
        'content-security-policy': `sandbox ${FRAME_SANDBOX}; default-src 'none'; img-src data:; style-src 'unsafe-inline'`,
      });
    }
    return send(res, 200, 'text/html; charset=utf-8', messagePage(mail));
  });
  const actualPort = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address();
      resolve(addr && typeof addr === 'object' ? addr.port : port);
    });
  });
  return {
    url: `http://${host}:${actualPort}/`,
    port: actualPort,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
