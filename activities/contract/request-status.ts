/**
 * Whether a signature request is still open, read from where it is true: the status of the Unterschrift its
 * `signflow_requests` row names. One rule for everything that asks: the mail activity (an invitation or reminder is
 * only sent while the request is open) and `signflow bulk` (a contract whose request ended before its invitation went
 * out will not get one, so its progress does not wait for it).
 */
import type { Knex } from 'knex';
import type { CrmMapping } from '../../db/crm-mapping';
import type { AlsoRead } from '../../db/crm-repository';
import { REQUESTS_TABLE } from './plugin-tables';

/** The Unterschrift's status when the request is over (signed, confirmed, withdrawn, expired), else undefined. */
export function closedStatus(crm: CrmMapping, status: unknown): string | undefined {
  const value = String(status ?? '');
  return value === crm.values.signaturePending ? undefined : value;
}

/** The request's signature status in one read (the request row names the signature); undefined without a request. */
export async function requestSignatureStatus(
  db: Knex | Knex.Transaction,
  crm: CrmMapping,
  workflowId: string
): Promise<unknown> {
  const s = crm.signatures;
  const row = (await db(`${REQUESTS_TABLE} as r`)
    .join(`${s.table} as s`, `s.${s.id}`, 'r.signature_id')
    .where('r.workflow_id', workflowId)
    .first({ status: `s.${s.status}` })) as { status: unknown } | undefined;
  return row ? row.status : undefined;
}

/**
 * `requestSignatureStatus` as part of another read of the contract (`readContractWithContact`'s `also`): the request
 * row of `workflowId` and its Unterschrift, left-joined. `signatureId` is null when there is no request (or no
 * Unterschrift) for it, which `requestSignatureStatus` answers with undefined.
 */
export function requestSignatureStatusAlso(crm: CrmMapping, workflowId: string): AlsoRead {
  const s = crm.signatures;
  return {
    key: 'requestSignatureStatus',
    values: [workflowId],
    join: (query, [workflow]) => {
      query
        .leftJoin(`${REQUESTS_TABLE} as sf_r`, (on) => {
          on.onVal('sf_r.workflow_id', '=', workflow as string);
        })
        .leftJoin(`${s.table} as sf_s`, `sf_s.${s.id}`, 'sf_r.signature_id');
    },
    columns: { signatureId: `sf_s.${s.id}`, status: `sf_s.${s.status}` },
  };
}

/**
 * Of the given contracts, those whose current request is over, with the Unterschrift's status; one read for many
 * (callers keep the list under the drivers' limit on bound parameters). A contract without a request row (not
 * prepared yet, or reverted) is not in the result.
 */
export async function closedRequests(
  db: Knex | Knex.Transaction,
  crm: CrmMapping,
  contractIds: readonly number[]
): Promise<Map<number, string>> {
  const s = crm.signatures;
  const rows = (await db(`${REQUESTS_TABLE} as r`)
    .join(`${s.table} as s`, `s.${s.id}`, 'r.signature_id')
    .whereIn('r.contract_id', contractIds)
    .select({ contractId: 'r.contract_id', status: `s.${s.status}` })) as { contractId: unknown; status: unknown }[];
  const closed = new Map<number, string>();
  for (const row of rows) {
    const status = closedStatus(crm, row.status);
    if (status !== undefined) closed.set(Number(row.contractId), status);
  }
  return closed;
}
