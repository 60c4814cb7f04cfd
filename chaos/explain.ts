/**
 * What a failed chaos run says about each contract it counted lost, doubled or stuck, so that the failure explains
 * itself: the contract's mail rows (key and status), its audit trail, its recorded QES signatures, its workflow's state
 * and close time (against the moment of the count), and where its full history was written (`<dir>/bad-contracts/`,
 * JSON as `temporal workflow show --output json` writes it).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { Knex } from 'knex';
import { AUDIT_TABLE } from '../activities/contract/plugin-tables';
import { contractWorkflowId } from '../workflows/definitions';

const MAILS_TABLE = 'signflow_mails';
const QES_TABLE = 'signflow_qes';

export async function explainContracts(o: {
  db: Knex;
  client: Client;
  /** The run's folder; the histories go to `<dir>/bad-contracts/<workflow id>.json`. */
  dir: string;
  contractIds: number[];
  /** When the count that found them was taken. */
  countedAt: Date;
}): Promise<string[]> {
  const out: string[] = [];
  const folder = path.join(o.dir, 'bad-contracts');
  for (const id of o.contractIds) {
    const workflowId = contractWorkflowId(id);
    const lines = [`contract ${id} (${workflowId}), counted at ${o.countedAt.toISOString()}:`];
    // Each part on its own: a database or server that is gone must not hide what the others say.
    const part = async (label: string, read: () => Promise<string>) => {
      lines.push(
        `  ${label}: ${await read().catch((err: unknown) => `(not read: ${err instanceof Error ? err.message : String(err)})`)}`
      );
    };
    const handle = o.client.workflow.getHandle(workflowId);
    await part('workflow', async () => {
      const d = await handle.describe();
      return `${d.status.name}, started ${d.startTime.toISOString()}, closed ${d.closeTime?.toISOString() ?? '-'}`;
    });
    await part('mail rows', async () => {
      const rows = (await o.db(MAILS_TABLE).where('contract_id', id).orderBy('id')) as Array<Record<string, unknown>>;
      return rows.map((r) => `${String(r.mail_key)}=${String(r.status)}`).join(', ') || 'none';
    });
    await part('audit', async () => {
      const rows = (await o.db(AUDIT_TABLE).where('contract_id', id).orderBy('id')) as Array<Record<string, unknown>>;
      return rows.map((r) => String(r.event)).join(', ') || 'none';
    });
    await part('QES recorded', async () => {
      const rows = (await o.db(QES_TABLE).where('contract_id', id).pluck('request_id')) as unknown[];
      return rows.map(String).join(', ') || 'none';
    });
    await part('history', async () => {
      const history = await handle.fetchHistory();
      fs.mkdirSync(folder, { recursive: true });
      const file = path.join(folder, `${workflowId}.json`);
      fs.writeFileSync(file, historyToJSON(history));
      return `${history.events?.length ?? 0} events in ${file}`;
    });
    out.push(...lines);
  }
  return out;
}
