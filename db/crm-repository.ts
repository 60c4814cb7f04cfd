/**
 * Reads of the CRM's own tables, through the configured mapping only. Writes live in the activities that own them,
 * each inside its transaction.
 */
import type { Knex } from 'knex';
import { compiledStatement } from './compiled';
import type { CrmMapping } from './crm-mapping';

export interface CrmContact {
  id: number;
  firstName: string;
  lastName: string;
  email: string | null;
}

export interface CrmContract {
  id: number;
  contactId: number;
  title: string;
  status: string;
  lastStatusChange: Date | null;
  confirmedByFreelancer: boolean;
  confirmedAt: Date | null;
  confirmedBy: number | null;
  start: Date | string | null;
  end: Date | string | null;
  feeCents: number | null;
  description: string | null;
}

/** SQLite returns booleans as 0/1 and dates as numbers or strings; MySQL as Date. Normalise once here. */
export function toDate(v: unknown): Date | null {
  if (v === null || v === undefined || v === '') return null;
  if (v instanceof Date) return v;
  const d = new Date(typeof v === 'number' ? v : String(v));
  return Number.isNaN(d.getTime()) ? null : d;
}

export function toBool(v: unknown, mapping: CrmMapping): boolean {
  return v === true || v === 1 || v === '1' || (v !== null && v !== undefined && v === mapping.values.yes);
}

export async function readContact(
  db: Knex | Knex.Transaction,
  crm: CrmMapping,
  id: number
): Promise<CrmContact | undefined> {
  const c = crm.contacts;
  const row = await db(c.table).where(c.id, id).first();
  if (!row) return undefined;
  return contactFromRow(row, crm);
}

function contactFromRow(row: Record<string, unknown>, crm: CrmMapping): CrmContact {
  const c = crm.contacts;
  return {
    id: Number(row[c.id]),
    firstName: String(row[c.firstName] ?? ''),
    lastName: String(row[c.lastName] ?? ''),
    email: row[c.email] == null ? null : String(row[c.email]),
  };
}

export async function readContract(
  db: Knex | Knex.Transaction,
  crm: CrmMapping,
  id: number
): Promise<CrmContract | undefined> {
  const c = crm.contracts;
  const row = await db(c.table).where(c.id, id).first();
  if (!row) return undefined;
  return contractFromRow(row, crm);
}

/** Prefix of the contact's columns in `readContractWithContact`'s one row (no CRM column is named like this). */
const CONTACT_ALIAS = 'signflow_contact__';

/**
 * The contract and its contact in one statement (a left join), what `readContract` then `readContact` give in two:
 * the contract activities and the mails read both for every step. `contact` is undefined when the contract names a
 * contact that does not exist.
 */
export async function readContractWithContact(
  db: Knex | Knex.Transaction,
  crm: CrmMapping,
  id: number,
  also?: AlsoRead,
  lock?: 'forUpdate'
): Promise<{ contract: CrmContract; contact: CrmContact | undefined; also: Record<string, unknown> } | undefined> {
  const k = crm.contracts;
  const c = crm.contacts;
  const contactColumns = [c.id, c.firstName, c.lastName, c.email];
  if (lock) {
    if (also) throw new Error('readContractWithContact: a locking read takes no AlsoRead');
    return lockedContractWithContact(db, crm, id);
  }
  // Compiled once per mapping and variant (db/compiled.ts): three of every contract's statements are this one.
  const row = await compiledStatement<Record<string, unknown> | undefined>(
    db,
    `contractWithContact\u0000${shapeKeyOf(crm)}\u0000${also?.key ?? ''}`,
    (contractId, ...alsoValues) => {
      const query = db(`${k.table} as k`).leftJoin(`${c.table} as c`, `c.${c.id}`, `k.${k.contactId}`);
      also?.join(query, alsoValues);
      return query.where(`k.${k.id}`, contractId).first('k.*', {
        ...Object.fromEntries(contactColumns.map((col) => [`${CONTACT_ALIAS}${col}`, `c.${col}`])),
        ...Object.fromEntries(Object.entries(also?.columns ?? {}).map(([name, col]) => [`${ALSO_ALIAS}${name}`, col])),
      });
    },
    [id, ...(also?.values ?? [])]
  );
  if (!row) return undefined;
  const contactRow = Object.fromEntries(contactColumns.map((col) => [col, row[`${CONTACT_ALIAS}${col}`]]));
  return {
    contract: contractFromRow(row, crm),
    contact: contactRow[c.id] == null ? undefined : contactFromRow(contactRow, crm),
    also: Object.fromEntries(Object.keys(also?.columns ?? {}).map((name) => [name, row[`${ALSO_ALIAS}${name}`]])),
  };
}

