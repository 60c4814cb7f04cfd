/**
 * The contract path without a patch marker (issue 9, target 3): a contract whose first workflow task a worker of
 * generation 2 or later completed calls no `patched()`, so its history has no marker and no `TemporalChangeVersion`
 * upsert, and it replays on that branch because the server recorded the worker's build id with the task
 * (workflows/definitions.ts `WORKFLOW_CODE_GENERATION`, worker/workflow-build.ts). From generation 3 on the `sign` and
 * `confirmManually` Updates record with a local activity: one workflow task for the Update, a local-activity marker in
 * the history instead of an activity (issue 9, targets 1 and 2). From generation 4 on the confirmation mail is a local
 * activity too, run in the workflow task the certificate's completion starts, and from generation 5 on step 2
 * (`loadAndPrepareSignatureRequest`) runs as a local activity in the contract's first workflow task (issue 9, target 1).
 *
 * Real parts: the Temporal dev server (it records build ids), the time-skipping test server (it does not), workers with
 * the real activities, SQLite, the SMTP inbox. The action counts are the bench's (bench/actions.ts).
 */
import { WorkflowUpdateStage, type WorkflowHandle, type WorkflowUpdateHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { actionCounts, LOCAL_ACTIVITY_MARKER } from '../../bench/actions';
import { contractHandle, contractStatus, startContractWorkflow } from '../../client/contract-client';
import { createTimeSkippingEnv, startDevServer, workflowBundle, type DevServerHandle } from '../../harness/temporal';
import { createWorker, type RunningWorker } from '../../worker/run-worker';
import { workflowBuildOptions } from '../../worker/workflow-build';
import {
  contractWorkflowId,
  signUpdate,
  withdrawUpdate,
  WORKFLOW_BUILD_ID,
  workflowCodeGeneration,
} from '../../workflows/definitions';
import {
  addSendableContract,
  startAwaitingSignature,
  startContractStack,
  untilAwaitingSignature,
  type ContractStack,
} from '../helpers/contract-stack';
import { recordHistory } from '../helpers/histories';
import { eventually, settledResult } from '../helpers/waits';
import { ErrorCode } from '../../domain/errors';

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

/**
 * A worker of the stack's config and database: `current` gives the server this code's build id, `older` none (code
 * before build ids), `generation-2` the build id of generation 2 (the code before local recording, as far as a
 * contract started on it is concerned: it branches on the recorded id only), `generation-3` that of generation 3 (the
 * code before the local confirmation mail), `generation-4` that of generation 4 (before the local preparation).
 */
type WorkerKind = 'current' | 'older' | 'generation-2' | 'generation-3' | 'generation-4';

async function startWorker(kind: WorkerKind): Promise<RunningWorker> {
  const worker = await createWorker(stack.config, {
    connection: server.env.nativeConnection,
    workflowBundle: await workflowBundle(),
    db: stack.t.db,
    temporalClient: server.env.client,
    workerOptions:
      kind === 'older'
        ? { workerDeploymentOptions: undefined }
        : kind === 'generation-2' || kind === 'generation-3' || kind === 'generation-4'
          ? {
              workerDeploymentOptions: {
                version: { deploymentName: 'signflow', buildId: `signflow-workflows-${kind.slice(-1)}` },
                useWorkerVersioning: false,
              },
            }
          : undefined,
  });
  extraWorkers.push(worker);
  return worker;
}

let stackWorkerRunning = true;
/** Stops every worker polling the stack's queue and starts one of `kind`: it alone takes the next start. */
async function onlyWorker(kind: WorkerKind): Promise<RunningWorker> {
  if (stackWorkerRunning) {
    stackWorkerRunning = false;
    await stack.worker.shutdown();
  }
  for (const w of extraWorkers.splice(0)) await w.shutdown().catch(() => undefined);
  return startWorker(kind);
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

/** The activity types the history schedules as activities, and the local activities its markers record. */
function steps(history: History): { activities: string[]; localActivities: string[] } {
  const events = history.events ?? [];
  return {
    activities: events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []),
    localActivities: events.flatMap((e) => {
      const m = e.markerRecordedEventAttributes;
      if (m?.markerName !== LOCAL_ACTIVITY_MARKER) return [];
      // Core writes the marker's `data` as JSON (seq, attempt, activity id and type, times).
      const data = m.details?.data?.payloads?.[0]?.data;
      return [
        String((JSON.parse(Buffer.from(data ?? []).toString('utf8')) as { activity_type?: string }).activity_type),
      ];
    }),
  };
}

/** Workflow tasks completed, and those the Update was accepted in and completed in. */
function updateTasks(history: History): { tasks: number; acceptedIn?: string; completedIn?: string } {
  const events = history.events ?? [];
  // The Update's events follow the WorkflowTaskCompleted of the task that produced them.
  let lastCompleted: string | undefined;
  let acceptedIn: string | undefined;
  let completedIn: string | undefined;
  for (const e of events) {
    if (e.workflowTaskCompletedEventAttributes) lastCompleted = String(e.eventId);
    if (e.workflowExecutionUpdateAcceptedEventAttributes) acceptedIn = lastCompleted;
    if (e.workflowExecutionUpdateCompletedEventAttributes) completedIn = lastCompleted;
  }
  return { tasks: events.filter((e) => e.workflowTaskCompletedEventAttributes).length, acceptedIn, completedIn };
}

/** The build id the server recorded with the first completed workflow task. */
const firstTaskBuildId = (history: History): string | undefined =>
  (history.events ?? []).find((e) => e.workflowTaskCompletedEventAttributes)?.workflowTaskCompletedEventAttributes
    ?.workerVersion?.buildId ?? undefined;

test('the build id names the generation; any other id (the SDK default, none) is generation 0', () => {
  expect(workflowCodeGeneration(WORKFLOW_BUILD_ID)).toBe(5);
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

test("a plain contract on a generation-5 worker: prepared by a local activity in the first task, the signature recorded by a local activity in the Update's one task, the confirmation mail a local activity, no patch marker, 8 actions", async () => {
  const { contractId, handle, contactId } = await startAwaitingSignature(stack);
  const history = await signAndComplete(contractId, handle, contactId);

  expect(firstTaskBuildId(history)).toBe(WORKFLOW_BUILD_ID);
  // The recording is a local activity: no ActivityTaskScheduled for it, one marker, in the task that accepted and
  // completed the Update. So is the confirmation mail (generation 4): one marker, in the task the certificate's
  // completion started, which also completed the workflow. So is step 2 (generation 5), in the first task.
  expect(steps(history)).toEqual({
    activities: ['sendContractMail', 'createCompletionCertificate'],
    localActivities: ['loadAndPrepareSignatureRequest', 'recordSignature', 'sendContractMail'],
  });
  // The task that recorded the mail's marker also completed the workflow: no activity task and no workflow task of
  // its own for the confirmation.
  const events = history.events ?? [];
  const mailMarker = events.find(
    (e) =>
      e.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER &&
      Buffer.from(e.markerRecordedEventAttributes.details?.data?.payloads?.[0]?.data ?? []).includes(
        '"activity_type":"sendContractMail"'
      )
  );
  const completed = events.find((e) => e.workflowExecutionCompletedEventAttributes);
  expect(String(mailMarker?.markerRecordedEventAttributes?.workflowTaskCompletedEventId)).toBe(
    String(completed?.workflowExecutionCompletedEventAttributes?.workflowTaskCompletedEventId)
  );
  // The first workflow task prepared the request and scheduled the invitation: no task of its own for step 2.
  const prepareMarker = events.find(
    (e) =>
      e.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER &&
      Buffer.from(e.markerRecordedEventAttributes.details?.data?.payloads?.[0]?.data ?? []).includes(
        '"activity_type":"loadAndPrepareSignatureRequest"'
      )
  );
  const invitation = events.find((e) => e.activityTaskScheduledEventAttributes);
  const prepareTask = String(prepareMarker?.markerRecordedEventAttributes?.workflowTaskCompletedEventId);
  expect(String(invitation?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId)).toBe(prepareTask);
  // On a loaded machine the local preparation may outlive the first task's heartbeat deadline (80 % of the task
  // timeout): the SDK then completes that task empty and goes on in a new one. Such heartbeat tasks carry no command;
  // any task before the preparation's must be one of them, so step 2 still has no task of its own.
  const tasksBefore = events.filter(
    (e) => e.workflowTaskCompletedEventAttributes && Number(e.eventId) < Number(prepareTask)
  );
  for (const task of tasksBefore) {
    const next = events.find((e) => Number(e.eventId) === Number(task.eventId) + 1);
    expect(next?.workflowTaskScheduledEventAttributes).toBeDefined();
  }
  const update = updateTasks(history);
  expect(update.acceptedIn).toBeDefined();
  expect(update.completedIn).toBe(update.acceptedIn);
  const counts = actionCounts(history);
  expect(counts).toMatchObject({
    starts: 1,
    activities: 2,
    localActivities: 3,
    localActivityTasks: 3,
    messages: 1,
    upserts: 1,
    markers: 0,
    versionUpserts: 0,
  });
  // The expiry timer exists when the `sign` Update came after the workflow began to wait (here: always, it waited for
  // the test); the floor has no expiry. Beside it: start, 2 activities, the preparation's, the recording's and the
  // confirmation's workflow tasks (one action each for their local activities), the Update, the status upsert at the
  // signature.
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
  await recordHistory(handle, 'lean-click-signed.generation-5');

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

test('staff confirmation on a generation-5 worker: recorded by a local activity too', async () => {
  const { contractId, handle } = await startAwaitingSignature(stack);
  await handle.executeUpdate('confirmManually', { args: [{ staffContactId: stack.t.seed.staffContactId }] });
  expect(await settledResult(stack.client, contractId)).toMatchObject({ contractId, outcome: 'confirmed' });
  const history = await handle.fetchHistory();
  expect(steps(history).localActivities).toEqual([
    'loadAndPrepareSignatureRequest',
    'recordManualConfirmation',
    'sendContractMail',
  ]);
  expect(steps(history).activities).toEqual(['sendContractMail', 'createCompletionCertificate']);
  const update = updateTasks(history);
  expect(update.completedIn).toBe(update.acceptedIn);
  expect(actionCounts(history)).toMatchObject({ markers: 0, versionUpserts: 0, localActivityTasks: 3 });
  await recordHistory(handle, 'staff-confirmed.generation-5');
});

test('a contract a generation-2 worker started keeps the recording activity on a generation-5 worker', async () => {
  await onlyWorker('generation-2');
  const { contractId, handle, contactId } = await startAwaitingSignature(stack);
  await onlyWorker('current');
  const history = await signAndComplete(contractId, handle, contactId);

  expect(workflowCodeGeneration(firstTaskBuildId(history))).toBe(2);
  // Ops find it by the build id of its start; the one that finished it is listed too (docs/ops.md).
  expect((await handle.describe()).searchAttributes.BuildIds).toEqual(
    expect.arrayContaining(['unversioned:signflow-workflows-2', `unversioned:${WORKFLOW_BUILD_ID}`])
  );
  expect(steps(history)).toEqual({
    activities: [
      'loadAndPrepareSignatureRequest',
      'sendContractMail',
      'recordSignature',
      'createCompletionCertificate',
      'sendContractMail',
    ],
    localActivities: [],
  });
  expect(actionCounts(history)).toMatchObject({ markers: 0, versionUpserts: 0, localActivityTasks: 0 });
  await Worker.runReplayHistory(
    { workflowBundle: await workflowBundle(), replayName: 'generation-2-start' },
    history,
    handle.workflowId
  );
});

test('a contract a generation-3 worker started keeps the confirmation mail an activity on a generation-5 worker', async () => {
  await onlyWorker('generation-3');
  const { contractId, handle, contactId } = await startAwaitingSignature(stack);
  await onlyWorker('current');
  const history = await signAndComplete(contractId, handle, contactId);

  expect(workflowCodeGeneration(firstTaskBuildId(history))).toBe(3);
  expect(steps(history)).toEqual({
    activities: [
      'loadAndPrepareSignatureRequest',
      'sendContractMail',
      'createCompletionCertificate',
      'sendContractMail',
    ],
    localActivities: ['recordSignature'],
  });
  expect(actionCounts(history)).toMatchObject({ markers: 0, versionUpserts: 0, localActivityTasks: 1 });
  await Worker.runReplayHistory(
    { workflowBundle: await workflowBundle(), replayName: 'generation-3-start' },
    history,
    handle.workflowId
  );
});

test('a contract a generation-4 worker started keeps step 2 an activity on a generation-5 worker', async () => {
  await onlyWorker('generation-4');
  const { contractId, handle, contactId } = await startAwaitingSignature(stack);
  await onlyWorker('current');
  const history = await signAndComplete(contractId, handle, contactId);

  expect(workflowCodeGeneration(firstTaskBuildId(history))).toBe(4);
  expect(steps(history)).toEqual({
    activities: ['loadAndPrepareSignatureRequest', 'sendContractMail', 'createCompletionCertificate'],
    localActivities: ['recordSignature', 'sendContractMail'],
  });
  expect(actionCounts(history)).toMatchObject({ markers: 0, versionUpserts: 0, localActivityTasks: 2 });
  await Worker.runReplayHistory(
    { workflowBundle: await workflowBundle(), replayName: 'generation-4-start' },
    history,
    handle.workflowId
  );
});

test('a refused preparation fails the contract as the activity did: same code, message, details, search attributes, nothing written', async () => {
  const seed = stack.t.seed;
  const run = async (kind: WorkerKind, contractId: number) => {
    await onlyWorker(kind);
    await startContractWorkflow(stack.client, stack.config, contractId);
    const handle = contractHandle(stack.client, contractId);
    const err = (await handle.result().then(
      () => undefined,
      (e: unknown) => e
    )) as { cause?: { type?: string; message?: string; nonRetryable?: boolean; details?: unknown[] } } | undefined;
    const history = await handle.fetchHistory();
    const sa = (await handle.describe()).searchAttributes;
    return {
      failure: {
        type: err?.cause?.type,
        message: err?.cause?.message,
        nonRetryable: err?.cause?.nonRetryable,
        details: err?.cause?.details,
      },
      sa: {
        ContractStatus: sa.ContractStatus ?? [],
        SignatureStatus: sa.SignatureStatus ?? [],
        WaitingReason: sa.WaitingReason,
      },
      history,
    };
  };
  const countRows = async (id: number) =>
    Promise.all([
      stack.t.db('signflow_requests').where('contract_id', id).count({ n: '*' }),
      stack.t.db('signflow_mails').where('contract_id', id).count({ n: '*' }),
    ]);
  for (const [contractId, code] of [
    [987_650, ErrorCode.CONTRACT_NOT_FOUND],
    [seed.invalidEmailContractId, ErrorCode.CONTACT_EMAIL_INVALID],
  ] as const) {
    const before = await countRows(contractId);
    const local = await run('current', contractId);
    expect(workflowCodeGeneration(firstTaskBuildId(local.history))).toBe(5);
    expect(steps(local.history)).toEqual({ activities: [], localActivities: ['loadAndPrepareSignatureRequest'] });
    // The same contract on the activity path (a contract a generation-4 worker started): a new run of its workflow id.
    const remote = await run('generation-4', contractId);
    expect(steps(remote.history)).toEqual({ activities: ['loadAndPrepareSignatureRequest'], localActivities: [] });
    expect(local.failure).toMatchObject({ type: code, nonRetryable: true });
    expect(remote.failure).toEqual(local.failure);
    expect(local.sa).toEqual({ ContractStatus: [], SignatureStatus: [], WaitingReason: ['none'] });
    expect(remote.sa).toEqual(local.sa);
    expect(await countRows(contractId)).toEqual(before);
  }
  await onlyWorker('current');
});

test('Updates sent before a worker ran the first workflow task are refused SIGNATURE_NOT_READY on generations 5 and 4 alike: nothing of them recorded, the contract goes on and takes a later signature', async () => {
  const crm = stack.config.crm;
  /** What the CRM and signflow's tables hold of the contract. */
  const rows = async (contractId: number) => {
    const contract = (await stack.t.db(crm.contracts.table).where(crm.contracts.id, contractId).first()) as Record<
      string,
      unknown
    >;
    const linked = (table: string, type: string, id: string) =>
      stack.t.db(table).where({ [type]: crm.values.contractObjectType, [id]: contractId });
    const signatures = (await linked(
      crm.signatures.table,
      crm.signatures.linkedObjectType,
      crm.signatures.linkedObjectId
    )) as Record<string, unknown>[];
    const documents = (await linked(
      crm.documents.table,
      crm.documents.linkedObjectType,
      crm.documents.linkedObjectId
    )) as Record<string, unknown>[];
    const mails = (await stack.t
      .db('signflow_mails')
      .where('contract_id', contractId)
      .orderBy('mail_key')
      .select('mail_key', 'status')) as { mail_key: string; status: string }[];
    const audit = (await stack.t.db('signflow_audit_events').where('contract_id', contractId).select('event')) as {
      event: string;
    }[];
    const workflowId = contractWorkflowId(contractId);
    return {
      contractStatus: contract[crm.contracts.status],
      signatures: signatures.map((s) => s[crm.signatures.status]),
      documents: documents.map((d) => d[crm.documents.templateKind]).sort(),
      requests: (await stack.t.db('signflow_requests').where('contract_id', contractId)).length,
      mails: mails.map((m) => `${m.mail_key.replace(`${workflowId}:`, '')} ${m.status}`),
      inbox: stack.inbox
        .messages()
        .map((m) => String(m.headers['x-signflow-mail-key']))
        .filter((key) => key.startsWith(`${workflowId}:`))
        .map((key) => key.replace(`${workflowId}:`, ''))
        .sort(),
      recorded: audit.filter((a) => ['signature-recorded', 'signature-withdrawn'].includes(a.event)).length,
    };
  };
  const early = async (kind: WorkerKind) => {
    // No worker polls while the messages arrive.
    const worker = await onlyWorker(kind);
    await worker.shutdown();
    extraWorkers.splice(0);
    const contractId = await addSendableContract(stack.t);
    await startContractWorkflow(stack.client, stack.config, contractId);
    const handle = contractHandle(stack.client, contractId);
    // `startUpdate` resolves once the worker answered, accepted or rejected alike: only the Update's result tells which
    // (the doors' `executeUpdate` throws the rejection, commands/ maps its code).
    const answer = async (started: Promise<WorkflowUpdateHandle<unknown>>) =>
      (await started).result().then(
        () => 'accepted',
        (e: unknown) => (e as { cause?: { type?: string } }).cause?.type ?? String(e)
      );
    const sign = answer(
      handle.startUpdate(signUpdate, {
        args: [{ contactId: stack.t.seed.contactIds[0] as number, method: 'click' }],
        updateId: 'early-sign',
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      })
    );
    const withdraw = answer(
      handle.startUpdate(withdrawUpdate, {
        args: [{ staffContactId: stack.t.seed.staffContactId }],
        updateId: 'early-withdraw',
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      })
    );
    // Both admitted by the server before any worker saw the contract.
    for (const updateId of ['early-sign', 'early-withdraw']) {
      await eventually(async () => {
        const polled = await stack.client.workflowService.pollWorkflowExecutionUpdate({
          namespace: server.namespace,
          updateRef: { workflowExecution: { workflowId: contractWorkflowId(contractId) }, updateId },
          waitPolicy: {
            lifecycleStage:
              temporal.api.enums.v1.UpdateWorkflowExecutionLifecycleStage
                .UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED,
          },
        });
        expect(polled.stage).toBeDefined();
      });
    }
    await startWorker(kind);
    const answers = { sign: await sign, withdraw: await withdraw };
    const state = await untilAwaitingSignature(stack.client, contractId);
    await stack.waitForMail((m) => m.headers['x-signflow-mail-key'] === `${contractWorkflowId(contractId)}:invitation`);
    // The invitation's row says `sent` once its activity completed, before the workflow waits.
    const before = await rows(contractId);
    const history = await handle.fetchHistory();
    return { contractId, handle, answers, state, before, history };
  };
  const local = await early('current');
  const remote = await early('generation-4');
  expect(workflowCodeGeneration(firstTaskBuildId(local.history))).toBe(5);
  expect(workflowCodeGeneration(firstTaskBuildId(remote.history))).toBe(4);
  expect(steps(local.history).localActivities).toEqual(['loadAndPrepareSignatureRequest']);
  expect(steps(remote.history).activities.slice(0, 1)).toEqual(['loadAndPrepareSignatureRequest']);
  for (const c of [local, remote]) {
    // Refused by the validators (the signature record did not exist yet), as the doors document it.
    expect(c.answers).toEqual({ sign: ErrorCode.SIGNATURE_NOT_READY, withdraw: ErrorCode.SIGNATURE_NOT_READY });
    // A rejected Update leaves nothing in the history.
    expect(
      (c.history.events ?? []).filter(
        (e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionUpdateCompletedEventAttributes
      )
    ).toEqual([]);
    expect(c.state).toMatchObject({ phase: 'awaiting-signature' });
    expect(c.state.outcome).toBeUndefined();
    expect(c.before).toEqual({
      contractStatus: crm.values.contractSent,
      signatures: [crm.values.signaturePending],
      documents: [crm.values.contractTemplateKind],
      requests: 1,
      mails: ['invitation sent'],
      inbox: ['invitation'],
      recorded: 0,
    });
  }
  // The contract goes on as if they had not come: a signature now is recorded once, the contract completes.
  for (const c of [local, remote]) {
    const history = await signAndComplete(c.contractId, c.handle, c.state.contactId as number);
    expect(history.events?.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);
    expect(await rows(c.contractId)).toEqual({
      contractStatus: crm.values.contractInProgress,
      signatures: [crm.values.signatureValid],
      documents: [crm.values.contractTemplateKind, crm.values.certificateTemplateKind].sort(),
      requests: 1,
      mails: ['confirmation sent', 'invitation sent'],
      inbox: ['confirmation', 'invitation'],
      recorded: 1,
    });
  }
  await onlyWorker('current');
});

test('a domain failure of the recording answers the Update as the activity did: same type, message and details', async () => {
  // Starts with the PNG signature (the validator's cheap check) but is no PNG: the recording refuses it.
  const notPng = 'iVBORw0KGgoAAAAAAAAAAAAA';
  const failureOf = async (handle: WorkflowHandle, contactId: number) => {
    const err = (await handle
      .executeUpdate('sign', { args: [{ contactId, method: 'drawn', imagePngBase64: notPng }] })
      .then(
        () => undefined,
        (e: unknown) => e
      )) as { cause?: { type?: string; message?: string; nonRetryable?: boolean; details?: unknown[] } } | undefined;
    const cause = err?.cause;
    return { type: cause?.type, message: cause?.message, nonRetryable: cause?.nonRetryable, details: cause?.details };
  };
  await onlyWorker('current');
  const local = await startAwaitingSignature(stack);
  const localFailure = await failureOf(local.handle, local.contactId);
  // The same on the activity path: a contract a generation-2 worker started.
  await onlyWorker('generation-2');
  const remote = await startAwaitingSignature(stack);
  const remoteFailure = await failureOf(remote.handle, remote.contactId);
  await onlyWorker('current');

  expect(localFailure).toEqual({
    type: ErrorCode.INVALID_SIGNATURE_INPUT,
    message: `The signature image for contract ${local.contractId} is not a valid PNG.`,
    nonRetryable: true,
    details: [expect.objectContaining({ contractId: local.contractId })],
  });
  expect(remoteFailure).toEqual({
    ...localFailure,
    message: localFailure.message?.replace(String(local.contractId), String(remote.contractId)),
    details: [{ ...(localFailure.details?.[0] as object), contractId: remote.contractId }],
  });
  // Refused, nothing recorded: both still wait for the signature and take a valid one.
  for (const c of [local, remote]) {
    expect((await contractStatus(stack.client, c.contractId)).phase).toBe('awaiting-signature');
  }
  const history = await signAndComplete(local.contractId, local.handle, local.contactId);
  expect(steps(history).localActivities).toEqual([
    'loadAndPrepareSignatureRequest',
    'recordSignature',
    'recordSignature',
    'sendContractMail',
  ]);
});

test('a contract an older worker started (no build id) keeps its marker and finishes on a generation-5 worker', async () => {
  // A deployment in progress: only an older worker polls when the contract starts; the new one takes over after.
  await onlyWorker('older');
  const { contractId, handle, contactId } = await startAwaitingSignature(stack);
  await onlyWorker('current');
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
