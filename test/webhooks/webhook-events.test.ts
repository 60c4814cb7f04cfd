/**
 * The webhook events the first webhook test (webhooks-e2e) does not reach, on real parts: the Temporal dev server, the
 * real worker and activities, the Konnektor simulator (mutual TLS), a SQLite CRM, and the dev receiver verifying each
 * arrival with the `standardwebhooks` package:
 * - contract.reminded (staff resend and the schedule), contract.confirmed, contract.countersign.waiting (comfort
 *   signature not active), contract.countersigned, then the QES checked offline by `signflow verify`'s code;
 * - contract.withdrawn, contract.expired, contract.failed.
 * Every payload carries ids, labels and codes only (this endpoint does not opt in to personal data).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Webhook } from 'standardwebhooks';
import { createKonnektorActivities } from '../../activities/konnektor/konnektor.activities';
import type { KonnektorClient } from '../../activities/konnektor/konnektor-client';
import {
  confirmContractUpdate,
  contractHandle,
  contractStatus,
  resendInvitationSignal,
  startContractWorkflow,
  withdrawContractUpdate,
} from '../../client/contract-client';
import { verifyCountersignature } from '../../cli/countersignature-verification';
import { parseTrustAnchors } from '../../documents/qes-verification';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import { deepMerge, type SignflowConfig } from '../../temporal.config';
import { startDevWebhookReceiver, type DevWebhookReceiver, type ReceivedWebhook } from '../../webhooks/dev-receiver';
import { clientFor } from '../konnektor/helpers';
import { addSendableContract, startContractStack, type ContractStack } from '../helpers/contract-stack';
import { eventually } from '../helpers/waits';
import { startDevServer, type DevServerHandle } from '../../harness/temporal';

jest.setTimeout(300_000);

const secret = `whsec_${randomBytes(32).toString('base64')}`;
let server: DevServerHandle;
let sim: RunningKonnektorSimulator;
let konnektor: KonnektorClient;
let stack: ContractStack;
let receiver: DevWebhookReceiver;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-webhook-events-'));
  receiver = await startDevWebhookReceiver({ secret, dir });
  server = await startDevServer();
  sim = await startKonnektorSimulator({ adminPort: false, maxSessionsPerCard: 50, comfort: { max: 250 } });
  konnektor = clientFor(sim, { maxRequestsPerCall: 50 });
  stack = await startContractStack(server.env, {
    konnektor,
    config: {
      konnektor: { enabled: true, sdsUrl: sim.sdsUrl, serverFingerprint: sim.fingerprint, recheckInterval: '5m' },
      signature: { remindersEnabled: false, expiry: '30d' },
      webhooks: { endpoints: [{ name: 'crm', url: receiver.hookUrl, secret }] },
    },
  });
});

afterAll(async () => {
  await stack?.stop();
  konnektor?.close();
  await sim?.close();
  await server?.stop();
  await receiver?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface Event {
  type: string;
  data: Record<string, unknown>;
}

/** The verified, first-time arrivals of one contract, each checked again with the package. */
function eventsOf(contractId: number): Event[] {
  return receiver
    .accepted()
    .map((r: ReceivedWebhook) => {
      const payload = new Webhook(secret).verify(r.body, {
        'webhook-id': r.webhookId,
        'webhook-timestamp': r.webhookTimestamp,
        'webhook-signature': r.signature,
      }) as Event;
      return { payload, body: r.body };
    })
    .filter((e) => e.payload.data.contractId === contractId)
    .map((e) => {
      // No personal data for this endpoint: no address, no names, no title.
      expect(e.body).not.toMatch(/@|Müller|Anna|firstName|lastName|email|contractTitle|Honorarvertrag Test/);
      return e.payload;
    });
}

async function waitForEvent(contractId: number, type: string, timeoutMs = 120_000): Promise<Event> {
  await receiver.waitFor(() => eventsOf(contractId).some((e) => e.type === type), timeoutMs);
  return eventsOf(contractId).find((e) => e.type === type) as Event;
}

async function awaitingSignature(contractId: number): Promise<void> {
  await eventually(
    async () => expect((await contractStatus(stack.client, contractId)).phase).toBe('awaiting-signature'),
    60_000
  );
}

