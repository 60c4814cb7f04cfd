/**
 * The completion certificate (Prüfprotokoll) of a contract: a PDF/A-3b in German that lists the document, its hashes
 * and every event with its time in Europe/Berlin and UTC, and says how to verify it. Its wording is the template
 * `templates/documents/pruefprotokoll.hbs` (overridable like every template, docs/templates.md). Deterministic: the same evidence
 * and `createdAt` give the same bytes, so the hash stored in the audit trail can be checked against the document.
 */
import fs from 'node:fs';
import Handlebars from 'handlebars';
import { templateFile } from '../templating/template-files';
import { renderTextBlocksPdf, textBlocks, type ImageBlock, type TextBlock } from './render-contract';

export interface CertificateEvent {
  at: Date;
  /** What happened, in German, e.g. "Einladung gesendet". */
  label: string;
  /** Details lines, e.g. "an anna@example.org", "IP-Adresse 203.0.113.7". */
  details: string[];
  /** The drawn signature (PNG), shown below the event. */
  image?: Buffer;
}

export interface CertificateData {
  contractId: number;
  contractTitle: string;
  practiceName: string;
  documentId: number;
  documentTitle: string;
  documentSha256: string;
  /** The signature row's MD5 (`md5_hash`). */
  signatureMd5: string | null;
  pageCount: number;
  /** The signer's views of the document in the portal (this request): how many, and the first one. */
  views?: { count: number; first: Date | null };
  events: CertificateEvent[];
  workflowId: string;
  runId: string;
  /** Creation time of the certificate (workflow time of completion). */
  createdAt: Date;
}

// Hoisted: building Intl formatters is far slower than using them.
const BERLIN = new Intl.DateTimeFormat('de-DE', {
  timeZone: 'Europe/Berlin',
  day: '2-digit',
  month: '2-digit',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  timeZoneName: 'short',
});

/** `30.11.2026, 15:14:30 MEZ (UTC 2026-11-30T14:14:30.512Z)` */
export function berlinAndUtc(at: Date): string {
  return `${BERLIN.format(at)} (UTC ${at.toISOString()})`;
}

/** Pages of a PDF: its page objects (pdfkit writes one `/Type /Page` per page). */
export function countPdfPages(pdf: Buffer): number {
  return (pdf.toString('latin1').match(/\/Type\s*\/Page(?![s\w])/g) ?? []).length;
}

/** The certificate's template, relative to `templates/` (overridable by `SIGNFLOW_TEMPLATES_DIR`). */
export const CERTIFICATE_TEMPLATE = 'documents/pruefprotokoll.hbs';

const compiled = new Map<string, HandlebarsTemplateDelegate>();

function template(): HandlebarsTemplateDelegate {
  const file = templateFile(CERTIFICATE_TEMPLATE);
  let t = compiled.get(file);
  if (!t) {
    t = Handlebars.create().compile(fs.readFileSync(file, 'utf8'), { strict: true });
    compiled.set(file, t);
  }
  return t;
}

/** The template's values (docs/templates.md); images by key (`event-<n>`), the bytes stay out of the HTML. */
export function certificateViewModel(data: CertificateData): Record<string, unknown> {
  const events = [...data.events].sort((a, b) => a.at.getTime() - b.at.getTime());
  return {
    contractId: data.contractId,
    contractTitle: data.contractTitle,
    practiceName: data.practiceName,
    createdAt: berlinAndUtc(data.createdAt),
    documentTitle: data.documentTitle,
    documentId: data.documentId,
    documentSha256: data.documentSha256,
    signatureMd5: data.signatureMd5 ?? '–',
    pageCount: data.pageCount,
    views:
      !data.views || data.views.count === 0 || !data.views.first
        ? 'nicht erfasst'
        : `${data.views.count}-mal, zuerst ${berlinAndUtc(data.views.first)}`,
    events: events.map((e, i) => ({
      when: berlinAndUtc(e.at),
      label: e.label,
      details: e.details,
      image: e.image ? `event-${i}` : null,
    })),
    verifyCommand: `signflow verify ${data.contractId}`,
    workflowId: data.workflowId,
    runId: data.runId,
  };
}

export function renderCertificateHtml(data: CertificateData): string {
  return template()(certificateViewModel(data)).trim() + '\n';
}

/** The printed blocks in order: text blocks as for the contract, and `<figure data-image>` as the event's image. */
export function certificateBlocks(data: CertificateData): (TextBlock | ImageBlock)[] {
  const images = new Map<string, Buffer>();
  [...data.events]
    .sort((a, b) => a.at.getTime() - b.at.getTime())
    .forEach((e, i) => e.image && images.set(`event-${i}`, e.image));
  const html = renderCertificateHtml(data);
  const blocks: (TextBlock | ImageBlock)[] = [];
  let last = 0;
  for (const m of html.matchAll(/<figure\s[^>]*data-image=["']([^"']+)["'][^>]*>(?:\s*<\/figure>)?/g)) {
    blocks.push(...textBlocks(html.slice(last, m.index)));
    const image = images.get(m[1] ?? '');
    if (image) blocks.push({ tag: 'img', image, alt: 'gezeichnete Unterschrift', maxHeight: 60 });
    last = (m.index ?? 0) + m[0].length;
  }
  blocks.push(...textBlocks(html.slice(last)));
  return blocks;
}

export function renderCertificate(data: CertificateData): Promise<Buffer> {
  return renderTextBlocksPdf(certificateBlocks(data), {
    title: `Pruefprotokoll Honorarvertrag ${data.contractId}`,
    createdAt: data.createdAt,
  });
}
