/**
 * The chaos run's verdict, counted from the real systems (never from the workflows' own answers): per contract the
 * mails in the inbox by kind, the signature rows and the valid ones, the QES documents, the audit rows of the request,
 * the signature and the certificate, and the workflow's state as the Temporal server reports it.
 */
import type { Client } from '@temporalio/client';
import type { Knex } from 'knex';
import { AUDIT_TABLE } from '../activities/contract/plugin-tables';
import type { DevInbox } from '../mail/dev-inbox';
import type { SignflowConfig } from '../temporal.config';
import { contractWorkflowId } from '../workflows/definitions';

export interface ContractCount {
  contractId: number;
  invitation: number;
  confirmation: number;
  otherMails: number;
  signatureRows: number;
  validSignatures: number;
  qesDocuments: number;
  auditPrepared: number;
  auditSigned: number;
  workflow: string;
}

export interface ChaosCount {
  contracts: ContractCount[];
  ok: number;
  /** Contracts missing something: a mail, a signature, a QES document, an audit row. */
  lost: number[];
  /** Contracts with something twice. */
  duplicated: number[];
  /** Contracts whose workflow has not completed. */
  stuck: number[];
}

/** Each metric and the number every completed contract must have exactly. */
export const EXPECTED: Array<[keyof ContractCount, number, string]> = [
  ['invitation', 1, 'invitation mails in the inbox'],
  ['confirmation', 1, 'confirmation mails in the inbox'],
  ['otherMails', 0, 'other mails (reminders) in the inbox'],
  ['signatureRows', 1, 'Unterschrift rows'],
  ['validSignatures', 1, 'of them gültig'],
  ['qesDocuments', 1, 'QES documents (Dokument, Signatur)'],
  ['auditPrepared', 1, 'audit: signature request prepared'],
  ['auditSigned', 1, 'audit: signature recorded or confirmed'],
];

export async function countOutcome(o: {
  db: Knex;
  config: SignflowConfig;
  client: Client;
  inbox: DevInbox | undefined;
  contractIds: number[];
}): Promise<ChaosCount> {
  const crm = o.config.crm;
  const mails = new Map<string, number>();
  for (const m of o.inbox?.messages() ?? []) {
    const key = m.headers['x-signflow-mail-key'] ?? '';
    mails.set(key, (mails.get(key) ?? 0) + 1);
  }
  const grouped = async (q: Knex.QueryBuilder, idColumn: string): Promise<Map<number, number>> => {
    const rows = (await q.select({ id: idColumn }).count({ n: '*' }).groupBy(idColumn)) as Array<{
      id: unknown;
      n: unknown;
    }>;
    return new Map(rows.map((r) => [Number(r.id), Number(r.n)]));
  };
  const s = crm.signatures;
  const d = crm.documents;
  const ids = o.contractIds;
  const signatureRows = await grouped(
    o.db(s.table).whereIn(s.linkedObjectId, ids).andWhere(s.linkedObjectType, crm.values.contractObjectType),
    s.linkedObjectId
  );
  const validSignatures = await grouped(
    o
      .db(s.table)
      .whereIn(s.linkedObjectId, ids)
      .andWhere(s.linkedObjectType, crm.values.contractObjectType)
      .andWhere(s.status, crm.values.signatureValid),
    s.linkedObjectId
  );
  const qes = await grouped(
    o
      .db(d.table)
      .whereIn(d.linkedObjectId, ids)
      .andWhere(d.linkedObjectType, crm.values.contractObjectType)
      .andWhere(d.templateKind, crm.values.qesTemplateKind),
    d.linkedObjectId
  );
  const prepared = await grouped(
    o.db(AUDIT_TABLE).whereIn('contract_id', ids).andWhere('event', 'signature-request-prepared'),
    'contract_id'
  );
  const signed = await grouped(
    o
      .db(AUDIT_TABLE)
      .whereIn('contract_id', ids)
      .whereIn('event', ['signature-recorded', 'signature-confirmed-manually']),
    'contract_id'
  );

  const contracts: ContractCount[] = [];
  for (const id of ids) {
    const key = (kind: string) => mails.get(`${contractWorkflowId(id)}:${kind}`) ?? 0;
    const all = [...mails.entries()].filter(([k]) => k.startsWith(`${contractWorkflowId(id)}:`));
    const workflow = await o.client.workflow
      .getHandle(contractWorkflowId(id))
      .describe()
      .then(
        (x) => x.status.name,
        () => 'NONE'
      );
    contracts.push({
      contractId: id,
      invitation: key('invitation'),
      confirmation: key('confirmation'),
      otherMails: all.reduce((n, [, v]) => n + v, 0) - key('invitation') - key('confirmation'),
      signatureRows: signatureRows.get(id) ?? 0,
      validSignatures: validSignatures.get(id) ?? 0,
      qesDocuments: qes.get(id) ?? 0,
      auditPrepared: prepared.get(id) ?? 0,
      auditSigned: signed.get(id) ?? 0,
      workflow,
    });
  }
  const lost = contracts
    .filter((c) => EXPECTED.some(([k, n]) => n > 0 && (c[k] as number) < n))
    .map((c) => c.contractId);
  const duplicated = contracts.filter((c) => EXPECTED.some(([k, n]) => (c[k] as number) > n)).map((c) => c.contractId);
  const stuck = contracts.filter((c) => c.workflow !== 'COMPLETED').map((c) => c.contractId);
  const bad = new Set([...lost, ...duplicated, ...stuck]);
  return { contracts, ok: contracts.length - bad.size, lost, duplicated, stuck };
}

/** The table the run prints: per metric, how many contracts have exactly, fewer and more than expected. */
export function chaosTable(count: ChaosCount): string {
  const n = count.contracts.length;
  const rows: string[][] = [['per contract', 'expected', 'exactly', 'fewer (lost)', 'more (doubled)', 'total']];
  for (const [k, expected, label] of EXPECTED) {
    const values = count.contracts.map((c) => c[k] as number);
    rows.push([
      label,
      String(expected),
      String(values.filter((v) => v === expected).length),
      String(values.filter((v) => v < expected).length),
      String(values.filter((v) => v > expected).length),
      String(values.reduce((a, b) => a + b, 0)),
    ]);
  }
  const completed = count.contracts.filter((c) => c.workflow === 'COMPLETED').length;
  rows.push(['workflow COMPLETED', '1', String(completed), String(n - completed), '0', String(completed)]);
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [
    line(rows[0] as string[]),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ].join('\n');
}
