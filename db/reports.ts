/**
 * The seed's two reports ("Unterschriften zu Dokumenten", "Honorarverträge verwalten") and the portal's list
 * "Ausstehende Unterschriften", read from the CRM's tables through the configured mapping only. Plain knex queries
 * that run the same on SQLite and MySQL/MariaDB; values are normalised (booleans, ISO times) once here.
 *
 * One module for every door: the HTTP API (JSON and CSV) and the CLI (`signflow report`, tables) show the same rows
 * under the same column labels.
 */
import { stringify } from 'csv-stringify/sync';
import type { Knex } from 'knex';
import type { CrmMapping } from './crm-mapping';
import { toBool, toDate } from './crm-repository';

export interface Column<Row> {
  key: keyof Row & string;
  /** Header of the CSV column: the CRM's own attribute name. */
  label: string;
}

export interface SignatureReportRow {
  signatureId: number;
  status: string;
  contactId: number;
  contactName: string | null;
  documentId: number;
  documentTitle: string | null;
  linkedObjectType: string | null;
  linkedObjectId: number | null;
  byAuthenticatedClick: boolean | null;
  imageDocumentId: number | null;
  userId: number | null;
  md5Hash: string | null;
  signedAt: string | null;
}

export const SIGNATURE_REPORT_COLUMNS: Column<SignatureReportRow>[] = [
  { key: 'signatureId', label: 'Unterschrift-ID' },
  { key: 'status', label: 'Status' },
  { key: 'contactId', label: 'Kontakt-ID' },
  { key: 'contactName', label: 'Kontakt' },
  { key: 'documentId', label: 'Dokument-ID' },
  { key: 'documentTitle', label: 'Dokument' },
  { key: 'linkedObjectType', label: 'Verknüpftes Objekt (Typ)' },
  { key: 'linkedObjectId', label: 'Verknüpftes Objekt (ID)' },
  { key: 'byAuthenticatedClick', label: 'Unterschrift per authentifiziertem Klick' },
  { key: 'imageDocumentId', label: 'Unterschriftenbild' },
  { key: 'userId', label: 'Benutzer-ID' },
  { key: 'md5Hash', label: 'MD5-Hash' },
  { key: 'signedAt', label: 'Unterschrieben am' },
];

export interface ContractReportRow {
  contractId: number;
  title: string;
  contactId: number;
  contactName: string | null;
  status: string;
  lastStatusChange: string | null;
  confirmedByFreelancer: boolean;
  confirmedAt: string | null;
  confirmedBy: number | null;
  start: string | null;
  end: string | null;
  feeCents: number | null;
  /** The contract's latest signature (highest id), if any. */
  signatureId: number | null;
  signatureStatus: string | null;
}

export const CONTRACT_REPORT_COLUMNS: Column<ContractReportRow>[] = [
  { key: 'contractId', label: 'Honorarvertrag-ID' },
  { key: 'title', label: 'Titel' },
  { key: 'contactId', label: 'Kontakt-ID' },
  { key: 'contactName', label: 'Honorarkraft' },
  { key: 'status', label: 'Status' },
  { key: 'lastStatusChange', label: 'Letzte Statusänderung' },
  { key: 'confirmedByFreelancer', label: 'Bestätigt durch Honorarkraft' },
  { key: 'confirmedAt', label: 'Bestätigt am' },
  { key: 'confirmedBy', label: 'Bestätigt durch' },
  { key: 'start', label: 'Beginn' },
  { key: 'end', label: 'Ende' },
  { key: 'feeCents', label: 'Honorar (Cent)' },
  { key: 'signatureId', label: 'Unterschrift-ID' },
  { key: 'signatureStatus', label: 'Unterschrift (Status)' },
];

export interface PendingSignature {
  signatureId: number;
  documentId: number;
  documentTitle: string | null;
  contractId: number | null;
  contractTitle: string | null;
  /** When the document was created (= when the request was prepared). */
  requestedAt: string | null;
}

export interface Page {
  limit: number;
  offset: number;
}

function iso(v: unknown): string | null {
  return toDate(v)?.toISOString() ?? null;
}

/** A calendar date as YYYY-MM-DD, whatever the driver returned (string, Date at UTC midnight, epoch ms). */
function day(v: unknown): string | null {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v === 'string') return v.slice(0, 10);
  const d = toDate(v);
  return d ? d.toISOString().slice(0, 10) : null;
}

