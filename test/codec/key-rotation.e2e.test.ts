/**
 * Codec key rotation with a live workflow (docs/ops.md "Rotation, without downtime"), on the Temporal dev server with
 * the real worker and activities: a contract starts while only key k2025 exists, its worker stops, a new worker and
 * client come up with both keys and k2026 current, the contact signs, and the contract finishes. The new worker
 * replays the history written under k2025; everything written after the change is under k2026.
 */
import { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { contractHandle, contractStatus, startContractWorkflow } from '../../client/contract-client';
import { createDataConverter } from '../../codec/data-converter';
import { startDevInbox, type DevInbox } from '../../mail/dev-inbox';
import { deepMerge, loadConfig, type SignflowConfig } from '../../temporal.config';
import { createWorker, type RunningWorker } from '../../worker/run-worker';
import { statusQuery, type ContractResult } from '../../workflows/definitions';
import { addSendableContract } from '../helpers/contract-stack';
import { createTestDb, type TestDb } from '../../harness/databases';
import { startDevServer, workflowBundle, type DevServerHandle } from '../../harness/temporal';
import { eventually } from '../helpers/waits';
import { KEY_2025, KEY_2026 } from './codec-keys';
import { LOCAL_ACTIVITY_MARKER } from '../../bench/actions';

jest.setTimeout(180_000);

type Payload = temporal.api.common.v1.IPayload;

let server: DevServerHandle;
let inbox: DevInbox;
let t: TestDb;
const workers: RunningWorker[] = [];

beforeAll(async () => {
  server = await startDevServer();
  inbox = await startDevInbox({ port: 0 });
  t = await createTestDb('sqlite');
});

afterAll(async () => {
  for (const w of workers) await w.shutdown();
  await inbox?.close();
  await t?.destroy();
  await server?.stop();
});

/** Config, client and worker of one deployment generation, with the given codec settings. */
async function generation(codec: { keys: (typeof KEY_2025)[]; currentKeyId: string }) {
  const config: SignflowConfig = loadConfig(
    deepMerge(t.config, {
      temporal: { address: server.address, namespace: server.namespace, taskQueue: `rotation-${process.pid}` },
      mail: { smtpUrl: `smtp://127.0.0.1:${inbox.port}` },
      signature: { remindersEnabled: false },
      codec,
    }),
    {}
  );
  const dataConverter = createDataConverter(config);
  const client = new Client({ connection: server.env.connection, namespace: server.namespace, dataConverter });
  const worker = await createWorker(config, {
    connection: server.env.nativeConnection,
    workflowBundle: await workflowBundle(),
    db: t.db,
    dataConverter,
    temporalClient: client,
  });
  workers.push(worker);
  return { config, client, worker };
}

const keyIdOf = (p: Payload | null | undefined): string =>
  Buffer.from(p?.metadata?.['encryption-key-id'] ?? []).toString();

test('a contract started under k2025 finishes after the current key became k2026', async () => {
  const contractId = await addSendableContract(t);
  const before = await generation({ keys: [KEY_2025], currentKeyId: KEY_2025.id });
  await startContractWorkflow(before.client, before.config, contractId);
  await eventually(
    async () => expect((await contractStatus(before.client, contractId)).phase).toBe('awaiting-signature'),
    60_000
  );
  await before.worker.shutdown();
  const eventsBefore = (await contractHandle(before.client, contractId).fetchHistory()).events?.length ?? 0;

  // Steps 1 and 2 of the rotation at once: both keys everywhere, the new one current; new worker, new client.
  const after = await generation({ keys: [KEY_2025, KEY_2026], currentKeyId: KEY_2026.id });
  const handle = contractHandle(after.client, contractId);
  // The new worker answers the query by replaying the history written under k2025.
  const { contactId } = await handle.query(statusQuery);
  await handle.executeUpdate('sign', { args: [{ contactId, method: 'click' }] });
  const result = (await handle.result()) as ContractResult;
  expect(result).toMatchObject({ contractId, outcome: 'signed' });
  await inbox.waitFor((m) => m.headers['x-signflow-mail-key'] === `honorarvertrag-${contractId}:confirmation`, 30_000);

  const events = (await handle.fetchHistory()).events ?? [];
  const payloadsOf = (e: temporal.api.history.v1.IHistoryEvent): Payload[] => [
    ...(e.workflowExecutionStartedEventAttributes?.input?.payloads ?? []),
    ...(e.activityTaskScheduledEventAttributes?.input?.payloads ?? []),
    ...(e.activityTaskCompletedEventAttributes?.result?.payloads ?? []),
    // A local activity's result (the recording, generation 3 on; the confirmation mail, generation 4 on); the marker's
    // `data` is core's own bookkeeping.
    ...(e.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER
      ? (e.markerRecordedEventAttributes.details?.result?.payloads ?? [])
      : []),
    ...(e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args?.payloads ?? []),
    ...(e.workflowExecutionCompletedEventAttributes?.result?.payloads ?? []),
  ];
  const keysBefore = new Set(events.slice(0, eventsBefore).flatMap(payloadsOf).map(keyIdOf));
  const keysAfter = new Set(events.slice(eventsBefore).flatMap(payloadsOf).map(keyIdOf));
  expect([...keysBefore]).toEqual([KEY_2025.id]);
  expect([...keysAfter]).toEqual([KEY_2026.id]);
  // After the change: the sign update's input, the recording and the confirmation mail (local activities' markers),
  // the certificate activity and the result.
  expect(events.slice(eventsBefore).flatMap(payloadsOf).length).toBeGreaterThanOrEqual(4);
  expect(
    events
      .slice(eventsBefore)
      .filter((e) => e.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER)
      .flatMap(payloadsOf)
  ).toHaveLength(2);
  expect(events.at(-1)?.workflowExecutionCompletedEventAttributes).toBeTruthy();
});
