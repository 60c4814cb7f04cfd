/**
 * The gauges that describe the cluster rather than this process: contracts waiting by reason (visibility counts of the
 * `WaitingReason` search attribute) and parked eHBA signers (their `status` query). Read at scrape time, at most every
 * few seconds (signflow-metrics.ts caches), by whichever process has a Temporal client (the worker).
 */
import type { Client } from '@temporalio/client';
import { qesSignerStatusQuery, type WaitingReason } from '../workflows/definitions';
import type { ClusterState } from './signflow-metrics';

const REASONS: WaitingReason[] = ['signature', 'comfort-signature', 'countersignature'];

export function clusterStateFrom(client: Client): () => Promise<ClusterState> {
  return async () => {
    const waiting: Record<string, number> = {};
    await Promise.all(
      REASONS.map(async (reason) => {
        const { count } = await client.workflow.count(
          `WorkflowType = 'honorarvertrag' AND ExecutionStatus = 'Running' AND WaitingReason = '${reason}'`
        );
        waiting[reason] = count;
      })
    );
    const parkedSigners: ClusterState['parkedSigners'] = [];
    for await (const wf of client.workflow.list({
      query: `WorkflowType = 'qesCountersigner' AND ExecutionStatus = 'Running'`,
    })) {
      const state = await client.workflow
        .getHandle(wf.workflowId)
        .query(qesSignerStatusQuery)
        .catch(() => undefined);
      if (!state?.parked) continue;
      parkedSigners.push({
        signer: wf.workflowId,
        failureType: state.parked.failureType,
        gematikCode: state.parked.gematikCode,
        sinceSeconds: Date.parse(state.parked.since) / 1000,
      });
    }
    return { waiting, parkedSigners };
  };
}
