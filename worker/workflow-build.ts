/**
 * The worker's build id (`WORKFLOW_BUILD_ID`), given to the server only when the server records it in the history.
 *
 * The contract workflow branches on the build id of the worker that completed its first workflow task
 * (`workflowInfo().currentDeploymentVersion`): on the first run the SDK gives the worker's own, on replay the one the
 * server recorded with that task. A server records it (in `WorkflowTaskCompleted`, `workerVersion.buildId`) only when
 * it announces the `buildIdBasedVersioning` capability, which is also the condition under which the SDK's core sends
 * it. A worker that told a server without it its build id would take the markerless path on the first run and the
 * patched one on replay: a nondeterminism error (seen on the time-skipping test server, which lacks the capability).
 * So without it the worker sends no build id and every contract takes the patched path.
 */
import type { WorkerOptions } from '@temporalio/worker';
import { WORKER_DEPLOYMENT_NAME, WORKFLOW_BUILD_ID } from '../workflows/definitions';

/** The part of the WorkflowService the check needs (a Client's `workflowService`). */
export interface SystemInfoSource {
  getSystemInfo(request: object): Promise<{ capabilities?: { buildIdBasedVersioning?: boolean | null } | null }>;
}

/**
 * Worker options that make the server record `WORKFLOW_BUILD_ID`, or none when it would not. Unversioned: no task
 * routing by version; every worker of the task queue takes every task, as without it.
 */
export async function workflowBuildOptions(service: SystemInfoSource): Promise<Partial<WorkerOptions>> {
  const info = await service.getSystemInfo({});
  if (!info.capabilities?.buildIdBasedVersioning) return {};
  return {
    workerDeploymentOptions: {
      version: { deploymentName: WORKER_DEPLOYMENT_NAME, buildId: WORKFLOW_BUILD_ID },
      useWorkerVersioning: false,
    },
  };
}
