/**
 * Which eHBA countersigns a confirmed contract, and on which task queue its Konnektor activities run: decided once per
 * contract from the config and the contract's CRM row, by the activity that hands the document to the eHBA's signing
 * workflow (activities/countersign.activities.ts).
 *
 * - Mandanten configured (`SIGNFLOW_KONNEKTOR_MANDANTEN`): the contract's Mandant column picks the practice; its eHBA
 *   column picks one of that practice's eHBAs (empty: the first). A contract without a Mandant is refused rather than
 *   signed with another practice's card.
 * - Otherwise: the contract's eHBA column (empty: the workflow input's eHBA, i.e. `SIGNFLOW_KONNEKTOR_HBA_ICCSN` when the
 *   contract started, else the Konnektor's first HBA), on `SIGNFLOW_KONNEKTOR_TASK_QUEUE` when set.
 */
import type { SignflowConfig } from '../temporal.config';
import { qesSignerWorkflowId, type QesOptions } from '../workflows/definitions';

export interface CountersignRoute {
  /** `qes-signer-<iccsn>`: one signing workflow per eHBA, whichever Mandant. */
  signerWorkflowId: string;
  /** Unset: the Konnektor's first HBA (one practice, no ICCSN configured). */
  iccsn?: string;
  /** Task queue of the on-site Konnektor worker; unset = the main worker runs the Konnektor activities. */
  konnektorTaskQueue?: string;
  /** The contract's Mandant, when Mandanten are configured. */
  mandant?: string;
}

/** The contract's own routing columns, as read from the CRM (null or blank = not set). */
export interface ContractRouting {
  mandant?: string | null;
  iccsn?: string | null;
}

/**
 * Failure type of the activity when a confirmed contract's countersignature cannot be routed to a Konnektor: its
 * Mandant (CRM column `crm.contracts.mandant`) is empty or not in `SIGNFLOW_KONNEKTOR_MANDANTEN`, or its eHBA
 * (`crm.contracts.countersignIccsn`) is not one of that Mandant's. Nothing was signed and no other contract is held up.
 * Retried every few minutes until fixed (the Temporal UI shows the message on the pending activity): set the
 * contract's Mandant or eHBA in the CRM, or add the Mandant to `SIGNFLOW_KONNEKTOR_MANDANTEN` and restart the workers;
 * the countersignature then goes on by itself. Never reaches a door (API, CLI): it is not an error of a command.
 */
export const COUNTERSIGN_ROUTE_UNKNOWN = 'COUNTERSIGN_ROUTE_UNKNOWN';

/** Why a contract cannot be routed; `message` names the contract, the value and what to change. */
export class CountersignRouteError extends Error {
  override readonly name = 'CountersignRouteError';
}

const present = (v: string | null | undefined): string | undefined => {
  const t = v?.trim();
  return t ? t : undefined;
};

export function countersignRoute(
  config: Pick<SignflowConfig, 'konnektor' | 'crm'>,
  defaults: Pick<QesOptions, 'iccsn'>,
  contractId: number,
  row: ContractRouting
): CountersignRoute {
  const mandanten = config.konnektor.mandanten;
  const columns = config.crm.contracts;
  const mandant = present(row.mandant);
  const iccsn = present(row.iccsn);
  if (mandanten && Object.keys(mandanten).length > 0) {
    if (!mandant) {
      throw new CountersignRouteError(
        `contract ${contractId} has no Mandant (column ${columns.table}.${columns.mandant ?? '?'} is empty), so it is not ` +
          `known whose eHBA countersigns it; set it to one of ${Object.keys(mandanten).join(', ')}`
      );
    }
    const route = mandanten[mandant];
    if (!route) {
      throw new CountersignRouteError(
        `contract ${contractId} belongs to Mandant ${JSON.stringify(mandant)}, which SIGNFLOW_KONNEKTOR_MANDANTEN does ` +
          `not list (known: ${Object.keys(mandanten).join(', ')}); fix the contract or add the Mandant and restart`
      );
    }
    if (iccsn && !route.ehba.includes(iccsn)) {
      throw new CountersignRouteError(
        `contract ${contractId} names eHBA ${iccsn} (column ${columns.table}.${columns.countersignIccsn ?? '?'}), ` +
          `which is not one of Mandant ${mandant}'s (${route.ehba.join(', ')}) in SIGNFLOW_KONNEKTOR_MANDANTEN`
      );
    }
    const card = iccsn ?? route.ehba[0];
    return { signerWorkflowId: qesSignerWorkflowId(card), iccsn: card, konnektorTaskQueue: route.taskQueue, mandant };
  }
  if (mandant) {
    throw new CountersignRouteError(
      `contract ${contractId} belongs to Mandant ${JSON.stringify(mandant)}, but SIGNFLOW_KONNEKTOR_MANDANTEN is not ` +
        'set: configure the Mandanten, or unmap crm.contracts.mandant for a single practice'
    );
  }
  const card = iccsn ?? defaults.iccsn;
  // Where this deployment's Konnektor is reachable now, not when the contract started.
  const queue = config.konnektor.taskQueue;
  return {
    signerWorkflowId: qesSignerWorkflowId(card),
    ...(card ? { iccsn: card } : {}),
    ...(queue ? { konnektorTaskQueue: queue } : {}),
  };
}
