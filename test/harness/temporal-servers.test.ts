/**
 * The harness's own checks: both Temporal servers start from the local binaries, a worker runs a bundled workflow on
 * each, and our custom search attributes work at start and at upsert on both (the answer is documented in
 * test/helpers/temporal.ts).
 */
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporalTestServerPath } from '../../dev-stack/tool-paths';
import {
  SA_CONTRACT_STATUS,
  SA_CRM_CONTRACT_ID,
  SA_SIGNATURE_STATUS,
  SA_WAITING_REASON,
} from '../../workflows/definitions';
import {
  bundleOnce,
  createTimeSkippingEnv,
  startDevServer,
  workflowBundle,
  WORKFLOW_BUNDLE_ENV,
  type DevServerHandle,
} from '../../harness/temporal';
import { withTimeout } from '../helpers/timeout';
import { releaseSignal, searchAttributeProbe } from '../helpers/fixtures/workflows';

const FIXTURES = require.resolve('../helpers/fixtures/workflows');
const THREE_DAYS = 3 * 24 * 60 * 60 * 1000;

async function runProbe(env: TestWorkflowEnvironment, sleepMs: number, contractId: number) {
  const taskQueue = `harness-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await bundleOnce(FIXTURES),
  });
  return await worker.runUntil(async () => {
    const handle = await env.client.workflow.start(searchAttributeProbe, {
      taskQueue,
      workflowId: `probe-${randomUUID()}`,
      args: [sleepMs],
      typedSearchAttributes: [
        { key: SA_CRM_CONTRACT_ID, value: contractId },
        { key: SA_CONTRACT_STATUS, value: 'erstellt' },
      ],
    });
    const result = await withTimeout(handle.result(), 90_000, 'the probe workflow');
    const description = await handle.describe();
    return { result, sa: description.typedSearchAttributes };
  });
}

describe('time-skipping test server', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  test('skips three days of timers and accepts our search attributes once registered', async () => {
    const started = Date.now();
    const { result, sa } = await runProbe(env, THREE_DAYS, 42);
    // Three days of workflow time passed, far less real time: the server skipped them (no machine can be that slow).
    expect(result.sleptMs).toBeGreaterThanOrEqual(THREE_DAYS);
    expect(Date.now() - started).toBeLessThan(THREE_DAYS / 2);
    // Given at start, then upserted by the workflow (createTimeSkippingEnv registered them).
    expect(result).toMatchObject({ crmContractId: 42, contractStatus: 'versendet' });
    expect(sa.get(SA_CRM_CONTRACT_ID)).toBe(42);
    expect(sa.get(SA_CONTRACT_STATUS)).toBe('versendet');
    expect(sa.get(SA_SIGNATURE_STATUS)).toBe('ausstehend');
    expect(sa.get(SA_WAITING_REASON)).toBe('signature');
  });
});

test('without registration the time-skipping server refuses our search attributes (why we register them)', async () => {
  const raw = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalTestServerPath() } },
  });
  try {
    await expect(
      raw.client.workflow.start(searchAttributeProbe, {
        taskQueue: 'nobody-polls',
        workflowId: `probe-${randomUUID()}`,
        args: [1],
        typedSearchAttributes: [{ key: SA_CRM_CONTRACT_ID, value: 1 }],
      })
    ).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/search attribute CrmContractId is not defined/) },
    });
  } finally {
    await raw.teardown();
  }
});

describe('dev server (temporal server start-dev)', () => {
  let dev: DevServerHandle;
  beforeAll(async () => {
    dev = await startDevServer();
  }, 90_000);
  afterAll(async () => {
    await dev?.stop();
  });

  test('starts on a free loopback port with our search attributes registered', async () => {
    expect(dev.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const { customAttributes } = await dev.env.connection.operatorService.listSearchAttributes({
      namespace: dev.namespace,
    });
    expect(Object.keys(customAttributes ?? {})).toEqual(
      expect.arrayContaining(['CrmContractId', 'ContractStatus', 'SignatureStatus', 'WaitingReason'])
    );
  });

  test('runs a bundled workflow whose search attributes are searchable', async () => {
    const contractId = 4711;
    const { result, sa } = await runProbe(dev.env, 10, contractId);
    expect(result).toMatchObject({ crmContractId: contractId, contractStatus: 'versendet' });
    expect(sa.get(SA_SIGNATURE_STATUS)).toBe('ausstehend');

    // Visibility is eventually consistent: poll, bounded.
    let ids: string[] = [];
    for (let i = 0; i < 50 && ids.length === 0; i++) {
      ids = [];
      for await (const wf of dev.env.client.workflow.list({ query: `CrmContractId = ${contractId}` }))
        ids.push(wf.workflowId);
      if (ids.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(ids).toHaveLength(1);
  });

  test('a signal reaches a waiting workflow', async () => {
    const taskQueue = `harness-${randomUUID()}`;
    const worker = await Worker.create({
      connection: dev.env.nativeConnection,
      taskQueue,
      workflowBundle: await bundleOnce(FIXTURES),
    });
    const result = await worker.runUntil(async () => {
      const handle = await dev.env.client.workflow.start(searchAttributeProbe, {
        taskQueue,
        workflowId: `probe-${randomUUID()}`,
        args: [1, true],
      });
      await handle.signal(releaseSignal);
      return await withTimeout(handle.result(), 90_000, 'the released probe workflow');
    });
    expect(result.contractStatus).toBe('versendet');
  });
});

describe('workflow bundle', () => {
  test('the globalSetup bundled workflows/index.ts once for the whole run', async () => {
    expect(process.env[WORKFLOW_BUNDLE_ENV]).toBeTruthy();
    const { codePath } = await workflowBundle();
    expect(codePath).toBe(process.env[WORKFLOW_BUNDLE_ENV]);
    expect(fs.statSync(codePath).size).toBeGreaterThan(10_000);
  });
});
