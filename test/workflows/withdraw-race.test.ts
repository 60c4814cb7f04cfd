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
 * - A second withdrawal while the first is still carried out (its mail waits at the mail server): every door answers
 *   SIGNATURE_WITHDRAWN, as they do once the workflow has ended.
 * - A withdrawal after the signature while the workflow still runs (its confirmation mail waits for the mail server):
 *   the API, the CLI and the outbox each answer SIGNATURE_ALREADY_CONFIRMED with the outcome that stands.
 *
 * Real parts: the Temporal dev server (a stopped worker there is a real one), a worker with the real activities, the
 * API over HTTP, the CLI as a subprocess, the outbox poller's activity, SQLite and (with SIGNFLOW_TEST_MYSQL_URL)
 * MariaDB, the SMTP inbox.
 */
import { WorkflowUpdateFailedError, WorkflowUpdateStage, type WorkflowHandle } from '@temporalio/client';
import { type ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import { contractHandle, contractStatus, startContractWorkflow } from '../../client/contract-client';
import { createWorker, type RunningWorker } from '../../worker/run-worker';
import { enqueueOutboxCommand, readOutboxRows } from '../../outbox/outbox-repository';
import { pollOutboxOnce } from '../../outbox/outbox.activities';
import { testDatabases } from '../../harness/databases';
import { startDevServer, workflowBundle, type DevServerHandle } from '../../harness/temporal';
import { contractWorkflowId, signUpdate, withdrawSignal, withdrawUpdate } from '../../workflows/definitions';
import { startApiStack, type ApiStack } from '../api/api-stack';
import { runCli } from '../cli/run-cli';
import { addSendableContract, startAwaitingSignature, type ContractStack } from '../helpers/contract-stack';
import { recordHistory } from '../helpers/histories';
import { eventually, settledResult } from '../helpers/waits';

jest.setTimeout(180_000);

let server: DevServerHandle;
let api: ApiStack;
let stack: ContractStack;
/** The worker that runs now: the stack's own until a test stops it, then one started again. */
let worker: RunningWorker;
/** Recorded from the SQLite run only (one set of files; both runs make the same histories). */
let record: typeof recordHistory = recordHistory;
/** Addresses the SMTP inbox defers with 451 (a mail server outage for them) while they are in this set. */
const deferred = new Set<string>();
/** Addresses whose RCPT TO the SMTP inbox answers only when the promise settles (the mail is with the server). */
const held = new Map<string, Promise<void>>();
/** Addresses the inbox was asked about while holding them. */
const holdAsked = new Set<string>();

describe.each(testDatabases())('on $name', (database) => {
  beforeAll(async () => {
    // One dev server per database: contract ids (and so workflow ids) repeat across the two databases.
    server = await startDevServer();
    api = await startApiStack(server, {
      db: database.name,
      config: { signature: { remindersEnabled: false, expiry: '30d' } },
      deferRecipient: (address) => deferred.has(address),
      holdRecipient: (address) => {
        const hold = held.get(address);
        if (hold) holdAsked.add(address);
        return hold;
      },
    });
    stack = api.stack;
    worker = stack.worker;
    record = database.name === 'sqlite' ? recordHistory : () => Promise.resolve();
  });

  afterAll(async () => {
    await worker?.shutdown();
    await api?.stop();
    await server?.stop();
  });

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
    const { contractId, state, handle } = await startAwaitingSignature(stack);
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
    await record(handle, 'withdraw-races-signature.signature-wins.after-lean-contract-path');
  });

  test('the withdrawRequest Update while the signature is written: it waits and answers already-signed', async () => {
    const { contractId, state, handle } = await startAwaitingSignature(stack);
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
    await record(handle, 'withdraw-races-signature.update-answers-already-signed');
  });

  test('the withdrawRequest Update first: the withdrawal wins, a signature while it is written is refused', async () => {
    const { contractId, state, handle } = await startAwaitingSignature(stack);
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
    await record(handle, 'withdraw-races-signature.withdraw-wins.after-lean-contract-path');
  });

  /** A contact of its own with this address (the SMTP inbox defers or holds mail by address). */
  async function addContact(firstName: string, lastName: string, email: string): Promise<number> {
    const c = stack.config.crm.contacts;
    const [inserted] = (await stack.t
      .db(c.table)
      .insert({ [c.firstName]: firstName, [c.lastName]: lastName, [c.email]: email }, [c.id])) as Array<
      number | Record<string, number>
    >;
    return typeof inserted === 'number' ? inserted : Number((inserted as Record<string, number>)[c.id]);
  }

  test('a second withdrawal while the first is still being carried out: every door answers SIGNATURE_WITHDRAWN', async () => {
    const email = `twice.${database.name}@example.org`;
    const contact = await addContact('Wanda', 'Twice', email);
    const { contractId, handle } = await startAwaitingSignature(stack, { contactId: contact });
    // The mail telling the contact of the withdrawal is held at the mail server: the workflow runs on meanwhile.
    let letMailThrough!: () => void;
    held.set(email, new Promise<void>((resolve) => (letMailThrough = resolve)));
    const cliEnv = {
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
      SIGNFLOW_TASK_QUEUE: stack.config.temporal.taskQueue,
      SIGNFLOW_DATABASE_URL: stack.t.url,
    };
    try {
      const first = await api.call('POST', `/api/v1/contracts/${contractId}/withdrawal`, { as: 'staff', body: {} });
      expect([first.status, first.json.result]).toEqual([200, 'withdrawn']);
      await eventually(async () => expect(holdAsked.has(email)).toBe(true), 60_000);
      expect((await handle.describe()).status.name).toBe('RUNNING');

      const viaApi = await api.call('POST', `/api/v1/contracts/${contractId}/withdrawal`, { as: 'staff', body: {} });
      expect([viaApi.status, viaApi.json.code]).toEqual([409, 'SIGNATURE_WITHDRAWN']);

      const viaCli = await runCli(['withdraw', '--json', String(contractId)], cliEnv);
      expect(viaCli.code).not.toBe(0);
      expect(viaCli.json<{ error: { code: string } }>().error.code).toBe('SIGNATURE_WITHDRAWN');

      const rowId = await enqueueOutboxCommand(stack.t.db, { command: 'withdraw', contractId });
      await pollOutboxOnce({ config: stack.config, db: stack.t.db, client: stack.client }, 'withdraw-twice', {
        batchSize: 10,
      });
      const [row] = await readOutboxRows(stack.t.db, [rowId]);
      expect(row?.outcome).toBe('failed');
      expect(row?.error).toMatch(/^SIGNATURE_WITHDRAWN: /);
      // Still the same run, still carrying out the first withdrawal.
      expect((await handle.describe()).status.name).toBe('RUNNING');
    } finally {
      letMailThrough();
      held.delete(email);
    }
    expect((await settledResult(stack.client, contractId)).outcome).toBe('withdrawn');
    // Refused Updates leave no trace: one withdrawal in the history, one withdrawal mail.
    expect(await messagesInHistory(handle)).toEqual(['u:withdrawRequest']);
    await eventually(async () =>
      expect(mailKeys(contractId)).toEqual([
        `${contractWorkflowId(contractId)}:invitation`,
        `${contractWorkflowId(contractId)}:withdrawal`,
      ])
    );
  });

  /**
   * A contract signed while the mail server defers its contact: the invitation waits, the signature comes from the
   * portal meanwhile (the invitation is then skipped), and the confirmation waits too, so the workflow keeps running.
   */
  async function signedWhileMailDeferred(tag: string) {
    const email = `${tag}.${database.name}@example.org`;
    deferred.add(email);
    const contact = await addContact('Lena', 'Late', email);
    const contractId = await addSendableContract(stack.t, contact);
    await startContractWorkflow(stack.client, stack.config, contractId);
    await eventually(async () =>
      expect((await contractStatus(stack.client, contractId)).mailTrouble?.mail).toBe('invitation')
    );
    const handle = contractHandle(stack.client, contractId);
    const outcome = await handle.executeUpdate(signUpdate, { args: [{ contactId: contact, method: 'click' }] });
    await eventually(async () =>
      expect((await contractStatus(stack.client, contractId)).mailTrouble?.mail).toBe('confirmation')
    );
    return { contractId, handle, outcome, release: () => deferred.delete(email) };
  }

  test('a withdrawal while the invitation is with the mail server answers once it went out, never before it', async () => {
    const email = `inflight.${database.name}@example.org`;
    let letMailThrough!: () => void;
    held.set(email, new Promise<void>((resolve) => (letMailThrough = resolve)));
    const contact = await addContact('Ina', 'Inflight', email);
    const contractId = await addSendableContract(stack.t, contact);
    await startContractWorkflow(stack.client, stack.config, contractId);
    const handle = contractHandle(stack.client, contractId);
    const invitationKey = `${contractWorkflowId(contractId)}:invitation`;
    const order: string[] = [];
    const unsubscribe = stack.inbox.onMessage((m) => {
      if (m.headers['x-signflow-mail-key'] === invitationKey) order.push('invitation in the inbox');
    });
    try {
      // The invitation has been handed to the mail server, which has not answered yet.
      await eventually(async () => expect(holdAsked.has(email)).toBe(true), 60_000);
      const answer = handle
        .executeUpdate(withdrawUpdate, { args: [{ reason: 'Vertrag entfällt' }] })
        .then((a) => (order.push('withdraw answered'), a));
      // The workflow has taken the withdrawal (the Update is accepted in its history) while the mail is still held.
      await eventually(async () => expect(await messagesInHistory(handle)).toContain('u:withdrawRequest'), 60_000);
      letMailThrough();
      expect(await answer).toEqual({ result: 'withdrawn' });
      // Before: `withdrawn` was answered at once, and the invitation arrived after the answer.
      expect(order).toEqual(['invitation in the inbox', 'withdraw answered']);
    } finally {
      unsubscribe();
      letMailThrough();
      held.delete(email);
    }
    const result = await settledResult(stack.client, contractId);
    expect(result).toMatchObject({ outcome: 'withdrawn' });
    expect(mailKeys(contractId).filter((k) => k.endsWith(':invitation'))).toEqual([invitationKey]);
    await record(handle, 'withdrawn-while-invitation-in-flight.after-withdraw-answers-after-mail-in-flight');
  });

  test('an SMTP outage shows its last error and next try in the status query, the current details, the API and the CLI', async () => {
    const { contractId, handle, release } = await signedWhileMailDeferred('outage');
    const state = await contractStatus(stack.client, contractId);
    expect(state.phase).toBe('confirming');
    expect(state.mailsSkipped).toEqual(['invitation']);
    expect(state.mailTrouble).toMatchObject({ mail: 'confirmation', lastError: expect.stringContaining('451') });
    const trouble = state.mailTrouble!;
    expect(Date.parse(trouble.nextRetryAt)).toBeGreaterThan(Date.parse(trouble.since));

    // The current details (what the Temporal UI shows) name the mail, the error and the next try.
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toContain('Mail confirmation');
    expect(metadata.currentDetails).toContain('451');
    expect(metadata.currentDetails).toContain('nächster Versuch');

    const viaApi = await api.call('GET', `/api/v1/contracts/${contractId}`, { as: 'ops' });
    expect(viaApi.status).toBe(200);
    expect(viaApi.json.state.mailTrouble).toMatchObject({
      mail: 'confirmation',
      lastError: expect.stringContaining('451'),
      nextRetryAt: expect.any(String),
    });

    const viaCli = await runCli(['status', String(contractId)], {
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
      SIGNFLOW_TASK_QUEUE: stack.config.temporal.taskQueue,
      SIGNFLOW_DATABASE_URL: stack.t.url,
    });
    expect(viaCli.code).toBe(0);
    expect(viaCli.stdout).toMatch(
      /mail trouble: +confirmation not sent yet \(\d+ attempts? since .*\); last error: .*451.*; next try /
    );
    // Signed: fixing an address and resending would not help, and the skipped invitation is not shown as pending.
    expect(viaCli.stdout).not.toContain('signflow resend');
    expect(viaCli.stdout).toMatch(/mail invitation: +skipped, not sent/);
    release();
  });

  test('a withdrawal after the signature, the workflow still running: every door answers already signed', async () => {
    const { contractId, handle, outcome, release } = await signedWhileMailDeferred('late');

    const viaApi = await api.call('POST', `/api/v1/contracts/${contractId}/withdrawal`, { as: 'staff', body: {} });
    expect([viaApi.status, viaApi.json.code]).toEqual([409, 'SIGNATURE_ALREADY_CONFIRMED']);
    expect(viaApi.json.details.outcome).toEqual(outcome);

    const viaCli = await runCli(['withdraw', '--json', String(contractId)], {
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
      SIGNFLOW_TASK_QUEUE: stack.config.temporal.taskQueue,
      SIGNFLOW_DATABASE_URL: stack.t.url,
    });
    expect(viaCli.code).not.toBe(0);
    expect(viaCli.json<{ error: { code: string; message: string } }>().error).toMatchObject({
      code: 'SIGNATURE_ALREADY_CONFIRMED',
      message: expect.stringContaining('the signature stands'),
    });

    const rowId = await enqueueOutboxCommand(stack.t.db, { command: 'withdraw', contractId });
    await pollOutboxOnce({ config: stack.config, db: stack.t.db, client: stack.client }, 'withdraw-race', {
      batchSize: 10,
    });
    const [row] = await readOutboxRows(stack.t.db, [rowId]);
    expect(row?.outcome).toBe('failed');
    expect(row?.error).toMatch(/^SIGNATURE_ALREADY_CONFIRMED: .*the signature stands/);

    // Each withdrawal reached the workflow and was answered there; the signature stands.
    const answered = (await messagesInHistory(handle)).filter((m) => m === 'u:withdrawRequest');
    expect(answered).toHaveLength(3);
    expect(await signatureStatus(outcome.signatureId)).toBe(stack.config.crm.values.signatureValid);
    expect((await contractStatus(stack.client, contractId)).phase).toBe('confirming');
    release();
  });
});
