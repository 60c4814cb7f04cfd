/**
 * A withdrawal racing a signature, both ways, on the current workflow code (issue 11.3 and its replay proof): the
 * messages are made to meet the workflow at the moment that decides the race, so each test has one known winner, and
 * the histories are recorded for test/replay.
 *
 * - The `withdraw` signal and the `sign` Update in one workflow task (the worker is stopped while both arrive): the
 *   signature wins and the late signal changes nothing. Before the lean path this order did not replay (TMPRL1100).
 * - The `withdrawRequest` Update while the signature is being written (the CRM's signature row is locked by the test
 *   meanwhile): the withdrawal waits for the write and answers `already-signed` with the outcome.
 * - The `withdrawRequest` Update first, a `sign` while the withdrawal is being written: the withdrawal wins, the
 *   signature is refused with SIGNATURE_WITHDRAWN and nothing of it is recorded.
 *
 * Real parts: the Temporal dev server (a stopped worker there is a real one), a worker with the real activities,
 * SQLite (or MariaDB with SIGNFLOW_TEST_MYSQL_URL, see harness/databases.ts), the SMTP inbox.
 */
import { WorkflowUpdateFailedError, WorkflowUpdateStage, type WorkflowHandle } from '@temporalio/client';
import { type ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import { contractHandle, contractStatus, startContractWorkflow } from '../../client/contract-client';
import { createWorker, type RunningWorker } from '../../worker/run-worker';
import { startDevServer, workflowBundle, type DevServerHandle } from '../../harness/temporal';
import {
  contractWorkflowId,
  signUpdate,
  withdrawSignal,
  withdrawUpdate,
  type ContractState,
} from '../../workflows/definitions';
import { addSendableContract, startContractStack, type ContractStack } from '../helpers/contract-stack';
import { recordHistory } from '../helpers/histories';
import { eventually, settledResult } from '../helpers/waits';

jest.setTimeout(180_000);

let server: DevServerHandle;
let stack: ContractStack;
/** The worker that runs now: the stack's own until a test stops it, then one started again. */
let worker: RunningWorker;

beforeAll(async () => {
  server = await startDevServer();
  stack = await startContractStack(server.env, { config: { signature: { remindersEnabled: false, expiry: '30d' } } });
  worker = stack.worker;
});

afterAll(async () => {
  await worker?.shutdown();
  await stack?.stop();
  await server?.stop();
});

async function awaitingSignature(): Promise<{ contractId: number; state: ContractState; handle: WorkflowHandle }> {
  const contractId = await addSendableContract(stack.t);
  await startContractWorkflow(stack.client, stack.config, contractId);
  const state = await eventually(async () => {
    const s = await contractStatus(stack.client, contractId);
    expect(s.phase).toBe('awaiting-signature');
    return s;
  }, 60_000);
  return { contractId, state, handle: contractHandle(stack.client, contractId) };
}

/** Stops the running worker, runs `whileStopped` (what it sends waits at the server), then starts a worker again. */
async function withWorkerStopped<T>(whileStopped: () => Promise<T>): Promise<T> {
  await worker.shutdown();
  const result = await whileStopped();
  worker = await createWorker(stack.config, {
    connection: server.env.nativeConnection,
    workflowBundle: await workflowBundle(),
    db: stack.t.db,
    temporalClient: server.env.client,
  });
  return result;
}

/**
 * Holds a write lock on the contract's signature row until `release` is called: the workflow's next write to it
 * (recording the signature, voiding the request) waits meanwhile, so a message sent now meets that write in flight.
 */
async function lockSignatureRow(signatureId: number): Promise<{ release: () => Promise<void> }> {
  const s = stack.config.crm.signatures;
  const trx: Knex.Transaction = await stack.t.db.transaction();
  const [row] = await trx(s.table).where(s.id, signatureId).select(s.status);
  await trx(s.table)
    .where(s.id, signatureId)
    .update({ [s.status]: (row as Record<string, unknown>)[s.status] });
  return { release: () => trx.commit().then(() => undefined) };
}

async function signatureStatus(signatureId: number): Promise<unknown> {
  const s = stack.config.crm.signatures;
  const row = (await stack.t.db(s.table).where(s.id, signatureId).first()) as Record<string, unknown>;
  return row[s.status];
}

const mailKeys = (contractId: number): string[] =>
  stack.inbox
    .messages()
    .map((m) => m.headers['x-signflow-mail-key'] ?? '')
    .filter((k) => k.startsWith(`${contractWorkflowId(contractId)}:`))
    .sort();

/** The names of the Updates and signals in the history, in order (`u:` Update accepted, `s:` signal). */
async function messagesInHistory(handle: WorkflowHandle): Promise<string[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.flatMap((e) => {
    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name;
    if (accepted) return [`u:${accepted}`];
    const signal = e.workflowExecutionSignaledEventAttributes?.signalName;
    return signal ? [`s:${signal}`] : [];
  });
}

test('the withdraw signal and the sign Update in one workflow task: the signature wins, the signal changes nothing', async () => {
  const { contractId, state, handle } = await awaitingSignature();
  const contactId = state.contactId as number;
  // Wrapped: an async function returning the pending Update itself would wait for it, and so for the worker.
  const { signed } = await withWorkerStopped(async () => {
    await handle.signal(withdrawSignal, { staffContactId: stack.t.seed.staffContactId });
    // Admitted by the server now, accepted only once a worker runs the task that also carries the signal.
    const pending = handle.startUpdate(signUpdate, {
      args: [{ contactId, method: 'click' }],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    // The signal is in the history before any worker saw either message.
    await eventually(async () => expect(await messagesInHistory(handle)).toEqual(['s:withdraw']));
    return { signed: pending };
  });
  const outcome = await (await signed).result();
  expect(outcome).toMatchObject({ kind: 'signed', userContactId: contactId });
  const result = await settledResult(stack.client, contractId);
  expect(result.outcome).toBe('signed');
  expect(await signatureStatus(state.signatureId as number)).toBe(stack.config.crm.values.signatureValid);
  await eventually(async () =>
    expect(mailKeys(contractId)).toEqual([
      `${contractWorkflowId(contractId)}:confirmation`,
      `${contractWorkflowId(contractId)}:invitation`,
    ])
  );
  expect(await messagesInHistory(handle)).toEqual(['s:withdraw', 'u:sign']);
  await recordHistory(handle, 'withdraw-races-signature.signature-wins.after-lean-contract-path');
});

test('the withdrawRequest Update while the signature is written: it waits and answers already-signed', async () => {
  const { contractId, state, handle } = await awaitingSignature();
  const contactId = state.contactId as number;
  const lock = await lockSignatureRow(state.signatureId as number);
  let answer;
  try {
    const signing = await handle.startUpdate(signUpdate, {
      args: [{ contactId, method: 'click' }],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    // The signature is being written (and waits for the lock): the race is open.
    await eventually(async () => expect((await contractStatus(stack.client, contractId)).phase).toBe('recording'));
    const withdrawing = await handle.startUpdate(withdrawUpdate, {
      args: [{ staffContactId: stack.t.seed.staffContactId, reason: 'zu spät' }],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    await lock.release();
    answer = { signed: await signing.result(), withdrawn: await withdrawing.result() };
  } finally {
    await lock.release().catch(() => undefined);
  }
  expect(answer.withdrawn).toEqual({ result: 'already-signed', outcome: answer.signed });
  expect((await settledResult(stack.client, contractId)).outcome).toBe('signed');
  expect(await signatureStatus(state.signatureId as number)).toBe(stack.config.crm.values.signatureValid);
  expect(await messagesInHistory(handle)).toEqual(['u:sign', 'u:withdrawRequest']);
  await recordHistory(handle, 'withdraw-races-signature.update-answers-already-signed');
});

test('the withdrawRequest Update first: the withdrawal wins, a signature while it is written is refused', async () => {
  const { contractId, state, handle } = await awaitingSignature();
  const contactId = state.contactId as number;
  const lock = await lockSignatureRow(state.signatureId as number);
  let refused: unknown;
  try {
    const answer = await handle.executeUpdate(withdrawUpdate, {
      args: [{ staffContactId: stack.t.seed.staffContactId, reason: 'Honorar neu verhandelt' }],
    });
    expect(answer).toEqual({ result: 'withdrawn' });
    // The void waits for the lock: the workflow is still open when the signature arrives.
    expect((await handle.describe()).status.name).toBe('RUNNING');
    refused = await handle.executeUpdate(signUpdate, { args: [{ contactId, method: 'click' }] }).then(
      () => undefined,
      (err: unknown) => err
    );
  } finally {
    await lock.release();
  }
  expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
  expect(((refused as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe('SIGNATURE_WITHDRAWN');
  expect((await settledResult(stack.client, contractId)).outcome).toBe('withdrawn');
  expect(await signatureStatus(state.signatureId as number)).toBe(stack.config.crm.values.signatureWithdrawn);
  await eventually(async () =>
    expect(mailKeys(contractId)).toEqual([
      `${contractWorkflowId(contractId)}:invitation`,
      `${contractWorkflowId(contractId)}:withdrawal`,
    ])
  );
  // A refused Update leaves no trace in the history: only the withdrawal is there.
  expect(await messagesInHistory(handle)).toEqual(['u:withdrawRequest']);
  await recordHistory(handle, 'withdraw-races-signature.withdraw-wins.after-lean-contract-path');
});
