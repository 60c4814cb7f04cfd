/**
 * The CRM mapping checked against the database itself: every mapped table and column exists, and the columns signflow
 * writes can hold what it writes (document bytes, date and time, the yes/no values, the status labels, hashes). The
 * worker and the API refuse to start on any problem, and `signflow doctor` lists them; a problem found only by the
 * first contract would leave it half-prepared.
 *
 * On MySQL/MariaDB the types come from `information_schema.COLUMNS`; SQLite stores any value in any column, so there
 * only presence is checked.
 */
import type { Knex } from 'knex';
import { ConfigError } from '../temporal.config';
import { dialectOfDb } from './connection';
import type { CrmMapping } from './crm-mapping';

export interface MappingProblem {
  /** The mapping key, e.g. `contracts.status` (what to change in SIGNFLOW_CRM_MAPPING, if the CRM is right). */
  key: string;
  table: string;
  /** Unset when the whole table is missing. */
  column?: string;
  /** One sentence: what is wrong and what to do. */
  message: string;
}

type Section = 'contacts' | 'contracts' | 'documents' | 'signatures';

/** What signflow does with a column, which decides the types that can hold it. */
type Use =
  | { kind: 'read' }
  | { kind: 'id' }
  | { kind: 'datetime' }
  | { kind: 'bytes' }
  | { kind: 'flag' }
  | { kind: 'text'; values: () => string[]; minLength?: number };

interface ColumnInfo {
  dataType: string;
  columnType: string;
  maxLength: number | null;
}

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'bit']);
const STRING_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'set']);
const TIME_TYPES = new Set(['datetime', 'timestamp']);
/** A contract PDF/A with embedded fonts is well above 64 KiB: BLOB and TINYBLOB are too small. */
const LARGE_BLOB_TYPES = new Set(['mediumblob', 'longblob']);

function usesOf(crm: CrmMapping): Record<Section, Record<string, Use>> {
  const v = crm.values;
  const read: Use = { kind: 'read' };
  const id: Use = { kind: 'id' };
  const datetime: Use = { kind: 'datetime' };
  const flag: Use = { kind: 'flag' };
  return {
    contacts: { id, firstName: read, lastName: read, email: read },
    contracts: {
      id,
      contactId: read,
      title: read,
      status: { kind: 'text', values: () => [...v.contractSendableStatuses, v.contractSent, v.contractInProgress] },
      lastStatusChange: datetime,
      confirmedByFreelancer: flag,
      confirmedAt: datetime,
      confirmedBy: id,
      start: read,
      end: read,
      feeCents: read,
      description: read,
      // Optional: checked only when mapped (a hosted CRM serving several practices, a practice with several eHBAs).
      ...(crm.contracts.mandant ? { mandant: read } : {}),
      ...(crm.contracts.countersignIccsn ? { countersignIccsn: read } : {}),
    },
    documents: {
      id,
      // Titles such as "Prüfprotokoll zu Honorarvertrag 123" and the contract's own title.
      title: { kind: 'text', values: () => [], minLength: 100 },
      templateKind: {
        kind: 'text',
        values: () => [v.contractTemplateKind, v.signatureImageTemplateKind, v.qesTemplateKind],
      },
      mimeType: { kind: 'text', values: () => ['application/pdf', 'application/pkcs7-signature', 'image/png'] },
      content: { kind: 'bytes' },
      md5: { kind: 'text', values: () => [], minLength: 32 },
      sha256: { kind: 'text', values: () => [], minLength: 64 },
      linkedObjectType: { kind: 'text', values: () => [v.contractObjectType] },
      linkedObjectId: id,
      createdAt: datetime,
    },
    signatures: {
      id,
      status: {
        kind: 'text',
        values: () => [v.signaturePending, v.signatureValid, v.signatureWithdrawn, v.signatureExpired],
      },
      contactId: id,
      documentId: id,
      linkedObjectType: { kind: 'text', values: () => [v.contractObjectType] },
      linkedObjectId: id,
      byAuthenticatedClick: flag,
      image: id,
      userId: id,
      md5Hash: { kind: 'text', values: () => [], minLength: 32 },
      signedAt: datetime,
    },
  };
}

/** ENUM('a','b') → ['a', 'b']. */
function enumValues(columnType: string): string[] | undefined {
  const m = /^(?:enum|set)\((.*)\)$/i.exec(columnType);
  if (!m?.[1]) return undefined;
  return [...m[1].matchAll(/'((?:[^']|'')*)'/g)].map((x) => (x[1] ?? '').replace(/''/g, "'"));
}

/** Why a column of this type cannot hold what signflow writes into it, or undefined when it can. */
function typeProblem(use: Use, info: ColumnInfo, crm: CrmMapping): string | undefined {
  const t = info.dataType.toLowerCase();
  const type = info.columnType;
  switch (use.kind) {
    case 'read':
      return undefined;
    case 'id':
      return INTEGER_TYPES.has(t) || STRING_TYPES.has(t)
        ? undefined
        : `is ${type}, but signflow writes CRM ids (whole numbers) into it; use INT`;
    case 'datetime':
      return TIME_TYPES.has(t)
        ? undefined
        : `is ${type}, but signflow writes a date and time (UTC) into it; use DATETIME (or DATETIME(3))`;
    case 'bytes':
      return LARGE_BLOB_TYPES.has(t)
        ? undefined
        : `is ${type}, but signflow stores whole PDF documents in it (far above 64 KiB); use LONGBLOB (or MEDIUMBLOB)`;
    case 'flag': {
      const samples = [crm.values.yes, crm.values.no];
      if (samples.every((s) => typeof s !== 'string')) {
        return INTEGER_TYPES.has(t)
          ? undefined
          : `is ${type}, but signflow writes the yes/no values ${samples.map(String).join('/')} into it; use TINYINT(1) (BOOLEAN) or set values.yes/values.no to the CRM's labels`;
      }
      return textProblem(
        samples.map(String),
        0,
        info,
        `the yes/no values ${samples.map((s) => JSON.stringify(s)).join('/')}`
      );
    }
    case 'text':
      return textProblem(use.values(), use.minLength ?? 0, info, undefined);
  }
}

