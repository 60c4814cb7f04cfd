/**
 * The contract path without a patch marker (issue 9, target 3): a contract whose first workflow task a worker of
 * generation 2 completed calls no `patched()`, so its history has no marker and no `TemporalChangeVersion` upsert,
 * and it replays on that branch because the server recorded the worker's build id with the task
 * (workflows/definitions.ts `WORKFLOW_CODE_GENERATION`, worker/workflow-build.ts).
 *
 * Real parts: the Temporal dev server (it records build ids), the time-skipping test server (it does not), workers with
 * the real activities, SQLite, the SMTP inbox. The action counts are the bench's (bench/actions.ts).
 */
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { actionCounts } from '../../bench/actions';
import { contractHandle, contractStatus, startContractWorkflow } from '../../client/contract-client';
import { createTimeSkippingEnv, startDevServer, workflowBundle, type DevServerHandle } from '../../harness/temporal';
import { createWorker, type RunningWorker } from '../../worker/run-worker';
import { workflowBuildOptions } from '../../worker/workflow-build';
import { contractWorkflowId, WORKFLOW_BUILD_ID, workflowCodeGeneration } from '../../workflows/definitions';
import { addSendableContract, startContractStack, type ContractStack } from '../helpers/contract-stack';
import { recordHistory } from '../helpers/histories';
import { eventually, settledResult } from '../helpers/waits';

jest.setTimeout(180_000);

let server: DevServerHandle;
let stack: ContractStack;
/** Workers a test starts besides the stack's own; shut down after all. */
const extraWorkers: RunningWorker[] = [];

beforeAll(async () => {
  server = await startDevServer();
  stack = await startContractStack(server.env, { config: { signature: { remindersEnabled: false, expiry: '30d' } } });
});

afterAll(async () => {
  for (const w of extraWorkers) await w.shutdown();
  await stack?.stop();
  await server?.stop();
});

/** A worker of the stack's config and database; `older` = one that gives the server no build id (older code). */
async function startWorker(older: boolean): Promise<RunningWorker> {
  const worker = await createWorker(stack.config, {
    connection: server.env.nativeConnection,
    workflowBundle: await workflowBundle(),
    db: stack.t.db,
    temporalClient: server.env.client,
    workerOptions: older ? { workerDeploymentOptions: undefined } : undefined,
  });
  extraWorkers.push(worker);
  return worker;
}

/** Starts a contract and waits until it waits for the signature. */
async function awaitingSignature(): Promise<{ contractId: number; handle: WorkflowHandle; contactId: number }> {
  const contractId = await addSendableContract(stack.t);
  await startContractWorkflow(stack.client, stack.config, contractId);
  const state = await eventually(async () => {
    const s = await contractStatus(stack.client, contractId);
    expect(s.phase).toBe('awaiting-signature');
    return s;
  });
  return { contractId, handle: contractHandle(stack.client, contractId), contactId: state.contactId as number };
}

/** Signs by click and waits until the contract has completed (confirmation mail sent). */
async function signAndComplete(contractId: number, handle: WorkflowHandle, contactId: number): Promise<History> {
  await handle.executeUpdate('sign', { args: [{ contactId, method: 'click' }] });
  expect(await settledResult(stack.client, contractId)).toMatchObject({ contractId, outcome: 'signed' });
  await stack.waitForMail((m) => m.headers['x-signflow-mail-key'] === `${contractWorkflowId(contractId)}:confirmation`);
  return handle.fetchHistory();
}

const upsertedKeys = (history: History): string[][] =>
  (history.events ?? []).flatMap((e) =>
    e.upsertWorkflowSearchAttributesEventAttributes
      ? [Object.keys(e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes?.indexedFields ?? {}).sort()]
      : []
  );

/** The build id the server recorded with the first completed workflow task. */
const firstTaskBuildId = (history: History): string | undefined =>
  (history.events ?? []).find((e) => e.workflowTaskCompletedEventAttributes)?.workflowTaskCompletedEventAttributes
    ?.workerVersion?.buildId ?? undefined;

