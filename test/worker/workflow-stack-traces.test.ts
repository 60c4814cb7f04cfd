/**
 * The stack-trace depth every signflow workflow bundle sets in the sandbox (worker/workflow-stack-traces.ts): the
 * SDK's per-promise capture is cut to its own frame, so the `__stack_trace` query answers without workflow frames,
 * and an error thrown in workflow code keeps exactly its first frame, source-mapped to the line that threw.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleOnce, createTimeSkippingEnv } from '../../harness/temporal';
import { workflowSource } from '../../worker/workflow-source';
import { limitWorkflowStackTraces } from '../../worker/workflow-stack-traces';
import { releaseSignal, stackTraceProbe } from '../helpers/fixtures/workflows';
import { withTimeout } from '../helpers/timeout';

const FIXTURES = require.resolve('../helpers/fixtures/workflows');

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await createTimeSkippingEnv();
});
afterAll(async () => {
  await env?.teardown();
});

test('a bundled workflow: no workflow frames in the stack trace query, one frame in a thrown error', async () => {
  const taskQueue = `stack-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await bundleOnce(FIXTURES),
  });
  const { query, stack } = await worker.runUntil(async () => {
    const handle = await env.client.workflow.start(stackTraceProbe, { taskQueue, workflowId: `stack-${randomUUID()}` });
    const query = await withTimeout(handle.query<string>('__stack_trace'), 60_000, 'the stack trace query');
    await handle.signal(releaseSignal);
    return { query, stack: await withTimeout(handle.result(), 60_000, 'the probe workflow') };
  });
  // Without the limit the query names the fixture's `await condition(...)` line.
  expect(query).not.toMatch(/fixtures[\\/]workflows/);
  const frames = stack.split('\n').filter((l) => /^\s+at /.test(l));
  expect(frames).toHaveLength(1);
  expect(frames[0]).toMatch(/throwInWorkflowCode .*fixtures[\\/]workflows\.ts:\d+:\d+/);
}, 120_000);

test('the worker bundling workflows/ at start uses the same setting', () => {
  expect(workflowSource()).toMatchObject({ bundlerOptions: { webpackConfigHook: limitWorkflowStackTraces } });
});
