/**
 * The contract workflow's door to the eHBA's signing workflow. Workflows cannot signal-with-start, so this activity
 * does: it starts the signer if it is not running and hands it the request in one call. Repeating it is harmless (the
 * signer keys requests by their deterministic request id).
 *
 * Which signer, and where its Konnektor activities run, is decided here from the config and the contract's CRM row
 * (routing/countersign-route.ts): one practice with several eHBAs, or one hosted CRM serving several practices, each
 * with its on-site Konnektor worker on a task queue of its own.
 */
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import {
  COUNTERSIGN_ROUTE_UNKNOWN,
  countersignRoute,
  CountersignRouteError,
  type ContractRouting,
} from '../routing/countersign-route';
import type { SignflowConfig } from '../temporal.config';
import {
  countersignRequestedSignal,
  type CountersignRequest,
  type QesOptions,
  type QesSignerInput,
} from '../workflows/definitions';

export interface CountersignActivityDeps {
  config: SignflowConfig;
  /** The CRM database: the contract's Mandant and eHBA columns, when mapped. */
  db: Knex;
  /** A Temporal client on the worker's namespace. */
  temporal: Client;
}

export interface RequestCountersignInput {
  request: CountersignRequest;
  signer: QesOptions;
}

export interface RequestCountersignResult {
  signerWorkflowId: string;
  /** The eHBA that countersigns (unset: the Konnektor's first HBA). */
  iccsn?: string;
  /** The on-site worker's task queue the signer sends its Konnektor activities to; unset = the main worker. */
  konnektorTaskQueue?: string;
  mandant?: string;
}

export function createCountersignActivities({ config, db, temporal }: CountersignActivityDeps) {
  /** The contract's routing columns; none mapped (one practice, one eHBA) costs no query. */
  async function routingOf(contractId: number): Promise<ContractRouting> {
    const c = config.crm.contracts;
    const columns = [c.mandant, c.countersignIccsn].filter((x): x is string => x !== undefined);
    if (columns.length === 0) return {};
    const row = (await db(c.table).where(c.id, contractId).first(columns)) as Record<string, unknown> | undefined;
    const text = (column: string | undefined) => {
      const v = column === undefined ? undefined : row?.[column];
      return v === undefined || v === null ? undefined : String(v);
    };
    return { mandant: text(c.mandant), iccsn: text(c.countersignIccsn) };
  }

  return {
    async requestCountersign({ request, signer }: RequestCountersignInput): Promise<RequestCountersignResult> {
      let route;
      try {
        route = countersignRoute(config, signer, request.contractId, await routingOf(request.contractId));
      } catch (err) {
        if (!(err instanceof CountersignRouteError)) throw err;
        // Retryable on purpose: staff fix the CRM row or the config, and the next attempt goes on by itself.
        throw ApplicationFailure.retryable(err.message, COUNTERSIGN_ROUTE_UNKNOWN);
      }
      const args: QesSignerInput = {
        iccsn: route.iccsn,
        batchSize: signer.batchSize,
        recheckIntervalMs: signer.recheckIntervalMs,
        // Read here, not from the contract's input: the signer outlives the contracts that start it.
        staffReminderAfterMs: config.staff.parkedReminderAfter,
        ...(route.konnektorTaskQueue ? { konnektorTaskQueue: route.konnektorTaskQueue } : {}),
      };
      await temporal.workflow.signalWithStart('qesCountersigner', {
        workflowId: route.signerWorkflowId,
        taskQueue: config.temporal.taskQueue,
        args: [args],
        signal: countersignRequestedSignal,
        signalArgs: [request],
        staticSummary:
          `QES-Gegenzeichnung mit eHBA ${route.iccsn ?? '(Standard)'}` +
          (route.mandant ? ` (Mandant ${route.mandant})` : '') +
          (route.konnektorTaskQueue ? `, Konnektor-Queue ${route.konnektorTaskQueue}` : ''),
      });
      return route;
    },
  };
}
