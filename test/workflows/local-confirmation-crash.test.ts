/**
 * Generation 4 sends the confirmation mail as a local activity, in the workflow task the Prüfprotokoll's completion
 * starts. A worker killed while that attempt runs leaves no event of its own: the server times the workflow task out
 * and the next task, on another worker, runs the attempt again. The contract must complete, the mail arrive once (or,
 * when the worker died after the SMTP server took it and before its row said `sent`, a second time with the same
 * Message-ID), and the chaos count (chaos/lost-mail-attempts.ts) must allow that second copy from the history alone.
 *
 * The same door behaviour as the activity: a confirmation the recipient's server refuses for good (550) keeps the
 * contract (completed, `mailsRejected`), one it defers (451) is tried again by the workflow's own loop, with `status`
 * saying so meanwhile.
 *
 * Real parts: the Temporal dev server, a real worker process (the only fault is its SIGKILL inside the mail attempt,
 * test/helpers/crash-in-local-mail-worker.ts), a worker in this process that takes over, SQLite and MariaDB, the SMTP
 * inbox (its 550 and 451 answers are real SMTP replies).
 */
import { contractHandle, contractStatus } from '../../client/contract-client';
import { workflowBundle, type DevServerHandle } from '../../harness/temporal';
import { createWorker, type RunningWorker } from '../../worker/run-worker';
import { contractWorkflowId, type SignatureOutcome } from '../../workflows/definitions';
import { LOCAL_ACTIVITY_MARKER } from '../../bench/actions';
import { lostMailAttempts } from '../../chaos/lost-mail-attempts';
import { startAwaitingSignature, startDevContractStack, type ContractStack } from '../helpers/contract-stack';
import { testDatabases } from '../helpers/databases';
import { recordHistory } from '../helpers/histories';
import { eventually, settledResult } from '../helpers/waits';
import { startCrashingWorker, type CrashingWorker } from '../helpers/crashing-worker-process';

jest.setTimeout(300_000);

let server: DevServerHandle;
let stack: ContractStack;
let crashing: CrashingWorker | undefined;
/** The worker that polls now: the stack's own, then the one that took over after a crash. */
let worker: RunningWorker;
/** Recorded from the SQLite run only (one set of files; both runs make the same histories). */
let record: typeof recordHistory = recordHistory;
/** Addresses the SMTP inbox refuses with 550 / defers with 451 while they are in these sets. */
const refused = new Set<string>();
const deferred = new Set<string>();
/** Addresses whose RCPT TO the SMTP inbox answers only when the promise settles (a slow mail server). */
const held = new Map<string, Promise<void>>();

/** The activity types core wrote into the history's local-activity markers, in order (step 2 one from generation 5 on). */
function localActivities(events: { markerRecordedEventAttributes?: unknown }[]): string[] {
  return events.flatMap((e) => {
    const m = e.markerRecordedEventAttributes as
      | { markerName?: string | null; details?: { data?: { payloads?: { data?: Uint8Array | null }[] | null } } }
      | undefined;
    if (m?.markerName !== LOCAL_ACTIVITY_MARKER) return [];
    const data = m.details?.data?.payloads?.[0]?.data;
    return [String((JSON.parse(Buffer.from(data ?? []).toString('utf8')) as { activity_type?: string }).activity_type)];
  });
}

