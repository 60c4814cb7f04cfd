/**
 * The worker's cache and concurrency settings (`config.worker`), validated with the rest of the configuration. What
 * each one costs is measured by `npm run bench -- --scenarios waiting` and written down in docs/benchmarks.md
 * ("Worker settings").
 */
import { z } from 'zod';

const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const ZWorkerConfig = z
  .object({
    /**
     * Workflows kept in the worker's sticky cache (their sandboxed state, so the next message needs no replay). Every
     * contract waiting for its signature would otherwise stay cached: the SDK's default is sized from the V8 heap limit
     * (thousands on a machine with a few GiB), each costing about 0.25 MB of RSS (measured). A contract evicted from the cache is
     * replayed from its history when its `sign` Update arrives: a few milliseconds more for that one message, nothing
     * lost. 0 = no cache (every workflow task replays). Env `SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS`. @default 100
     */
    maxCachedWorkflows: count(0, 100_000)
      .refine((n) => n !== 1, 'must be 0 (no cache) or at least 2 (a workflow task in flight and the next one)')
      .default(100),
    /**
     * Workflow tasks run at once (workflow code is cheap; this mostly bounds how many replays run together). At most
     * `maxCachedWorkflows` when the cache is on. Env `SIGNFLOW_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS`.
     * @default 40, or `maxCachedWorkflows` when that is smaller
     */
    maxConcurrentWorkflowTasks: count(2, 10_000).optional(),
    /**
     * Activities run at once (renders, mails, database steps; each holds its documents in memory while it runs).
     * Env `SIGNFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES`. @default 100
     */
    maxConcurrentActivities: count(1, 10_000).default(100),
    /**
     * Long polls for workflow tasks held open at once (at least 2: one for the sticky queue, one for the normal one);
     * at most `maxConcurrentWorkflowTasks`. Env `SIGNFLOW_WORKER_WORKFLOW_POLLERS`.
     * @default 10, or `maxConcurrentWorkflowTasks` when that is smaller
     */
    workflowTaskPollers: count(2, 1_000).optional(),
    /**
     * Long polls for activity tasks held open at once; at most `maxConcurrentActivities`. Env
     * `SIGNFLOW_WORKER_ACTIVITY_POLLERS`. @default 10, or `maxConcurrentActivities` when that is smaller
     */
    activityTaskPollers: count(1, 1_000).optional(),
    /**
     * Seconds a PDF rendering thread (documents/pdf-threads.ts) stays after its last render before it ends. An ended
     * thread gives back its heap (pdfkit, fontkit, the parsed fonts: tens of MB while thousands of contracts wait), but
     * the next render pays a cold start: the modules loaded, the fonts parsed, its first renders before V8 has
     * compiled them, about 2 s of CPU on a 2-core machine (docs/benchmarks.md). Longer than the gaps between a
     * practice's renders keeps that cost off every burst. Env `SIGNFLOW_WORKER_PDF_THREAD_IDLE_SECONDS`. @default 60
     */
    pdfThreadIdleSeconds: count(1, 86_400).default(60),
  })
  // Unset dependents follow what they depend on (as the SDK's own defaults do); set ones are checked below.
  .transform((w) => {
    const maxConcurrentWorkflowTasks =
      w.maxConcurrentWorkflowTasks ?? (w.maxCachedWorkflows > 0 ? Math.min(40, w.maxCachedWorkflows) : 40);
    return {
      ...w,
      maxConcurrentWorkflowTasks,
      workflowTaskPollers: w.workflowTaskPollers ?? Math.max(2, Math.min(10, maxConcurrentWorkflowTasks)),
      activityTaskPollers: w.activityTaskPollers ?? Math.min(10, w.maxConcurrentActivities),
    };
  })
  .superRefine((w, ctx) => {
    // The SDK would silently lower these; a setting that does not do what it says is refused instead.
    if (w.maxCachedWorkflows > 0 && w.maxConcurrentWorkflowTasks > w.maxCachedWorkflows) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxConcurrentWorkflowTasks'],
        message: `must not exceed SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS (${w.maxCachedWorkflows}), got ${w.maxConcurrentWorkflowTasks}`,
      });
    }
    if (w.workflowTaskPollers > w.maxConcurrentWorkflowTasks) {
      ctx.addIssue({
        code: 'custom',
        path: ['workflowTaskPollers'],
        message: `must not exceed SIGNFLOW_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS (${w.maxConcurrentWorkflowTasks}), got ${w.workflowTaskPollers}`,
      });
    }
    if (w.activityTaskPollers > w.maxConcurrentActivities) {
      ctx.addIssue({
        code: 'custom',
        path: ['activityTaskPollers'],
        message: `must not exceed SIGNFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES (${w.maxConcurrentActivities}), got ${w.activityTaskPollers}`,
      });
    }
  });

export type WorkerConfig = z.infer<typeof ZWorkerConfig>;

/** Env variable of each setting, for messages about a bad value. */
export const WORKER_CONFIG_VARIABLES: Array<[string, string]> = [
  ['worker.maxCachedWorkflows', 'SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS'],
  ['worker.maxConcurrentWorkflowTasks', 'SIGNFLOW_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS'],
  ['worker.maxConcurrentActivities', 'SIGNFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES'],
  ['worker.workflowTaskPollers', 'SIGNFLOW_WORKER_WORKFLOW_POLLERS'],
  ['worker.activityTaskPollers', 'SIGNFLOW_WORKER_ACTIVITY_POLLERS'],
  ['worker.pdfThreadIdleSeconds', 'SIGNFLOW_WORKER_PDF_THREAD_IDLE_SECONDS'],
];