test('the build id names the generation; any other id (the SDK default, none) is generation 0', () => {
  expect(workflowCodeGeneration(WORKFLOW_BUILD_ID)).toBe(2);
  expect(workflowCodeGeneration('signflow-workflows-17')).toBe(17);
  for (const other of [
    undefined,
    '',
    '@temporalio/worker@1.24.0+bef18d00',
    'signflow-workflows-',
    'signflow-workflows-02',
    'signflow-workflows-2x',
    'x-signflow-workflows-2',
  ]) {
    expect(workflowCodeGeneration(other)).toBe(0);
  }
});

test('the worker gives its build id only to a server that records it', async () => {
  expect(await workflowBuildOptions(server.env.client.workflowService)).toEqual({
    workerDeploymentOptions: {
      version: { deploymentName: 'signflow', buildId: WORKFLOW_BUILD_ID },
      useWorkerVersioning: false,
    },
  });
  // The time-skipping test server lacks the capability: it would not record the id, and a replay would then take
  // another branch than the first run did.
  const timeSkipping = await createTimeSkippingEnv();
  try {
    expect(await workflowBuildOptions(timeSkipping.client.workflowService)).toEqual({});
  } finally {
    await timeSkipping.teardown();
  }
});

test('a plain contract on a generation-2 worker: no patch marker, no TemporalChangeVersion upsert, 8 actions', async () => {
  const { contractId, handle, contactId } = await awaitingSignature();
  const history = await signAndComplete(contractId, handle, contactId);

  expect(firstTaskBuildId(history)).toBe(WORKFLOW_BUILD_ID);
  const counts = actionCounts(history);
  expect(counts).toMatchObject({ starts: 1, activities: 5, messages: 1, upserts: 1, markers: 0, versionUpserts: 0 });
  // The expiry timer exists when the `sign` Update came after the workflow began to wait (here: always, it waited for
  // the test); the floor has no expiry. Beside it: start, 5 activities, the Update, the status upsert at the signature.
  expect(counts.actions - counts.timers).toBe(8);
  expect(upsertedKeys(history)).toEqual([['ContractStatus', 'SignatureStatus', 'WaitingReason']]);
  // What ops filter by is unchanged, and the server's own BuildIds attribute (no upsert, no action) names the code.
  const sa = (await handle.describe()).searchAttributes;
  expect(sa).toMatchObject({
    CrmContractId: [contractId],
    ContractStatus: ['in Durchführung'],
    SignatureStatus: ['gültig'],
    WaitingReason: ['none'],
  });
  expect(sa.BuildIds).toContain(`unversioned:${WORKFLOW_BUILD_ID}`);
  await recordHistory(handle, 'lean-click-signed.generation-2');

  // It replays (a replay worker has no build id: the recorded one decides) ...
  const bundle = await workflowBundle();
  await Worker.runReplayHistory({ workflowBundle: bundle, replayName: 'markerless' }, history, handle.workflowId);
  // ... and only because the id is in the history: without it the replay takes the patched branch and fails.
  const stripped = JSON.parse(historyToJSON(history)) as {
    events: Array<{ workflowTaskCompletedEventAttributes?: Record<string, unknown> }>;
  };
  for (const e of stripped.events) {
    delete e.workflowTaskCompletedEventAttributes?.workerVersion;
    delete e.workflowTaskCompletedEventAttributes?.workerDeploymentName;
  }
  await expect(
    Worker.runReplayHistory({ workflowBundle: bundle, replayName: 'stripped' }, stripped, handle.workflowId)
  ).rejects.toThrow(/nondeterminism/i);
});

test('a contract an older worker started (no build id) keeps its marker and finishes on a generation-2 worker', async () => {
  // A deployment in progress: only an older worker polls when the contract starts; the new one takes over after.
  await stack.worker.shutdown();
  const older = await startWorker(true);
  const { contractId, handle, contactId } = await awaitingSignature();
  await older.shutdown();
  await startWorker(false);
  const history = await signAndComplete(contractId, handle, contactId);

  expect(workflowCodeGeneration(firstTaskBuildId(history))).toBe(0);
  const counts = actionCounts(history);
  expect(counts).toMatchObject({ markers: 1, versionUpserts: 1, upserts: 1 });
  expect(upsertedKeys(history)).toEqual([
    ['TemporalChangeVersion'],
    ['ContractStatus', 'SignatureStatus', 'WaitingReason'],
  ]);
  await Worker.runReplayHistory(
    { workflowBundle: await workflowBundle(), replayName: 'older-start' },
    history,
    handle.workflowId
  );
});
