/**
 * The contract workflow's door to the eHBA's signing workflow. Workflows cannot signal-with-start, so this activity
 * does: it starts the signer if it is not running and hands it the request in one call. Repeating it is harmless (the
 * signer keys requests by their deterministic request id).
 */
import type { Client } from '@temporalio/client';
import type { SignflowConfig } from '../temporal.config';
import {
  countersignRequestedSignal,
  type CountersignRequest,
  type QesOptions,
  type QesSignerInput,
} from '../workflows/definitions';

export interface CountersignActivityDeps {
  config: SignflowConfig;
  /** A Temporal client on the worker's namespace. */
  temporal: Client;
}

export interface RequestCountersignInput {
  request: CountersignRequest;
  signer: QesOptions;
}

export function createCountersignActivities({ config, temporal }: CountersignActivityDeps) {
  return {
    async requestCountersign({ request, signer }: RequestCountersignInput): Promise<{ signerWorkflowId: string }> {
      const args: QesSignerInput = {
        iccsn: signer.iccsn,
        batchSize: signer.batchSize,
        recheckIntervalMs: signer.recheckIntervalMs,
        // Read here, not from the contract's input: the signer outlives the contracts that start it.
        staffReminderAfterMs: config.staff.parkedReminderAfter,
      };
      await temporal.workflow.signalWithStart('qesCountersigner', {
        workflowId: signer.signerWorkflowId,
        taskQueue: config.temporal.taskQueue,
        args: [args],
        signal: countersignRequestedSignal,
        signalArgs: [request],
        staticSummary: `QES-Gegenzeichnung mit eHBA ${signer.iccsn ?? '(Standard)'}`,
      });
      return { signerWorkflowId: signer.signerWorkflowId };
    },
  };
}
