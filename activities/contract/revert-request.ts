/**
 * Undoing a signature request whose workflow failed (or was cancelled) after step 2 wrote it, before any signature:
 * the pending signature is voided (`zurückgezogen`), the contract gets back the status it had before `versendet`, the
 * plugin's request row is removed (so a new start prepares a fresh request) and the workflow's mail rows are renamed
 * out of the way (so the new start's invitation is not taken for already sent). One transaction, idempotent: a second
 * run finds nothing to revert. A `gültig` signature is never touched.
 *
 * Used by the workflow's compensation and by `signflow repair` (for contracts that failed before the compensation
 * existed, or whose compensation could not run).
 */
import type { Knex } from 'knex';
import type { SignflowConfig } from '../../temporal.config';
import { lockRow } from '../../db/row-lock';
import { readContract, readSignature } from '../../db/crm-repository';
import { appendAudit, AUDIT_TABLE, findRequest, REQUESTS_TABLE } from './plugin-tables';

export const MAILS_TABLE = 'signflow_mails';

export interface RevertInput {
  contractId: number;
  workflowId: string;
  /** Why, for the audit trail: the failure type, `cancelled`, or `repair`. */
  reason: string;
  at: Date;
}

export interface RevertResult {
  /**
   * `reverted`: signature voided, contract restored; `nothing-to-revert`: no request of this workflow exists (never
   * prepared, or already reverted); `already-valid`: the signature is `gültig`, so the contract is not reverted.
   */
  result: 'reverted' | 'nothing-to-revert' | 'already-valid';
  signatureId?: number;
  /** The contract status after the revert (unchanged when staff had already moved it on from `versendet`). */
  contractStatus?: string;
}

/** The status the contract had before `versendet`, as step 2 recorded it; older requests fall back to the first sendable one. */
async function previousStatus(trx: Knex.Transaction, config: SignflowConfig, workflowId: string): Promise<string> {
  const row = (await trx(AUDIT_TABLE)
    .where({ workflow_id: workflowId, event: 'signature-request-prepared' })
    .orderBy('id', 'desc')
    .first('detail')) as { detail?: string } | undefined;
  try {
    const detail = JSON.parse(row?.detail ?? '{}') as { previousStatus?: unknown };
    if (typeof detail.previousStatus === 'string' && detail.previousStatus) return detail.previousStatus;
  } catch {
    // fall through to the default
  }
  const fallback = config.crm.values.contractSendableStatuses[0];
  if (!fallback) throw new Error('crm.values.contractSendableStatuses is empty');
  return fallback;
}

export async function revertSignatureRequest(
  db: Knex,
  config: SignflowConfig,
  input: RevertInput
): Promise<RevertResult> {
  const crm = config.crm;
  const values = crm.values;
  return db.transaction(async (trx) => {
    await lockRow(trx, crm.contracts.table, crm.contracts.id, input.contractId);
    const request = await findRequest(trx, input.workflowId);
    if (!request || request.contractId !== input.contractId) return { result: 'nothing-to-revert' };
    const signature = await readSignature(trx, crm, request.signatureId);
    if (signature?.status === values.signatureValid) {
      return { result: 'already-valid', signatureId: request.signatureId };
    }
    const s = crm.signatures;
    if (signature?.status === values.signaturePending) {
      await trx(s.table)
        .where(s.id, signature.id)
        .andWhere(s.status, values.signaturePending)
        .update({ [s.status]: values.signatureWithdrawn });
    }
    const restored = await previousStatus(trx, config, input.workflowId);
    const contract = await readContract(trx, crm, input.contractId);
    let contractStatus = contract?.status;
    if (contract && contract.status === values.contractSent) {
      const k = crm.contracts;
      await trx(k.table)
        .where(k.id, contract.id)
        .andWhere(k.status, values.contractSent)
        .update({ [k.status]: restored, [k.lastStatusChange]: input.at });
      contractStatus = restored;
    }
    // Kept as a record of what went out, under a key the next run never uses.
    const mails = (await trx(MAILS_TABLE).where('workflow_id', input.workflowId).select('id', 'mail_key')) as Array<{
      id: number;
      mail_key: string;
    }>;
    for (const mail of mails) {
      if (mail.mail_key.includes('#reverted-')) continue;
      await trx(MAILS_TABLE)
        .where('id', mail.id)
        .update({ mail_key: `${mail.mail_key}#reverted-${request.signatureId}` });
    }
    await trx(REQUESTS_TABLE).where('workflow_id', input.workflowId).delete();
    await appendAudit(trx, {
      workflowId: input.workflowId,
      contractId: input.contractId,
      event: 'signature-request-reverted',
      at: input.at,
      detail: {
        signatureId: request.signatureId,
        documentId: request.documentId,
        signatureStatus: signature?.status ?? null,
        contractStatus: contractStatus ?? null,
        reason: input.reason,
      },
    });
    return { result: 'reverted', signatureId: request.signatureId, contractStatus };
  });
}
