/**
 * Generation 3 records the `sign` Update with a local activity, whose input is not in the history. A worker killed
 * after the recording committed and before its workflow task completed loses that task: the server times it out and
 * hands the Update to the next task, on another worker, whose workflow time is later. The recording must then answer
 * with what it stored (the same signature, found by the Update's id), not refuse it as a second signature.
 *
 * Real parts: the Temporal dev server, a real worker process (the only fault is its SIGKILL right after the recording
 * returned, test/helpers/crash-after-recording-worker.ts), a worker in this process that takes over, SQLite, the SMTP
 * inbox.
 */
import { readSignature } from '../../db/crm-repository';
import { workflowBundle, type DevServerHandle } from '../../harness/temporal';
import { createWorker, type RunningWorker } from '../../worker/run-worker';
import { contractWorkflowId, type SignatureOutcome } from '../../workflows/definitions';
import { LOCAL_ACTIVITY_MARKER } from '../../bench/actions';
import { startAwaitingSignature, startDevContractStack, type ContractStack } from '../helpers/contract-stack';
import { settledResult } from '../helpers/waits';
import { startCrashingWorker, type CrashingWorker } from '../helpers/crashing-worker-process';

jest.setTimeout(240_000);

let server: DevServerHandle;
let stack: ContractStack;
let crashing: CrashingWorker | undefined;
let takeover: RunningWorker | undefined;

beforeAll(async () => {
  ({ server, stack } = await startDevContractStack('sqlite'));
});

afterAll(async () => {
  crashing?.stop();
  await takeover?.shutdown();
  await stack?.stop();
  await server?.stop();
});

test('a worker killed after the local recording committed: the Update comes again and answers with the stored signature', async () => {
  const { contractId, contactId, handle } = await startAwaitingSignature(stack);

  // From here only the worker process that dies after the recording polls the queue.
  await stack.worker.shutdown();
  crashing = await startCrashingWorker({
    script: 'crash-after-recording-worker.ts',
    temporal: { address: server.address, namespace: server.namespace, taskQueue: stack.config.temporal.taskQueue },
    databaseUrl: stack.t.url,
    smtpUrl: stack.config.mail.smtpUrl,
  });

  // The door's clock a minute ahead of the workflow's: the recording takes the workflow's now, so the task after the
  // lost one computes another time (as it does for any caller without `actedAt`).
  const actedAt = new Date(Date.now() + 60_000).toISOString();
  const answer = handle.executeUpdate('sign', {
    args: [{ contactId, method: 'click', actedAt }],
  }) as Promise<SignatureOutcome>;
  answer.catch(() => undefined);
  expect(await crashing.exited).toBe('killed');
  expect(crashing.output()).toContain('recorded recordSignature');
  const crm = stack.t.config.crm;
  // No worker polls now, so the request is read from the database, not the status query.
  const request = (await stack.t
    .db('signflow_requests')
    .where({ workflow_id: contractWorkflowId(contractId) })
    .first()) as {
    signature_id: number;
  };
  const signatureId = Number(request.signature_id);
  const stored = await readSignature(stack.t.db, crm, signatureId);
  expect(stored?.status).toBe(crm.values.signatureValid);

  // A worker of the same code takes over once the server has timed out the lost task.
  takeover = await createWorker(stack.config, {
    connection: server.env.nativeConnection,
    workflowBundle: await workflowBundle(),
    db: stack.t.db,
    temporalClient: server.env.client,
  });
  const outcome = await answer;
  expect(outcome).toMatchObject({
    kind: 'signed',
    signatureId,
    userContactId: contactId,
    method: 'click',
    confirmedAt: stored?.signedAt?.toISOString(),
    md5Hash: stored?.md5Hash,
  });
  expect(await settledResult(stack.client, contractId)).toMatchObject({ outcome: 'signed', signature: outcome });
  await stack.waitForMail((m) => m.headers['x-signflow-mail-key'] === `${contractWorkflowId(contractId)}:confirmation`);

  // The lost task is in the history, the recording's marker only once (the attempt that completed its task), and the
  // signature was written once.
  const events = (await handle.fetchHistory()).events ?? [];
  expect(
    events.filter((e) => e.workflowTaskTimedOutEventAttributes || e.workflowTaskFailedEventAttributes).length
  ).toBeGreaterThan(0);
  // (The confirmation mail is a local activity too from generation 4 on: its marker comes after the recording's.)
  const recordings = events.filter(
    (e) =>
      e.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER &&
      Buffer.from(e.markerRecordedEventAttributes.details?.data?.payloads?.[0]?.data ?? []).includes(
        '"activity_type":"recordSignature"'
      )
  );
  expect(recordings).toHaveLength(1);
  expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);
  const audit = await stack.t
    .db('signflow_audit_events')
    .where({ workflow_id: contractWorkflowId(contractId), event: 'signature-recorded' });
  expect(audit).toHaveLength(1);
  expect(await readSignature(stack.t.db, crm, signatureId)).toEqual(stored);
});