/**
 * `readContractWithContact` as a locking read of the contract row (MySQL/MariaDB, `SELECT … FOR UPDATE`): the lock and
 * the read in one statement, where `lockRow` and the read were two. The contact's columns come from scalar subqueries,
 * not a join: InnoDB locks every row a `FOR UPDATE` reads in its own query block (a join would lock the contact's row
 * too, and MariaDB has no `FOR UPDATE OF`), while a subquery without a locking clause of its own reads without a lock.
 * The contract row is read as committed when the lock was granted, the contact as a plain read right after: what
 * `lockRow` followed by the plain read saw.
 */
async function lockedContractWithContact(
  db: Knex | Knex.Transaction,
  crm: CrmMapping,
  id: number
): Promise<{ contract: CrmContract; contact: CrmContact | undefined; also: Record<string, unknown> } | undefined> {
  const k = crm.contracts;
  const c = crm.contacts;
  const contactColumns = [c.id, c.firstName, c.lastName, c.email];
  const row = await compiledStatement<Record<string, unknown> | undefined>(
    db,
    `contractWithContactForUpdate\u0000${shapeKeyOf(crm)}`,
    (contractId) =>
      db(`${k.table} as k`)
        .where(`k.${k.id}`, contractId)
        .first(
          'k.*',
          ...contactColumns.map((col) =>
            db(`${c.table} as c`)
              .where(`c.${c.id}`, db.ref(`k.${k.contactId}`))
              .select(`c.${col}`)
              .as(`${CONTACT_ALIAS}${col}`)
          )
        )
        .forUpdate(),
    [id]
  );
  if (!row) return undefined;
  const contactRow = Object.fromEntries(contactColumns.map((col) => [col, row[`${CONTACT_ALIAS}${col}`]]));
  return {
    contract: contractFromRow(row, crm),
    contact: contactRow[c.id] == null ? undefined : contactFromRow(contactRow, crm),
    also: {},
  };
}

/** Prefix of the columns an `AlsoRead` adds to `readContractWithContact`'s row. */
const ALSO_ALIAS = 'signflow_also__';

/**
 * More of what a caller needs in the same statement as the contract: left joins on the query (its tables aliased
 * apart from `k` and `c`) and the columns to return under the given names (in `also`). `join` takes its values
 * (ids, keys) from `values`, never from elsewhere, and `key` names everything else it uses (tables, columns): the
 * statement is compiled once per key (db/compiled.ts). No value may be null (it is compared).
 */
export interface AlsoRead {
  key: string;
  values: Knex.Value[];
  join(query: Knex.QueryBuilder, values: Knex.Value[]): void;
  columns: Record<string, string>;
}

/** The mapping's table and column names as one string: what a compiled statement's text depends on. */
const mappingKeys = new WeakMap<CrmMapping, string>();
export function shapeKeyOf(crm: CrmMapping): string {
  let key = mappingKeys.get(crm);
  if (key === undefined) {
    key = JSON.stringify([crm.contracts, crm.contacts, crm.signatures, crm.documents]);
    mappingKeys.set(crm, key);
  }
  return key;
}

function contractFromRow(row: Record<string, unknown>, crm: CrmMapping): CrmContract {
  const c = crm.contracts;
  return {
    id: Number(row[c.id]),
    contactId: Number(row[c.contactId]),
    title: String(row[c.title] ?? ''),
    status: String(row[c.status] ?? ''),
    lastStatusChange: toDate(row[c.lastStatusChange]),
    confirmedByFreelancer: toBool(row[c.confirmedByFreelancer], crm),
    confirmedAt: toDate(row[c.confirmedAt]),
    confirmedBy: row[c.confirmedBy] == null ? null : Number(row[c.confirmedBy]),
    start: (row[c.start] ?? null) as Date | string | null,
    end: (row[c.end] ?? null) as Date | string | null,
    feeCents: row[c.feeCents] == null ? null : Number(row[c.feeCents]),
    description: row[c.description] == null ? null : String(row[c.description]),
  };
}

export interface CrmSignature {
  id: number;
  status: string;
  contactId: number;
  documentId: number;
  linkedObjectType: string | null;
  linkedObjectId: number | null;
  byAuthenticatedClick: boolean | null;
  /** Document id of the drawn image. */
  imageDocumentId: number | null;
  userId: number | null;
  md5Hash: string | null;
  signedAt: Date | null;
}

export interface CrmDocument {
  id: number;
  title: string;
  templateKind: string;
  mimeType: string;
  content: Buffer | null;
  md5: string | null;
  sha256: string | null;
  linkedObjectType: string | null;
  linkedObjectId: number | null;
  createdAt: Date | null;
}

function toIntOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

export async function readSignature(
  db: Knex | Knex.Transaction,
  crm: CrmMapping,
  id: number
): Promise<CrmSignature | undefined> {
  const s = crm.signatures;
  const row = await db(s.table).where(s.id, id).first();
  if (!row) return undefined;
  return signatureFromRow(row, crm);
}

/** Prefix of the document's content column in `readSignatureWithDocumentContent`'s one row. */
const DOCUMENT_CONTENT_ALIAS = 'signflow_document__content';

/**
 * The signature and the content of the document it was made for, in one statement (a left join), what
 * `readSignature` then `readDocument` give in two: recording a signature hashes the document as stored. `content` is
 * null when the document is gone or empty.
 */
export async function readSignatureWithDocumentContent(
  db: Knex | Knex.Transaction,
  crm: CrmMapping,
  id: number,
  lock?: 'forUpdate'
): Promise<{ signature: CrmSignature; content: Buffer | null } | undefined> {
  const s = crm.signatures;
  const d = crm.documents;
  // Compiled once per mapping and variant (db/compiled.ts). Locking (MySQL/MariaDB): the signature row only, the
  // content from a scalar subquery that reads without a lock (see `lockedContractWithContact`).
  const row = await compiledStatement<Record<string, unknown> | undefined>(
    db,
    `signatureWithDocumentContent\u0000${shapeKeyOf(crm)}\u0000${lock ?? ''}`,
    (signatureId) =>
      lock
        ? db(`${s.table} as s`)
            .where(`s.${s.id}`, signatureId)
            .first(
              's.*',
              db(`${d.table} as d`)
                .where(`d.${d.id}`, db.ref(`s.${s.documentId}`))
                .select(`d.${d.content}`)
                .as(DOCUMENT_CONTENT_ALIAS)
            )
            .forUpdate()
        : db(`${s.table} as s`)
            .leftJoin(`${d.table} as d`, `d.${d.id}`, `s.${s.documentId}`)
            .where(`s.${s.id}`, signatureId)
            .first('s.*', { [DOCUMENT_CONTENT_ALIAS]: `d.${d.content}` }),
    [id]
  );
  if (!row) return undefined;
  return { signature: signatureFromRow(row, crm), content: bufferOrNull(row[DOCUMENT_CONTENT_ALIAS]) };
}

/** A BLOB column's value as a Buffer (the drivers may hand back a Uint8Array), null for SQL NULL. */
export function bufferOrNull(v: unknown): Buffer | null {
  return v == null ? null : Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array);
}

function signatureFromRow(row: Record<string, unknown>, crm: CrmMapping): CrmSignature {
  const s = crm.signatures;
  return {
    id: Number(row[s.id]),
    status: String(row[s.status] ?? ''),
    contactId: Number(row[s.contactId]),
    documentId: Number(row[s.documentId]),
    linkedObjectType: row[s.linkedObjectType] == null ? null : String(row[s.linkedObjectType]),
    linkedObjectId: toIntOrNull(row[s.linkedObjectId]),
    byAuthenticatedClick: row[s.byAuthenticatedClick] == null ? null : toBool(row[s.byAuthenticatedClick], crm),
    imageDocumentId: toIntOrNull(row[s.image]),
    userId: toIntOrNull(row[s.userId]),
    md5Hash: row[s.md5Hash] == null ? null : String(row[s.md5Hash]),
    signedAt: toDate(row[s.signedAt]),
  };
}

export async function readDocument(
  db: Knex | Knex.Transaction,
  crm: CrmMapping,
  id: number
): Promise<CrmDocument | undefined> {
  const row = await db(crm.documents.table).where(crm.documents.id, id).first();
  if (!row) return undefined;
  return documentFromRow(row, crm);
}

function documentFromRow(row: Record<string, unknown>, crm: CrmMapping): CrmDocument {
  const d = crm.documents;
  return {
    id: Number(row[d.id]),
    title: String(row[d.title] ?? ''),
    templateKind: String(row[d.templateKind] ?? ''),
    mimeType: String(row[d.mimeType] ?? ''),
    content: bufferOrNull(row[d.content]),
    md5: row[d.md5] == null ? null : String(row[d.md5]),
    sha256: row[d.sha256] == null ? null : String(row[d.sha256]),
    linkedObjectType: row[d.linkedObjectType] == null ? null : String(row[d.linkedObjectType]),
    linkedObjectId: toIntOrNull(row[d.linkedObjectId]),
    createdAt: toDate(row[d.createdAt]),
  };
}