function textProblem(values: string[], minLength: number, info: ColumnInfo, what: string | undefined) {
  const t = info.dataType.toLowerCase();
  const listed = what ?? (values.length ? `the values ${values.map((s) => JSON.stringify(s)).join(', ')}` : undefined);
  if (t === 'enum' || t === 'set') {
    const allowed = enumValues(info.columnType) ?? [];
    const missing = values.filter((x) => !allowed.includes(x));
    return missing.length
      ? `is ${info.columnType}, which lacks ${missing.map((s) => JSON.stringify(s)).join(', ')} that signflow writes; add them, or map values.* to the CRM's labels`
      : undefined;
  }
  if (!STRING_TYPES.has(t)) {
    if (INTEGER_TYPES.has(t) && values.length > 0 && values.every((x) => /^-?\d+$/.test(x))) return undefined;
    return `is ${info.columnType}, but signflow writes text into it${listed ? ` (${listed})` : ''}; use VARCHAR`;
  }
  const longest = Math.max(minLength, ...values.map((x) => [...x].length));
  if (info.maxLength !== null && info.maxLength < longest) {
    return `is ${info.columnType}, too short for ${listed ?? `${longest} characters`} (needs ${longest} characters); widen it`;
  }
  return undefined;
}

async function mysqlColumns(db: Knex, table: string): Promise<Map<string, ColumnInfo> | undefined> {
  const rows = (await db('information_schema.COLUMNS')
    .select({
      name: 'COLUMN_NAME',
      dataType: 'DATA_TYPE',
      columnType: 'COLUMN_TYPE',
      maxLength: 'CHARACTER_MAXIMUM_LENGTH',
    })
    .where('TABLE_SCHEMA', db.raw('DATABASE()'))
    .andWhere('TABLE_NAME', table)) as { name: string; dataType: string; columnType: string; maxLength: unknown }[];
  if (rows.length === 0) return undefined;
  return new Map(
    rows.map((r) => [
      r.name.toLowerCase(),
      {
        dataType: String(r.dataType),
        columnType: String(r.columnType),
        maxLength: r.maxLength == null ? null : Number(r.maxLength),
      },
    ])
  );
}

async function sqliteColumns(db: Knex, table: string): Promise<Map<string, ColumnInfo> | undefined> {
  const rows = (await db.raw('SELECT name, type FROM pragma_table_info(?)', [table])) as {
    name: string;
    type: string;
  }[];
  if (rows.length === 0) return undefined;
  // SQLite keeps any value in any column: presence is what matters.
  return new Map(rows.map((r) => [r.name.toLowerCase(), { dataType: '', columnType: r.type, maxLength: null }]));
}

/** Every problem of the mapping against this database; empty when signflow can work with it. */
export async function checkMappingAgainstDatabase(db: Knex, crm: CrmMapping): Promise<MappingProblem[]> {
  const mysql = dialectOfDb(db) === 'mysql';
  const problems: MappingProblem[] = [];
  const uses = usesOf(crm);
  for (const section of Object.keys(uses) as Section[]) {
    const names = crm[section] as Record<string, string>;
    const table = names.table as string;
    const columns = mysql ? await mysqlColumns(db, table) : await sqliteColumns(db, table);
    if (!columns) {
      problems.push({
        key: `${section}.table`,
        table,
        message: `table "${table}" (${section}.table) does not exist in the database; create it or fix ${section}.table in SIGNFLOW_CRM_MAPPING`,
      });
      continue;
    }
    for (const [key, use] of Object.entries(uses[section])) {
      const column = names[key] as string;
      const info = columns.get(column.toLowerCase());
      if (!info) {
        problems.push({
          key: `${section}.${key}`,
          table,
          column,
          message: `column "${table}.${column}" (${section}.${key}) does not exist; add it or fix ${section}.${key} in SIGNFLOW_CRM_MAPPING`,
        });
        continue;
      }
      const problem = mysql ? typeProblem(use, info, crm) : undefined;
      if (problem) {
        problems.push({
          key: `${section}.${key}`,
          table,
          column,
          message: `column "${table}.${column}" (${section}.${key}) ${problem}`,
        });
      }
    }
  }
  return problems;
}

/** The error a process start raises for mapping problems: every problem on its own line. */
export class CrmMappingMismatchError extends ConfigError {
  constructor(readonly problems: MappingProblem[]) {
    super(
      `the CRM database does not match the mapping (SIGNFLOW_CRM_MAPPING), so signflow does not start:\n` +
        problems.map((p) => `  - ${p.message}`).join('\n')
    );
  }
}

/** Throws `CrmMappingMismatchError` naming every missing table or column and every type that cannot hold its data. */
export async function assertMappingMatchesDatabase(db: Knex, crm: CrmMapping): Promise<void> {
  const problems = await checkMappingAgainstDatabase(db, crm);
  if (problems.length > 0) throw new CrmMappingMismatchError(problems);
}