describe.each(testDatabases())('on $name', (database) => {
  beforeAll(async () => {
    ({ server, stack } = await startDevContractStack(database.name, {
      rejectRecipient: (address) => refused.has(address),
      deferRecipient: (address) => deferred.has(address),
      holdRecipient: (address) => held.get(address),
    }));
    worker = stack.worker;
    record = database.name === 'sqlite' ? recordHistory : () => Promise.resolve();
  });

  afterAll(async () => {
    crashing?.stop();
    await worker?.shutdown();
    await stack?.stop();
    await server?.stop();
  });

  /** Starts a contract on the current worker and waits for its invitation; returns the contact's address. */
  async function invited(): Promise<{ contractId: number; contactId: number; address: string }> {
    const { contractId, contactId } = await startAwaitingSignature(stack);
    const invitation = await stack.waitForMail(
      (m) => m.headers['x-signflow-mail-key'] === `${contractWorkflowId(contractId)}:invitation`,
      60_000
    );
    return { contractId, contactId, address: invitation.to[0] as string };
  }

  test('a local confirmation the recipient server refuses for good (550) keeps the contract: completed, the refusal in status', async () => {
    const { contractId, contactId, address } = await invited();
    refused.add(address);
    try {
      await contractHandle(stack.client, contractId).executeUpdate('sign', { args: [{ contactId, method: 'click' }] });
      expect(await settledResult(stack.client, contractId, 120_000)).toMatchObject({ outcome: 'signed' });
    } finally {
      refused.delete(address);
    }
    const state = await contractStatus(stack.client, contractId);
    expect(state).toMatchObject({ phase: 'completed', mailsRejected: ['confirmation'] });
    expect(state.mailTrouble).toBeUndefined();
    const row = (await stack.t
      .db('signflow_mails')
      .where({ mail_key: `${contractWorkflowId(contractId)}:confirmation` })
      .first()) as { status: string };
    expect(row.status).toBe('refused');
    const events = (await contractHandle(stack.client, contractId).fetchHistory()).events ?? [];
    expect(localActivities(events)).toEqual(['loadAndPrepareSignatureRequest', 'recordSignature', 'sendContractMail']);
  });

  test('a slow SMTP server keeps the local confirmation past the workflow task timeout: the task is kept alive, the mail sent once', async () => {
    const { contractId, contactId, address } = await invited();
    let release = (): void => undefined;
    held.set(
      address,
      new Promise<void>((resolve) => {
        release = resolve;
      })
    );
    const handle = contractHandle(stack.client, contractId);
    try {
      await handle.executeUpdate('sign', { args: [{ contactId, method: 'click' }] });
      // Held until the worker has kept the task alive at least once while the attempt waits for the server: a
      // workflow task completed with no command after the certificate (the SDK's workflow task heartbeat, at 80 % of
      // the task timeout).
      await eventually(async () => {
        const events = (await handle.fetchHistory()).events ?? [];
        const certificate = events.findIndex((e) =>
          JSON.stringify(e.activityTaskScheduledEventAttributes?.activityType ?? {}).includes(
            'createCompletionCertificate'
          )
        );
        expect(certificate).toBeGreaterThan(0);
        const after = events.slice(certificate);
        expect(after.filter((e) => e.workflowTaskCompletedEventAttributes).length).toBeGreaterThan(0);
        expect(localActivities(after)).toEqual([]);
      }, 90_000);
    } finally {
      held.delete(address);
      release();
    }
    expect(await settledResult(stack.client, contractId, 120_000)).toMatchObject({ outcome: 'signed' });
    await eventually(async () => expect(confirmations(contractId)).toHaveLength(1));
    const events = (await handle.fetchHistory()).events ?? [];
    // One attempt, never cut off: no workflow task lost, one marker, no retry of the workflow's own.
    expect(events.filter((e) => e.workflowTaskTimedOutEventAttributes || e.workflowTaskFailedEventAttributes)).toEqual(
      []
    );
    expect(localActivities(events)).toEqual(['loadAndPrepareSignatureRequest', 'recordSignature', 'sendContractMail']);
    expect(lostMailAttempts(events).size).toBe(0);
    expect((await contractStatus(stack.client, contractId)).mailTrouble).toBeUndefined();
  });

  test("a deferred local confirmation (451) is tried again by the workflow's own loop, status saying so meanwhile", async () => {
    const { contractId, contactId, address } = await invited();
    deferred.add(address);
    try {
      await contractHandle(stack.client, contractId).executeUpdate('sign', { args: [{ contactId, method: 'click' }] });
      const waiting = await eventually(async () => {
        const s = await contractStatus(stack.client, contractId);
        expect(s.mailTrouble).toMatchObject({ mail: 'confirmation', attempts: 1 });
        return s;
      }, 60_000);
      expect(waiting.phase).toBe('confirming');
      expect(waiting.mailTrouble?.lastError).toContain('MAIL_SEND_FAILED');
      // The workflow's first pause: 10 s after the failed attempt (`since` is when the mail step began).
      expect(
        Date.parse(waiting.mailTrouble?.nextRetryAt ?? '') - Date.parse(waiting.mailTrouble?.since ?? '')
      ).toBeGreaterThanOrEqual(10_000);
    } finally {
      deferred.delete(address);
    }
    expect(await settledResult(stack.client, contractId, 120_000)).toMatchObject({ outcome: 'signed' });
    const state = await contractStatus(stack.client, contractId);
    expect(state.phase).toBe('completed');
    expect(state.mailTrouble).toBeUndefined();
    await eventually(async () => expect(confirmations(contractId)).toHaveLength(1));
    const events = (await contractHandle(stack.client, contractId).fetchHistory()).events ?? [];
    // Two local attempts, the workflow's timer between them; no mail activity for the confirmation.
    expect(localActivities(events)).toEqual([
      'loadAndPrepareSignatureRequest',
      'recordSignature',
      'sendContractMail',
      'sendContractMail',
    ]);
    const firstMail = events.findIndex((e) => localActivities([e])[0] === 'sendContractMail');
    expect(events.slice(firstMail).filter((e) => e.timerStartedEventAttributes)).toHaveLength(1);
    expect(
      events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendContractMail')
    ).toHaveLength(1);
  });

  /**
   * Starts a contract on the stack's worker, leaves only a worker process that dies inside the confirmation mail
   * (`at`), signs, and lets a worker in this process take over once that process is dead.
   */
  async function signWithCrashInConfirmation(at: 'after-smtp' | 'before-smtp'): Promise<number> {
    await worker.shutdown();
    // Started by a worker of this code (generation 4), so the confirmation is a local activity.
    const starter = await createWorker(stack.config, {
      connection: server.env.nativeConnection,
      workflowBundle: await workflowBundle(),
      db: stack.t.db,
      temporalClient: server.env.client,
    });
    const { contractId, contactId } = await startAwaitingSignature(stack);
    await starter.shutdown();

    crashing = await startCrashingWorker({
      script: 'crash-in-local-mail-worker.ts',
      temporal: { address: server.address, namespace: server.namespace, taskQueue: stack.config.temporal.taskQueue },
      databaseUrl: stack.t.url,
      smtpUrl: stack.config.mail.smtpUrl,
      env: { SIGNFLOW_CRASH_AT: at, SIGNFLOW_CRASH_MAIL_KEY: `${contractWorkflowId(contractId)}:confirmation` },
    });

    const answer = (await contractHandle(stack.client, contractId).executeUpdate('sign', {
      args: [{ contactId, method: 'click' }],
    })) as SignatureOutcome;
    expect(answer.kind).toBe('signed');
    expect(await crashing.exited).toBe('killed');
    // It died inside the confirmation's local attempt, not in an activity.
    expect(crashing.output()).toContain(`crash ${at} local=true`);

    worker = await createWorker(stack.config, {
      connection: server.env.nativeConnection,
      workflowBundle: await workflowBundle(),
      db: stack.t.db,
      temporalClient: server.env.client,
    });
    expect(await settledResult(stack.client, contractId, 120_000)).toMatchObject({ outcome: 'signed' });
    return contractId;
  }

  const confirmations = (contractId: number) =>
    stack.inbox
      .messages()
      .filter((m) => m.headers['x-signflow-mail-key'] === `${contractWorkflowId(contractId)}:confirmation`);

  test('killed after the SMTP server took the local confirmation: sent again with the same Message-ID, and the chaos count allows exactly that copy', async () => {
    const contractId = await signWithCrashInConfirmation('after-smtp');
    const key = `${contractWorkflowId(contractId)}:confirmation`;
    const handle = contractHandle(stack.client, contractId);
    const events = (await handle.fetchHistory()).events ?? [];

    // The lost attempt is in the history only as the workflow task that timed out; the confirmation is a local activity
    // (no ActivityTaskScheduled for it), its marker written once, by the attempt that completed its task.
    expect(events.filter((e) => e.workflowTaskTimedOutEventAttributes).length).toBeGreaterThan(0);
    expect(localActivities(events)).toEqual(['loadAndPrepareSignatureRequest', 'recordSignature', 'sendContractMail']);
    expect(
      events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendContractMail')
    ).toHaveLength(1);

    // Delivered twice, the same message: the retry could not know the first had gone out.
    await eventually(async () => expect(confirmations(contractId)).toHaveLength(2));
    const copies = confirmations(contractId);
    expect(new Set(copies.map((m) => m.messageId)).size).toBe(1);
    const row = (await stack.t.db('signflow_mails').where({ mail_key: key }).first()) as { status: string };
    expect(row.status).toBe('sent');

    // The chaos count sees the lost local attempt and allows the second copy, and nothing else.
    const lost = lostMailAttempts(events);
    expect([...lost.entries()]).toEqual([[key, 1]]);
    expect(copies.length).toBeLessThanOrEqual(1 + (lost.get(key) ?? 0));
    await record(handle, 'confirmation-local-after-lost-worker.generation-4');
  });

  test('killed before the SMTP conversation: the next task sends the confirmation once', async () => {
    const contractId = await signWithCrashInConfirmation('before-smtp');
    const events = (await contractHandle(stack.client, contractId).fetchHistory()).events ?? [];
    expect(events.filter((e) => e.workflowTaskTimedOutEventAttributes).length).toBeGreaterThan(0);
    expect(localActivities(events)).toEqual(['loadAndPrepareSignatureRequest', 'recordSignature', 'sendContractMail']);
    await eventually(async () => expect(confirmations(contractId)).toHaveLength(1));
    const invitations = stack.inbox
      .messages()
      .filter((m) => m.headers['x-signflow-mail-key'] === `${contractWorkflowId(contractId)}:invitation`);
    expect(invitations).toHaveLength(1);
    const lost = lostMailAttempts(events);
    expect(confirmations(contractId).length).toBeLessThanOrEqual(
      1 + (lost.get(`${contractWorkflowId(contractId)}:confirmation`) ?? 0)
    );
  });
});