function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function str(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

function fullName(first: unknown, last: unknown): string | null {
  const name = [first, last]
    .filter((p) => p !== null && p !== undefined && String(p).trim() !== '')
    .join(' ')
    .trim();
  return name === '' ? null : name;
}

export interface SignatureReportFilter {
  status?: string;
  contactId?: number;
  contractId?: number;
}

/** "Unterschriften zu Dokumenten": every signature with its document, contact and linked object. */
export async function signaturesReport(
  db: Knex,
  crm: CrmMapping,
  filter: SignatureReportFilter,
  page: Page
): Promise<SignatureReportRow[]> {
  const s = crm.signatures;
  const d = crm.documents;
  const k = crm.contacts;
  const q = db({ s: s.table })
    .leftJoin({ d: d.table }, `d.${d.id}`, `s.${s.documentId}`)
    .leftJoin({ k: k.table }, `k.${k.id}`, `s.${s.contactId}`)
    .select({
      signatureId: `s.${s.id}`,
      status: `s.${s.status}`,
      contactId: `s.${s.contactId}`,
      firstName: `k.${k.firstName}`,
      lastName: `k.${k.lastName}`,
      documentId: `s.${s.documentId}`,
      documentTitle: `d.${d.title}`,
      linkedObjectType: `s.${s.linkedObjectType}`,
      linkedObjectId: `s.${s.linkedObjectId}`,
      byAuthenticatedClick: `s.${s.byAuthenticatedClick}`,
      imageDocumentId: `s.${s.image}`,
      userId: `s.${s.userId}`,
      md5Hash: `s.${s.md5Hash}`,
      signedAt: `s.${s.signedAt}`,
    })
    .orderBy(`s.${s.id}`, 'asc')
    .limit(page.limit)
    .offset(page.offset);
  if (filter.status !== undefined) q.where(`s.${s.status}`, filter.status);
  if (filter.contactId !== undefined) q.where(`s.${s.contactId}`, filter.contactId);
  if (filter.contractId !== undefined) {
    q.where(`s.${s.linkedObjectType}`, crm.values.contractObjectType).where(`s.${s.linkedObjectId}`, filter.contractId);
  }
  const rows: Record<string, unknown>[] = await q;
  return rows.map((r) => ({
    signatureId: Number(r.signatureId),
    status: String(r.status ?? ''),
    contactId: Number(r.contactId),
    contactName: fullName(r.firstName, r.lastName),
    documentId: Number(r.documentId),
    documentTitle: str(r.documentTitle),
    linkedObjectType: str(r.linkedObjectType),
    linkedObjectId: num(r.linkedObjectId),
    byAuthenticatedClick:
      r.byAuthenticatedClick === null || r.byAuthenticatedClick === undefined
        ? null
        : toBool(r.byAuthenticatedClick, crm),
    imageDocumentId: num(r.imageDocumentId),
    userId: num(r.userId),
    md5Hash: str(r.md5Hash),
    signedAt: iso(r.signedAt),
  }));
}

export interface ContractReportFilter {
  status?: string;
  contactId?: number;
}

/** "Honorarverträge verwalten": every contract with its freelancer, confirmation and latest signature status. */
export async function contractsReport(
  db: Knex,
  crm: CrmMapping,
  filter: ContractReportFilter,
  page: Page
): Promise<ContractReportRow[]> {
  const c = crm.contracts;
  const k = crm.contacts;
  const s = crm.signatures;
  const q = db({ c: c.table })
    .leftJoin({ k: k.table }, `k.${k.id}`, `c.${c.contactId}`)
    .select({
      contractId: `c.${c.id}`,
      title: `c.${c.title}`,
      contactId: `c.${c.contactId}`,
      firstName: `k.${k.firstName}`,
      lastName: `k.${k.lastName}`,
      status: `c.${c.status}`,
      lastStatusChange: `c.${c.lastStatusChange}`,
      confirmedByFreelancer: `c.${c.confirmedByFreelancer}`,
      confirmedAt: `c.${c.confirmedAt}`,
      confirmedBy: `c.${c.confirmedBy}`,
      start: `c.${c.start}`,
      end: `c.${c.end}`,
      feeCents: `c.${c.feeCents}`,
    })
    .orderBy(`c.${c.id}`, 'asc')
    .limit(page.limit)
    .offset(page.offset);
  if (filter.status !== undefined) q.where(`c.${c.status}`, filter.status);
  if (filter.contactId !== undefined) q.where(`c.${c.contactId}`, filter.contactId);
  const rows: Record<string, unknown>[] = await q;

  // The latest signature per contract in a second query: portable, and bounded by the page size.
  const ids = rows.map((r) => Number(r.contractId));
  const latest = new Map<number, { id: number; status: string }>();
  if (ids.length > 0) {
    const sigs: Record<string, unknown>[] = await db(s.table)
      .select({ id: s.id, status: s.status, contractId: s.linkedObjectId })
      .where(s.linkedObjectType, crm.values.contractObjectType)
      .whereIn(s.linkedObjectId, ids);
    for (const sig of sigs) {
      const contractId = Number(sig.contractId);
      const id = Number(sig.id);
      const prev = latest.get(contractId);
      if (!prev || prev.id < id) latest.set(contractId, { id, status: String(sig.status ?? '') });
    }
  }
  return rows.map((r) => {
    const sig = latest.get(Number(r.contractId));
    return {
      contractId: Number(r.contractId),
      title: String(r.title ?? ''),
      contactId: Number(r.contactId),
      contactName: fullName(r.firstName, r.lastName),
      status: String(r.status ?? ''),
      lastStatusChange: iso(r.lastStatusChange),
      confirmedByFreelancer: toBool(r.confirmedByFreelancer, crm),
      confirmedAt: iso(r.confirmedAt),
      confirmedBy: num(r.confirmedBy),
      start: day(r.start),
      end: day(r.end),
      feeCents: num(r.feeCents),
      signatureId: sig?.id ?? null,
      signatureStatus: sig?.status ?? null,
    };
  });
}

/** "Ausstehende Unterschriften": the contact's signatures in status `ausstehend`, oldest first. */
export async function pendingSignatures(db: Knex, crm: CrmMapping, contactId: number): Promise<PendingSignature[]> {
  const s = crm.signatures;
  const d = crm.documents;
  const c = crm.contracts;
  const rows: Record<string, unknown>[] = await db({ s: s.table })
    .leftJoin({ d: d.table }, `d.${d.id}`, `s.${s.documentId}`)
    .leftJoin({ c: c.table }, function () {
      this.on(`c.${c.id}`, '=', `s.${s.linkedObjectId}`).andOn(
        `s.${s.linkedObjectType}`,
        '=',
        db.raw('?', [crm.values.contractObjectType])
      );
    })
    .select({
      signatureId: `s.${s.id}`,
      documentId: `s.${s.documentId}`,
      documentTitle: `d.${d.title}`,
      requestedAt: `d.${d.createdAt}`,
      contractId: `c.${c.id}`,
      contractTitle: `c.${c.title}`,
    })
    .where(`s.${s.contactId}`, contactId)
    .where(`s.${s.status}`, crm.values.signaturePending)
    .orderBy(`s.${s.id}`, 'asc');
  return rows.map((r) => ({
    signatureId: Number(r.signatureId),
    documentId: Number(r.documentId),
    documentTitle: str(r.documentTitle),
    contractId: num(r.contractId),
    contractTitle: str(r.contractTitle),
    requestedAt: iso(r.requestedAt),
  }));
}

/**
 * CSV injection (OWASP "CSV Injection"): a spreadsheet evaluates a cell that begins with `=`, `+`, `-`, `@`, a tab or a
 * carriage return as a formula (`=HYPERLINK(…)`, `-2+3+cmd|' /C calc'!A0`, `@SUM(…)`). Such a text cell gets a leading
 * apostrophe, which spreadsheets show as text and do not evaluate. Covered too: a line feed, leading blanks before one
 * of those characters (some spreadsheets trim them), and the full-width forms (＝＋－＠) that some locales accept.
 * Numbers and booleans are written as they are: a number is never a formula.
 */
const FORMULA_START = /^[\s\u00a0\u3000]*[=+\-@\uff1d\uff0b\uff0d\uff20]|^[\t\r\n]/;

export function neutraliseCsvCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/** CSV cells as a German spreadsheet user reads them: Ja/Nein, empty for null, text neutralised (see above). */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'Ja' : 'Nein';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return neutraliseCsvCell(String(value));
}

/** A report as CSV (header row = the column labels, CRLF line ends), for every door that offers CSV. */
export function reportCsv<Row>(columns: Column<Row>[], rows: Row[]): string {
  return stringify(
    rows.map((row) => columns.map((c) => csvCell(row[c.key]))),
    { header: true, columns: columns.map((c) => neutraliseCsvCell(c.label)), record_delimiter: 'windows' }
  );
}
