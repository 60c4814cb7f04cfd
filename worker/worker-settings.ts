/**
 * The Temporal worker settings signflow runs with, in one place: the worker uses them, and the benchmark's bare
 * floor workflow runs with the very same ones, so a ratio between the two compares workflow code, not tuning.
 */
import type { WorkerOptions } from '@temporalio/worker';
import type { WorkerConfig } from './worker-config';

export const WORKER_SETTINGS = {
  // On SIGTERM/SIGINT (the SDK's default shutdown signals) running activities get this long to finish before they
  // are cancelled; every activity is idempotent, so one cut short is simply retried by the next worker.
  shutdownGraceTime: '10 seconds',
  // A workflow whose worker died is handed to another worker's normal queue after this long (default 10 s), so a
  // restarted worker picks up a killed one's contracts within seconds.
  stickyQueueScheduleToStartTimeout: '3 seconds',
} satisfies Partial<WorkerOptions>;

/**
 * The cache and concurrency of `config.worker` as SDK options: always explicit, so the worker's memory does not depend
 * on the heap limit of the machine it lands on (the SDK's default cache size does).
 */
export function workerTuning(w: WorkerConfig): Partial<WorkerOptions> {
  return {
    maxCachedWorkflows: w.maxCachedWorkflows,
    maxConcurrentWorkflowTaskExecutions: w.maxConcurrentWorkflowTasks,
    maxConcurrentActivityTaskExecutions: w.maxConcurrentActivities,
    workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: w.workflowTaskPollers },
    activityTaskPollerBehavior: { type: 'simple-maximum', maximum: w.activityTaskPollers },
  };
}
