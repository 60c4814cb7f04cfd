/**
 * Generation 5 prepares a lean contract (`loadAndPrepareSignatureRequest`: document, signature record, contract status)
 * with a local activity in the contract's first workflow task. A worker killed after that transaction committed and
 * before its task completed loses the task: the server times it out and the next task, on another worker, runs the
 * preparation again. It must find the request stored under the workflow id and return it: one document, one signature
 * record, one invitation.
 *
 * Real parts: the Temporal dev server, a real worker process (the only fault is its SIGKILL right after the preparation
 * returned, test/helpers/crash-after-recording-worker.ts with `SIGNFLOW_CRASH_AFTER`), a worker in this process that
 * takes over, SQLite or MariaDB, the SMTP inbox.
 */
import { contractHandle, startContractWorkflow } from '../../client/contract-client';
import { workflowBundle, type DevServerHandle } from '../../harness/temporal';
import { createWorker, type RunningWorker } from '../../worker/run-worker';
import { contractWorkflowId, WORKFLOW_BUILD_ID } from '../../workflows/definitions';
import { LOCAL_ACTIVITY_MARKER } from '../../bench/actions';
import {
  addSendableContract,
  startDevContractStack,
  untilAwaitingSignature,
  type ContractStack,
} from '../helpers/contract-stack';
import { testDatabases } from '../helpers/databases';
import { startCrashingWorker, type CrashingWorker } from '../helpers/crashing-worker-process';

jest.setTimeout(240_000);

let server: DevServerHandle | undefined;
let stack: ContractStack | undefined;
let crashing: CrashingWorker | undefined;
let takeover: RunningWorker | undefined;

describe.each(testDatabases())('on $name', (database) => {
  beforeAll(async () => {
    ({ server, stack } = await startDevContractStack(database.name));
  });

  afterAll(async () => {
    crashing?.stop();
    await takeover?.shutdown();
    takeover = undefined;
    await stack?.stop();
    await server?.stop();
  });

  test('a worker killed after the local preparation committed: the next task finds the stored request; one document, one signature, one invitation', async () => {
    if (!stack || !server) throw new Error('no stack');
    const s = stack;
    const contractId = await addSendableContract(s.t);
    const workflowId = contractWorkflowId(contractId);

    // Only the worker process that dies after the preparation polls the queue.
    await s.worker.shutdown();
    crashing = await startCrashingWorker({
      script: 'crash-after-recording-worker.ts',
      temporal: { address: server.address, namespace: server.namespace, taskQueue: s.config.temporal.taskQueue },
      databaseUrl: s.t.url,
      smtpUrl: s.config.mail.smtpUrl,
      env: { SIGNFLOW_CRASH_AFTER: 'loadAndPrepareSignatureRequest' },
    });

    await startContractWorkflow(s.client, s.config, contractId);
    expect(await crashing.exited).toBe('killed');
    // It died in the local preparation (generation 5), after its transaction committed.
    expect(crashing.output()).toContain('recorded loadAndPrepareSignatureRequest local=true');
    const stored = await s.t.db('signflow_requests').where({ workflow_id: workflowId });
    expect(stored).toHaveLength(1);
    const { signature_id: signatureId, document_id: documentId } = stored[0] as {
      signature_id: number;
      document_id: number;
    };

    // A worker of the same code takes over once the server has timed out the lost task.
    takeover = await createWorker(s.config, {
      connection: server.env.nativeConnection,
      workflowBundle: await workflowBundle(),
      db: s.t.db,
      temporalClient: server.env.client,
    });
    const state = await untilAwaitingSignature(s.client, contractId, 120_000);
    expect(state).toMatchObject({ signatureId: Number(signatureId), documentId: Number(documentId) });
    await s.waitForMail((m) => m.headers['x-signflow-mail-key'] === `${workflowId}:invitation`);

    const history = await contractHandle(s.client, contractId).fetchHistory();
    const events = history.events ?? [];
    // The first task ran on generation 5 and was lost; the preparation's marker is there once, from the next task.
    expect(
      events.find((e) => e.workflowTaskCompletedEventAttributes)?.workflowTaskCompletedEventAttributes?.workerVersion
        ?.buildId
    ).toBe(WORKFLOW_BUILD_ID);
    expect(
      events.filter((e) => e.workflowTaskTimedOutEventAttributes || e.workflowTaskFailedEventAttributes).length
    ).toBeGreaterThan(0);
    const preparations = events.filter(
      (e) =>
        e.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER &&
        Buffer.from(e.markerRecordedEventAttributes.details?.data?.payloads?.[0]?.data ?? []).includes(
          '"activity_type":"loadAndPrepareSignatureRequest"'
        )
    );
    expect(preparations).toHaveLength(1);
    expect(
      events.filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'loadAndPrepareSignatureRequest'
      )
    ).toHaveLength(0);

    // One document, one signature record, one request, one invitation.
    const documents = await s.t
      .db('dokumente')
      .where({ verknuepftes_objekt_typ: 'Honorarvertrag', verknuepftes_objekt_id: contractId });
    expect(documents).toHaveLength(1);
    expect(Number((documents[0] as { id: number }).id)).toBe(Number(documentId));
    const signatures = await s.t.db('unterschriften').where({ verknuepftes_objekt_id: contractId });
    expect(signatures).toHaveLength(1);
    expect(Number((signatures[0] as { id: number }).id)).toBe(Number(signatureId));
    expect(await s.t.db('signflow_requests').where({ contract_id: contractId })).toHaveLength(1);
    const invitations = s.inbox
      .messages()
      .filter((m) => m.headers['x-signflow-mail-key'] === `${workflowId}:invitation`);
    expect(invitations).toHaveLength(1);

    await takeover.shutdown();
    takeover = undefined;
  });
});
