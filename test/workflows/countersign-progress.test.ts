/**
 * The eHBA's signing workflow tells a contract how its countersignature goes with `countersignProgress` signals. How
 * many of them one workflow task carries is delivery timing (a busy worker, a restart, a cache eviction): the
 * contract's commands must not depend on it. Here two progress signals arrive while no worker runs, so they land in
 * one workflow task for certain; the contract must handle both, in order (one search-attribute upsert each), and its
 * history must replay.
 */
import { Worker } from '@temporalio/worker';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import { contractHandle, startContractWorkflow } from '../../client/contract-client';
import type { KonnektorClient } from '../../activities/konnektor/konnektor-client';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import { createMailer } from '../../mail/mailer';
import { createWorker, type RunningWorker } from '../../worker/run-worker';
import {
  SA_WAITING_REASON,
  countersignProgressSignal,
  statusQuery,
  type ContractState,
  type CountersignProgress,
} from '../../workflows/definitions';
import { startDevServer, workflowBundle, type DevServerHandle } from '../../harness/temporal';
import { clientFor } from '../konnektor/helpers';
import { recordHistory } from '../helpers/histories';
import { addSendableContract, startContractStack, type ContractStack } from '../helpers/contract-stack';
import { eventually } from '../helpers/waits';

jest.setTimeout(300_000);

let server: DevServerHandle;
let sim: RunningKonnektorSimulator;
let konnektor: KonnektorClient;
let stack: ContractStack;
let client: Client;
/** The worker started again after the signals (the stack's own is shut down by then). */
let restarted: RunningWorker | undefined;

beforeAll(async () => {
  server = await startDevServer();
  // No comfort session is ever activated: the signer parks and the contract waits for the comfort signature.
  sim = await startKonnektorSimulator({ adminPort: false, maxSessionsPerCard: 50 });
  konnektor = clientFor(sim, { maxRequestsPerCall: 50 });
  stack = await startContractStack(server.env, {
    konnektor,
    config: {
      konnektor: {
        enabled: true,
        sdsUrl: sim.sdsUrl,
        serverFingerprint: sim.fingerprint,
        batchSize: 25,
        recheckInterval: '1h',
      },
      signature: { remindersEnabled: false, expiry: '30d' },
    },
  });
  client = stack.client;
});

afterAll(async () => {
  await restarted?.shutdown();
  await stack?.stop();
  konnektor?.close();
  await sim?.close();
  await server?.stop();
});

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const isWorkflowTaskCompleted = (e: HistoryEvent) => e.workflowTaskCompletedEventAttributes != null;

/** The WaitingReason values the contract upserted after event `afterId`, in order. */
function waitingReasonsAfter(events: HistoryEvent[], afterId: number): string[] {
  return events
    .filter((e) => Number(e.eventId) > afterId)
    .flatMap((e) => {
      const field =
        e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.[SA_WAITING_REASON.name];
      return field ? [defaultPayloadConverter.fromPayload<string>(field)] : [];
    });
}

test('two progress signals in one workflow task are both handled, in order, and the history replays', async () => {
  const contractId = await addSendableContract(stack.t);
  await startContractWorkflow(client, stack.config, contractId);
  const handle = contractHandle(client, contractId);
  await eventually(async () => expect((await handle.query(statusQuery)).phase).toBe('awaiting-signature'));
  await handle.executeUpdate('confirmManually', { args: [{ staffContactId: stack.t.seed.staffContactId }] });
  await eventually(async () => expect((await handle.query(statusQuery)).phase).toBe('waiting-for-comfort-signature'));

  // No worker polls now: both signals wait in the history for the next workflow task.
  await stack.worker.shutdown();
  const resumed: CountersignProgress = { kind: 'resumed' };
  const parkedAgain: CountersignProgress = {
    kind: 'parked',
    failureType: 'COMFORT_SIGNATURE_EXPIRED',
    message: 'Komfortsignatur erneut aktivieren',
  };
  await handle.signal(countersignProgressSignal, resumed);
  await handle.signal(countersignProgressSignal, parkedAgain);
  const beforeRestart = (await handle.fetchHistory()).events ?? [];
  const lastSignalId = Math.max(
    ...beforeRestart.filter((e) => e.workflowExecutionSignaledEventAttributes != null).map((e) => Number(e.eventId))
  );

  const mailer = createMailer(stack.config.mail.smtpUrl, stack.config.mail.from);
  restarted = await createWorker(stack.config, {
    connection: server.env.nativeConnection,
    workflowBundle: await workflowBundle(),
    db: stack.t.db,
    mailer,
    konnektor,
    temporalClient: client,
  });
  try {
    const events = await eventually(async () => {
      const all = (await handle.fetchHistory()).events ?? [];
      expect(all.some((e) => Number(e.eventId) > lastSignalId && isWorkflowTaskCompleted(e))).toBe(true);
      return all;
    });
    // Both signals were in one workflow task: no task completed between them.
    const signalIds = events
      .filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === countersignProgressSignal.name)
      .map((e) => Number(e.eventId))
      .slice(-2);
    expect(signalIds).toHaveLength(2);
    expect(
      events.some(
        (e) =>
          Number(e.eventId) > (signalIds[0] as number) &&
          Number(e.eventId) < (signalIds[1] as number) &&
          isWorkflowTaskCompleted(e)
      )
    ).toBe(false);

    // Each message handled on its own, in arrival order: back to countersigning, then waiting again.
    expect(waitingReasonsAfter(events, lastSignalId)).toEqual(['countersignature', 'comfort-signature']);
    const state: ContractState = await handle.query(statusQuery);
    expect(state.phase).toBe('waiting-for-comfort-signature');
    expect(state.waitingDetail).toBe('COMFORT_SIGNATURE_EXPIRED');

    const history = await handle.fetchHistory();
    await Worker.runReplayHistory(
      { workflowBundle: await workflowBundle(), replayName: 'progress-in-one-task' },
      history
    );
    await recordHistory(handle, 'countersign-progress-in-one-task');
  } finally {
    await handle.terminate('test done').catch(() => undefined);
    mailer.close();
  }
});
