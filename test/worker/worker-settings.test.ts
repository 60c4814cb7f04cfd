/**
 * The worker's cache and concurrency settings (config.worker, SIGNFLOW_WORKER_*): explicit defaults that do not depend
 * on the machine's heap, dependents that follow a lowered cache, and clear errors naming the variable for values the
 * SDK would silently change.
 */
import { ConfigError, loadConfig } from '../../temporal.config';
import { workerTuning } from '../../worker/worker-settings';

const fromEnv = (env: Record<string, string>) => loadConfig({}, env).worker;

test('defaults are explicit and handed to the SDK as such', () => {
  const w = fromEnv({});
  expect(w).toEqual({
    maxCachedWorkflows: 100,
    maxConcurrentWorkflowTasks: 40,
    maxConcurrentActivities: 100,
    workflowTaskPollers: 10,
    activityTaskPollers: 10,
    pdfThreadIdleSeconds: 60,
  });
  expect(workerTuning(w)).toEqual({
    maxCachedWorkflows: 100,
    maxConcurrentWorkflowTaskExecutions: 40,
    maxConcurrentActivityTaskExecutions: 100,
    workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: 10 },
    activityTaskPollerBehavior: { type: 'simple-maximum', maximum: 10 },
  });
});

test('every setting is read from its variable', () => {
  expect(
    fromEnv({
      SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS: '500',
      SIGNFLOW_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '60',
      SIGNFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES: '20',
      SIGNFLOW_WORKER_WORKFLOW_POLLERS: '4',
      SIGNFLOW_WORKER_ACTIVITY_POLLERS: '3',
      SIGNFLOW_WORKER_PDF_THREAD_IDLE_SECONDS: '600',
    })
  ).toEqual({
    maxCachedWorkflows: 500,
    maxConcurrentWorkflowTasks: 60,
    maxConcurrentActivities: 20,
    workflowTaskPollers: 4,
    activityTaskPollers: 3,
    pdfThreadIdleSeconds: 600,
  });
});

test('unset dependents follow a small cache or few slots instead of being refused', () => {
  expect(fromEnv({ SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS: '8' })).toMatchObject({
    maxConcurrentWorkflowTasks: 8,
    workflowTaskPollers: 8,
  });
  expect(fromEnv({ SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS: '0' })).toMatchObject({
    maxCachedWorkflows: 0,
    maxConcurrentWorkflowTasks: 40,
  });
  expect(fromEnv({ SIGNFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES: '4' })).toMatchObject({ activityTaskPollers: 4 });
});

test.each([
  [{ SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS: '-1' }, 'SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS'],
  [{ SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS: 'many' }, 'SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS'],
  [{ SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS: '1' }, 'SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS'],
  [{ SIGNFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES: '0' }, 'SIGNFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES'],
  [{ SIGNFLOW_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '1.5' }, 'SIGNFLOW_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS'],
  [
    { SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS: '10', SIGNFLOW_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '20' },
    'SIGNFLOW_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS',
  ],
  [{ SIGNFLOW_WORKER_WORKFLOW_POLLERS: '50' }, 'SIGNFLOW_WORKER_WORKFLOW_POLLERS'],
  [{ SIGNFLOW_WORKER_WORKFLOW_POLLERS: '1' }, 'SIGNFLOW_WORKER_WORKFLOW_POLLERS'],
  [
    { SIGNFLOW_WORKER_MAX_CONCURRENT_ACTIVITIES: '5', SIGNFLOW_WORKER_ACTIVITY_POLLERS: '6' },
    'SIGNFLOW_WORKER_ACTIVITY_POLLERS',
  ],
  [{ SIGNFLOW_WORKER_PDF_THREAD_IDLE_SECONDS: '0' }, 'SIGNFLOW_WORKER_PDF_THREAD_IDLE_SECONDS'],
  [{ SIGNFLOW_WORKER_PDF_THREAD_IDLE_SECONDS: '2.5' }, 'SIGNFLOW_WORKER_PDF_THREAD_IDLE_SECONDS'],
  [{ SIGNFLOW_WORKER_PDF_THREAD_IDLE_SECONDS: '1m' }, 'SIGNFLOW_WORKER_PDF_THREAD_IDLE_SECONDS'],
])('%j is refused, naming %s', (env, variable) => {
  let error: unknown;
  try {
    fromEnv(env);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toContain(variable);
});