test('reminded by staff, confirmed by staff, the QES waits for the comfort signature, then countersigned and verifiable', async () => {
  const { client, config, t } = stack;
  const contractId = await addSendableContract(t);
  await startContractWorkflow(client, config, contractId);
  await awaitingSignature(contractId);

  await resendInvitationSignal(client, contractId);
  const reminded = await waitForEvent(contractId, 'contract.reminded');
  expect(reminded.data).toMatchObject({ sequence: 1, requestedBy: 'staff', mailRejected: false });

  const staff = t.seed.staffContactId;
  await confirmContractUpdate(client, contractId, { staffContactId: staff });
  const confirmed = await waitForEvent(contractId, 'contract.confirmed');
  expect(confirmed.data).toMatchObject({
    method: 'staff',
    confirmedBy: staff,
    contractStatus: 'in Durchführung',
    signatureStatus: 'gültig',
  });
  expect(confirmed.data.md5Hash).toMatch(/^[0-9a-f]{32}$/);

  // The comfort signature is not active: the countersignature parks and says why.
  const waiting = await waitForEvent(contractId, 'contract.countersign.waiting');
  expect(waiting.data).toMatchObject({ waitingReason: 'comfort-signature' });
  expect(typeof waiting.data.failureType).toBe('string');

  // Staff activate it (the simulator accepts at once) and tell the contract.
  const acts = createKonnektorActivities({ konnektor, db: t.db, config });
  await new MockActivityEnvironment().run(acts.activateComfortSignature, { staffContactId: staff });
  await contractHandle(client, contractId).signal('comfortSignatureReactivated', {});
  const countersigned = await waitForEvent(contractId, 'contract.countersigned');
  expect(countersigned.data.qesDocumentId).toEqual(expect.any(Number));
  const completed = await waitForEvent(contractId, 'contract.completed');
  expect(completed.data).toMatchObject({ outcome: 'confirmed', qesDocumentId: countersigned.data.qesDocumentId });
  expect(eventsOf(contractId).map((e) => e.type)).toEqual([
    'contract.sent',
    'contract.reminded',
    'contract.confirmed',
    'contract.countersign.waiting',
    'contract.countersigned',
    'contract.completed',
  ]);

  // `signflow verify`'s QES check of that contract: valid against the simulator's CA, not against another CA.
  const anchors = parseTrustAnchors(sim.caPem);
  const v = await verifyCountersignature(t.db, config.crm, contractId, anchors);
  expect(v).toMatchObject({ valid: true, variant: 'PAdES', qesDocumentId: countersigned.data.qesDocumentId });
  expect(v?.signer?.issuer).toContain('Konnektor-Simulator CA');
  const foreign = await startKonnektorSimulator({ adminPort: false });
  try {
    const other = await verifyCountersignature(t.db, config.crm, contractId, parseTrustAnchors(foreign.caPem));
    expect(other?.valid).toBe(false);
    expect(other?.checks.find((c) => c.name === 'certificate-chain')?.ok).toBe(false);
  } finally {
    await foreign.close();
  }
  // One changed byte in the stored countersignature: not valid any more.
  const doc = await t.db('dokumente').where('id', Number(countersigned.data.qesDocumentId)).first();
  const tampered = Buffer.from(doc.inhalt);
  tampered[1500] = tampered[1500]! ^ 1;
  await t.db('dokumente').where('id', doc.id).update({ inhalt: tampered });
  expect((await verifyCountersignature(t.db, config.crm, contractId, anchors))?.valid).toBe(false);
});

test('withdrawn by staff: contract.withdrawn with the voided status and the staff id', async () => {
  const { client, config, t } = stack;
  const contractId = await addSendableContract(t);
  await startContractWorkflow(client, config, contractId);
  await awaitingSignature(contractId);
  await withdrawContractUpdate(client, contractId, { staffContactId: t.seed.staffContactId });
  const withdrawn = await waitForEvent(contractId, 'contract.withdrawn');
  expect(withdrawn.data).toMatchObject({
    signatureStatus: 'zurückgezogen',
    staffContactId: t.seed.staffContactId,
    signatureId: expect.any(Number),
  });
});

test('a scheduled reminder, then expiry: contract.reminded (schedule) and contract.expired', async () => {
  const { client, t } = stack;
  const contractId = await addSendableContract(t);
  // This contract's own timing: one reminder after 2 s, expiry after 15 s.
  const quick = deepMerge(stack.config, {
    signature: {
      remindersEnabled: true,
      reminderDelay: 2000,
      reminderInterval: 60_000,
      reminderMax: 1,
      expiry: 15_000,
    },
  }) as SignflowConfig;
  await startContractWorkflow(client, quick, contractId);
  const reminded = await waitForEvent(contractId, 'contract.reminded');
  expect(reminded.data).toMatchObject({ sequence: 1, requestedBy: 'schedule' });
  const expired = await waitForEvent(contractId, 'contract.expired');
  expect(expired.data).toMatchObject({ signatureStatus: 'abgelaufen', signatureId: expect.any(Number) });
  expect(eventsOf(contractId).map((e) => e.type)).toEqual(['contract.sent', 'contract.reminded', 'contract.expired']);
});

test('a contract whose workflow fails: contract.failed with the error code, nothing personal', async () => {
  const { client, config, t } = stack;
  const k = config.crm.contacts;
  const [contactId] = await t
    .db(k.table)
    .insert({ [k.firstName]: 'Anna', [k.lastName]: 'Müller', [k.email]: 'kein-gueltiger-wert' });
  const contractId = await addSendableContract(t, Number(contactId));
  await startContractWorkflow(client, config, contractId);
  const failed = await waitForEvent(contractId, 'contract.failed');
  expect(failed.data).toMatchObject({ errorCode: 'CONTACT_EMAIL_INVALID' });
  expect(eventsOf(contractId).map((e) => e.type)).toEqual(['contract.failed']);
});
