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
import { lostMailAttempts } from './lost-mail-attempts';

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
  /**
   * Mails of this contract in the inbox again, with the same Message-ID, as the retry of an attempt whose worker was
   * killed (see lost-mail-attempts.ts); not counted in `invitation` / `confirmation` / `otherMails`.
   */
  redelivered: number;
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
  /**
   * For tests: runs after the workflow states are read and before the systems are counted. A contract that completes
   * in between must count as stuck (its workflow was still running when looked at), never as lost.
   */
  betweenReads?: () => Promise<void>;
}): Promise<ChaosCount> {
  const crm = o.config.crm;
  // The workflows first, the systems after: a workflow seen COMPLETED has finished every activity (mails in the inbox,
  // rows committed), so whatever it did is in the counts read after. The other order counted a contract whose
  // confirmation went out between the two reads as COMPLETED with no confirmation mail: "lost" when nothing was.
  const workflows = new Map<number, string>();
  for (const id of o.contractIds) {
    workflows.set(
      id,
      await o.client.workflow
        .getHandle(contractWorkflowId(id))
        .describe()
        .then(
          (x) => x.status.name,
          () => 'NONE'
        )
    );
  }
  await o.betweenReads?.();
  /** Per mail key: how often it is in the inbox, and under which Message-IDs. */
  const delivered = new Map<string, { n: number; messageIds: Set<string> }>();
  for (const m of o.inbox?.messages() ?? []) {
    const key = String(m.headers['x-signflow-mail-key'] ?? '');
    const d = delivered.get(key) ?? { n: 0, messageIds: new Set<string>() };
    d.n += 1;
    d.messageIds.add(m.messageId);
    delivered.set(key, d);
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
    const handle = o.client.workflow.getHandle(contractWorkflowId(id));
    const workflow = workflows.get(id) ?? 'NONE';
    const own = [...delivered.entries()].filter(([k]) => k.startsWith(`${contractWorkflowId(id)}:`));
    // Only where a key is in the inbox more than once does the history decide whether a lost attempt explains it.
    const lostAttempts = own.some(([, d]) => d.n > 1)
      ? await handle.fetchHistory().then(
          (h) => lostMailAttempts(h.events ?? []),
          () => new Map<string, number>()
        )
      : new Map<string, number>();
    /** Per key: the copies that count (a redelivery of the same message after a lost attempt does not). */
    const counted = new Map<string, number>();
    let redelivered = 0;
    for (const [k, d] of own) {
      const again = d.messageIds.size === 1 ? Math.min(d.n - 1, lostAttempts.get(k) ?? 0) : 0;
      counted.set(k, d.n - again);
      redelivered += again;
    }
    const mails = (kind: string) => counted.get(`${contractWorkflowId(id)}:${kind}`) ?? 0;
    const all = [...counted.values()].reduce((a, b) => a + b, 0);
    contracts.push({
      contractId: id,
      invitation: mails('invitation'),
      confirmation: mails('confirmation'),
      otherMails: all - mails('invitation') - mails('confirmation'),
      signatureRows: signatureRows.get(id) ?? 0,
      validSignatures: validSignatures.get(id) ?? 0,
      qesDocuments: qes.get(id) ?? 0,
      auditPrepared: prepared.get(id) ?? 0,
      auditSigned: signed.get(id) ?? 0,
      workflow,
      redelivered,
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
  const again = count.contracts.filter((c) => c.redelivered > 0);
  return [
    line(rows[0] as string[]),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
    '',
    `Delivered again by the retry of a lost attempt (worker killed between the SMTP server's acceptance and the row; ` +
      `same Message-ID, not counted above): ${again.reduce((n, c) => n + c.redelivered, 0)} mail(s)` +
      (again.length ? `, contracts ${again.map((c) => c.contractId).join(', ')}` : ''),
  ].join('\n');
}
