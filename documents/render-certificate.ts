/**
 * The completion certificate (Prüfprotokoll) of a contract: a PDF/A-3b in German that lists the document, its hashes
 * and every event with its time in Europe/Berlin and UTC, and says how to verify it. Deterministic: the same evidence
 * and `createdAt` give the same bytes, so the hash stored in the audit trail can be checked against the document.
 */
import { renderTextBlocksPdf, type ImageBlock, type TextBlock } from './render-contract';

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

export function certificateBlocks(data: CertificateData): (TextBlock | ImageBlock)[] {
  const p = (text: string, meta = false): TextBlock => ({ tag: 'p', meta, text });
  const li = (text: string): TextBlock => ({ tag: 'li', meta: false, text });
  const h2 = (text: string): TextBlock => ({ tag: 'h2', meta: false, text });
  const events = [...data.events].sort((a, b) => a.at.getTime() - b.at.getTime());
  return [
    { tag: 'h1', meta: false, text: `Prüfprotokoll zu Honorarvertrag ${data.contractId}` },
    p(`${data.practiceName} · Vertrag „${data.contractTitle}“ · erstellt ${berlinAndUtc(data.createdAt)}`, true),
    h2('Dokument'),
    li(`Titel: ${data.documentTitle}`),
    li(`Dokument-ID: ${data.documentId}`),
    li(`SHA-256: ${data.documentSha256}`),
    li(`MD5 der Unterschrift (Unterschriften-Datensatz): ${data.signatureMd5 ?? '–'}`),
    li(`Seitenzahl: ${data.pageCount}`),
    li(
      !data.views || data.views.count === 0 || !data.views.first
        ? 'Im Portal angesehen: nicht erfasst'
        : `Im Portal angesehen: ${data.views.count}-mal, zuerst ${berlinAndUtc(data.views.first)}`
    ),
    h2('Ereignisse'),
    ...events.flatMap((e): (TextBlock | ImageBlock)[] => [
      li(`${berlinAndUtc(e.at)}: ${e.label}`),
      ...e.details.map((d) => p(`    ${d}`, true)),
      ...(e.image ? [{ tag: 'img' as const, image: e.image, alt: 'gezeichnete Unterschrift', maxHeight: 60 }] : []),
    ]),
    h2('Prüfung'),
    p(
      `Der Befehl „signflow verify ${data.contractId}“ berechnet den MD5-Wert der Unterschrift aus dem Datensatz im ` +
        'CRM neu, vergleicht ihn mit dem gespeicherten Wert, prüft den Hash dieses Prüfprotokolls und, falls ' +
        'vorhanden, die qualifizierte elektronische Signatur der Praxis.'
    ),
    li(`Workflow-ID: ${data.workflowId}`),
    li(`Run-ID: ${data.runId}`),
  ];
}

export function renderCertificate(data: CertificateData): Promise<Buffer> {
  return renderTextBlocksPdf(certificateBlocks(data), {
    title: `Pruefprotokoll Honorarvertrag ${data.contractId}`,
    createdAt: data.createdAt,
  });
}
