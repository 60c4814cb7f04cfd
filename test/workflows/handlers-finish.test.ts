/**
 * A message that arrives while a finished contract still delivers its last webhooks (issue 11, TMPRL1102): the portal
 * reports a view while the receiver is down, so the workflow is draining its deliveries. The view's handler starts
 * the audit activity, which a held database refuses for now. When the receiver is back and the deliveries are done,
 * the workflow must not end before that handler: it waits, the audit row is written once the database takes it, and
 * only then does the contract complete.
 *
 * Real parts: the Temporal dev server, the worker with the real activities, SQLite, the dev webhook receiver. The held
 * database is a trigger that refuses the view's audit insert (a fault we cannot make otherwise for one insert).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import {
  contractHandle,
  contractStatus,
  recordDocumentView,
  signContractUpdate,
  startContractWorkflow,
} from '../../client/contract-client';
import { AUDIT_TABLE } from '../../activities/contract/plugin-tables';
import { startDevWebhookReceiver, type DevWebhookReceiver } from '../../webhooks/dev-receiver';
import { addSendableContract, startContractStack, type ContractStack } from '../helpers/contract-stack';
import { getFreePort, startDevServer, type DevServerHandle } from '../../harness/temporal';
import { recordHistory } from '../helpers/histories';
import { eventually } from '../helpers/waits';

jest.setTimeout(300_000);

const EventType = temporal.api.enums.v1.EventType;
const secret = `whsec_${randomBytes(32).toString('base64')}`;

let server: DevServerHandle;
let stack: ContractStack;
let dir: string;
let port: number;
let receiver: DevWebhookReceiver | undefined;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-handlers-'));
  port = await getFreePort();
  server = await startDevServer();
  stack = await startContractStack(server.env, {
    // The receiver is down at first: every delivery fails and is retried, holding the workflow in its drain.
    config: { webhooks: { endpoints: [{ name: 'crm', url: `http://127.0.0.1:${port}/hooks`, secret }] } },
  });
});

afterAll(async () => {
  await stack?.stop();
  await server?.stop();
  await receiver?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a view signalled while the last webhooks are delivered is recorded before the workflow completes', async () => {
  const { t, client, config } = stack;
  const contractId = await addSendableContract(t);
  const handle = contractHandle(client, contractId);
  await startContractWorkflow(client, config, contractId);
  await stack.waitForMail((m) => m.headers['x-signflow-mail-key'] === `honorarvertrag-${contractId}:invitation`);
  const signer = t.seed.contactIds[0] as number;
  await eventually(async () => expect((await contractStatus(client, contractId)).phase).toBe('awaiting-signature'));
  await signContractUpdate(client, contractId, { contactId: signer, method: 'click' });
  await eventually(async () => expect((await contractStatus(client, contractId)).phase).toBe('completed'), 60_000);

  // Held database for the view's audit row; the view arrives while the workflow drains its deliveries.
  await t.db.raw(
    `CREATE TRIGGER hold_views BEFORE INSERT ON ${AUDIT_TABLE} WHEN NEW.event = 'document-viewed' ` +
      `BEGIN SELECT RAISE(ABORT, 'database held by the test'); END`
  );
  await recordDocumentView(client, contractId, { contactId: signer });
  await eventually(async () => {
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    const view = pending.find((a) => a.activityType?.name === 'recordDocumentView');
    // Failed at least once (the failure's message is encrypted by the payload codec).
    expect(view?.attempt).toBeGreaterThan(1);
  }, 60_000);

  // The receiver comes back: every delivery goes through, the drain ends.
  receiver = await startDevWebhookReceiver({ secret, port, dir });
  const history = async () => (await handle.fetchHistory()).events ?? [];
  await eventually(
    async () => {
      const events = await history();
      const deliveries = new Set(
        events
          .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'deliverWebhook')
          .map((e) => String(e.eventId))
      );
      const done = events.filter(
        (e) =>
          e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED &&
          deliveries.has(String(e.activityTaskCompletedEventAttributes?.scheduledEventId))
      );
      expect(done).toHaveLength(deliveries.size);
      // And the workflow has had its turn after the last of them.
      const lastDone = Math.max(...done.map((e) => Number(e.eventId)));
      expect(
        events.some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED && Number(e.eventId) > lastDone)
      ).toBe(true);
    },
    180_000,
    250
  );

  // The view's handler is still running, so the contract is not over yet; the database takes the row now.
  await t.db.raw('DROP TRIGGER hold_views');
  await handle.result();
  const views = await t.db(AUDIT_TABLE).where({ contract_id: contractId, event: 'document-viewed' });
  expect(views).toHaveLength(1);
  const events = await history();
  const completedAt = events.findIndex((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  const viewScheduled = events.find(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'recordDocumentView'
  )?.eventId;
  const viewDoneAt = events.findIndex(
    (e) =>
      e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED &&
      String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(viewScheduled)
  );
  expect(viewDoneAt).toBeGreaterThan(-1);
  expect(completedAt).toBeGreaterThan(viewDoneAt);
  await recordHistory(handle, 'view-while-final-webhooks-deliver');
});
