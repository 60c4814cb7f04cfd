/**
 * HTML of the dev signing page. Server-rendered shells; the browser script (`static/portal.js`) calls the same
 * `/api/v1` routes a real portal would, with the dev portal token. German first, like the CRM's own portal.
 */

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

interface Shell {
  title: string;
  contactName: string;
  /** data-* attributes the script reads (ids, API base, token). */
  data: Record<string, string | number>;
  body: string;
}

function page(shell: Shell): string {
  const data = Object.entries(shell.data)
    .map(([k, v]) => ` data-${k}="${escapeHtml(String(v))}"`)
    .join('');
  return `<!doctype html>
<html lang="de">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(shell.title)}</title>
<link rel="stylesheet" href="/portal/assets/portal.css">
</head>
<body${data}>
<header class="bar">
  <span class="brand">Internetauftritt <small>(Entwicklungsansicht)</small></span>
  <span class="user">Angemeldet als <strong id="kontakt-name">${escapeHtml(shell.contactName)}</strong></span>
</header>
<main>
${shell.body}
</main>
<script src="/portal/assets/portal.js"></script>
</body>
</html>
`;
}

export interface DocumentPageInput {
  documentId: number;
  documentTitle: string;
  contractId: number;
  contactId: number;
  contactName: string;
  /** The document's HTML rendition (a whole HTML document), shown sandboxed. */
  html: string;
  signatureStatus: string;
  /** True while the signature can still be given (`ausstehend`). */
  pending: boolean;
  portalToken: string;
  apiBase: string;
}

export function documentPage(p: DocumentPageInput): string {
  const form = p.pending
    ? `<form id="unterschrift" novalidate>
  <section id="pad" class="pad" aria-label="Unterschriftenfeld">
    <p>Bitte unterschreiben Sie hier mit dem Finger oder Stift:</p>
    <canvas id="signature-pad" aria-label="Unterschrift zeichnen"></canvas>
    <button type="button" id="pad-reset">zurücksetzen</button>
  </section>
  <label class="consent"><input type="checkbox" id="consent" name="consent"> Dieses Dokument unterzeichnen</label>
  <button type="submit" id="sign" disabled>Unterschrift jetzt setzen</button>
</form>`
    : '';
  return page({
    title: `${p.documentTitle} – unterzeichnen`,
    contactName: p.contactName,
    data: {
      page: 'document',
      'api-base': p.apiBase,
      'portal-token': p.portalToken,
      'contract-id': p.contractId,
      'contact-id': p.contactId,
      'document-id': p.documentId,
    },
    body: `<h1 id="dokument-titel">${escapeHtml(p.documentTitle)}</h1>
<p class="status">Status der Unterschrift: <strong id="unterschrift-status">${escapeHtml(p.signatureStatus)}</strong></p>
<iframe id="dokument" title="${escapeHtml(p.documentTitle)}" sandbox srcdoc="${escapeHtml(p.html)}"></iframe>
${form}
<p id="meldung" role="status" aria-live="polite"></p>
<nav><a id="zur-liste" href="/portal/kontakte/${p.contactId}/ausstehend">Ausstehende Unterschriften</a></nav>`,
  });
}

export interface PendingPageInput {
  contactId: number;
  contactName: string;
  portalToken: string;
  apiBase: string;
}

export function pendingPage(p: PendingPageInput): string {
  return page({
    title: 'Ausstehende Unterschriften',
    contactName: p.contactName,
    data: { page: 'pending', 'api-base': p.apiBase, 'portal-token': p.portalToken, 'contact-id': p.contactId },
    body: `<h1>Ausstehende Unterschriften</h1>
<ul id="ausstehend" aria-busy="true"><li class="leer">wird geladen …</li></ul>
<p id="meldung" role="status" aria-live="polite"></p>`,
  });
}

export function notFoundPage(what: string): string {
  return `<!doctype html>
<html lang="de"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Nicht gefunden</title><link rel="stylesheet" href="/portal/assets/portal.css"></head>
<body><main><h1>Nicht gefunden</h1><p>${escapeHtml(what)}</p></main></body></html>
`;
}

/** `/portal`: what the dev portal page offers (the real portal is the practice's Internetauftritt). */
export function portalIndexPage(): string {
  return `<!doctype html>
<html lang="de"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portal (Entwicklung)</title><link rel="stylesheet" href="/portal/assets/portal.css"></head>
<body><main><h1>Portal (Entwicklung)</h1>
<p>Die Entwicklungsversion des Portals, in dem die Honorarkraft unterschreibt. Seiten:</p>
<ul>
<li><code>/portal/kontakte/&lt;Kontakt-ID&gt;/ausstehend</code>: ausstehende Unterschriften eines Kontakts,
z. B. <a href="/portal/kontakte/1/ausstehend">Kontakt 1</a></li>
<li><code>/portal/dokumente/&lt;Dokument-ID&gt;</code>: ein Dokument lesen und unterschreiben (der Link aus der
Einladung)</li>
</ul>
<p>Die HTTP-API dahinter: <a href="/api/v1">/api/v1</a> (Routen), <a href="/api/v1/openapi.json">OpenAPI</a>.</p>
</main></body></html>
`;
}
