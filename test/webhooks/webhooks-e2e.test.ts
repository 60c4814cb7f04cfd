/**
 * Signed webhooks end to end on real parts: the Temporal dev server, the real worker and activities, a SQLite CRM, the
 * dev webhook receiver (verifying every arrival with the `standardwebhooks` package). The receiver is killed while the
 * contract runs; the contract still completes, the deliveries are retried with the same `webhook-id`, and in the end
 * every event has exactly one accepted delivery.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import {
  contractStatus,
  recordDocumentView,
  signContractUpdate,
  startContractWorkflow,
} from '../../client/contract-client';
import { verifyCertificate } from '../../cli/certificate-verification';
import { sha256Hex } from '../../domain/signature-hash';
import { listDeliveries } from '../../webhooks/delivery-log';
import { startDevWebhookReceiver, type DevWebhookReceiver, type ReceivedWebhook } from '../../webhooks/dev-receiver';
import { replayDelivery } from '../../webhooks/replay-delivery';
import { addSendableContract, startContractStack, type ContractStack } from '../helpers/contract-stack';
import { getFreePort, startDevServer, type DevServerHandle } from '../../harness/temporal';
import { eventually, settledResult } from '../helpers/waits';

jest.setTimeout(240_000);

const secret = (): string => `whsec_${randomBytes(32).toString('base64')}`;
const crmSecret = secret();
const auditSecret = secret();

let server: DevServerHandle;
let stack: ContractStack;
let dir: string;
let crmPort: number;
let crm: DevWebhookReceiver;
let auditReceiver: DevWebhookReceiver;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-webhooks-'));
  crmPort = await getFreePort();
  crm = await startDevWebhookReceiver({ secret: crmSecret, port: crmPort, dir: path.join(dir, 'crm') });
  auditReceiver = await startDevWebhookReceiver({ secret: auditSecret, dir: path.join(dir, 'audit') });
  server = await startDevServer();
  stack = await startContractStack(server.env, {
    config: {
      webhooks: {
        endpoints: [
          { name: 'crm', url: crm.hookUrl, secret: crmSecret },
          {
            name: 'audit',
            url: auditReceiver.hookUrl,
            secret: auditSecret,
            events: ['contract.completed'],
            personalData: true,
          },
        ],
      },
    },
  });
});

afterAll(async () => {
  await stack?.stop();
  await server?.stop();
  await crm?.close();
  await auditReceiver?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const typesOf = (rs: ReceivedWebhook[]): string[] => rs.map((r) => r.type ?? '?');

test('the receiver is killed mid-run: the contract goes on, and each event ends with exactly one accepted delivery', async () => {
  const { t, client, config } = stack;
  const contractId = await addSendableContract(t);
  await startContractWorkflow(client, config, contractId);
  await crm.waitFor((all) => typesOf(all).includes('contract.sent'));
  const signer = t.seed.contactIds[0] as number;

  // Two views by the signer (the first is contract.viewed), one by someone else (not counted).
  await recordDocumentView(client, contractId, { contactId: signer, ip: '203.0.113.7', userAgent: 'Browser/1' });
  await recordDocumentView(client, contractId, { contactId: signer + 1000 });
  await recordDocumentView(client, contractId, { contactId: signer, userAgent: 'Browser/2' });
  await eventually(async () => expect((await contractStatus(client, contractId)).views).toBe(2));
  await crm.waitFor((all) => typesOf(all).includes('contract.viewed'));

  // Kill the receiver, then sign: the contract must complete although no delivery gets through.
  await crm.close();
  await signContractUpdate(client, contractId, {
    contactId: signer,
    method: 'click',
    ip: '203.0.113.8',
    userAgent: 'UA/3',
  });
  await eventually(async () => expect((await contractStatus(client, contractId)).phase).toBe('completed'), 60_000);
  // The signed event was attempted and failed while the receiver was down.
  const failing = await eventually(async () => {
    const [row] = await listDeliveries(t.db, { contractId, eventType: 'contract.signed' });
    expect(row).toMatchObject({ endpoint: 'crm', status: 'pending' });
    expect(row?.attempts).toBeGreaterThanOrEqual(1);
    expect(row?.lastStatusCode).toBeNull();
    return row;
  }, 60_000);

  // Back on the same port with what it had accepted before the kill.
  crm = await startDevWebhookReceiver({ secret: crmSecret, port: crmPort, dir: path.join(dir, 'crm') });
  const expected = ['contract.sent', 'contract.viewed', 'contract.signed', 'contract.completed'];
  await crm.waitFor((all) => expected.every((e) => typesOf(all.filter((r) => r.verified)).includes(e)), 120_000);
  const result = await settledResult(client, contractId, 120_000);
  expect(result.outcome).toBe('signed');

  // Exactly one accepted delivery per event, each verified by the package, none refused.
  const accepted = crm.accepted();
  expect(typesOf(accepted).sort()).toEqual([...expected].sort());
  expect(crm.received().every((r) => r.verified)).toBe(true);
  for (const r of accepted) {
    const payload = new Webhook(crmSecret).verify(r.body, {
      'webhook-id': r.webhookId,
      'webhook-timestamp': r.webhookTimestamp,
      'webhook-signature': r.signature,
    }) as { type: string; data: Record<string, unknown> };
    expect(payload.data.contractId).toBe(contractId);
    // No personal data for this endpoint: ids, labels, timestamps.
    expect(r.body).not.toMatch(/@|firstName|lastName|email/);
  }
  const signed = accepted.find((r) => r.type === 'contract.signed') as ReceivedWebhook;
  expect(signed.webhookId).toBe(failing?.messageId);
  expect(JSON.parse(signed.body)).toMatchObject({
    type: 'contract.signed',
    data: { contractId, method: 'click', signatureStatus: 'gültig', contractStatus: 'in Durchführung' },
  });

  // Every view and the signature are in the audit trail, with the client as the portal passed it.
  const audit = await t.db('signflow_audit_events').where({ contract_id: contractId }).orderBy('id');
  const views = audit.filter((a) => a.event === 'document-viewed').map((a) => JSON.parse(a.detail));
  expect(views).toEqual([
    expect.objectContaining({ contactId: signer, viewNumber: 1, ip: '203.0.113.7', userAgent: 'Browser/1' }),
    expect.objectContaining({ contactId: signer, viewNumber: 2, ip: null, userAgent: 'Browser/2' }),
  ]);
  const recorded = JSON.parse(audit.find((a) => a.event === 'signature-recorded').detail);
  expect(recorded).toMatchObject({ ip: '203.0.113.8', userAgent: 'UA/3' });

  // The Prüfprotokoll: a Dokument linked to the contract, its hash in the audit trail, checked by verify.
  const certificates = await t.db('dokumente').where({
    verknuepftes_objekt_typ: 'Honorarvertrag',
    verknuepftes_objekt_id: contractId,
    vorlagenart: 'Prüfprotokoll',
  });
  expect(certificates).toHaveLength(1);
  const certificate = certificates[0];
  expect(certificate).toMatchObject({
    titel: `Prüfprotokoll zu Honorarvertrag ${contractId}`,
    mime_type: 'application/pdf',
  });
  expect(result.outcome).toBe('signed');
  expect((await contractStatus(client, contractId)).certificateDocumentId).toBe(certificate.id);
  const created = JSON.parse(audit.find((a) => a.event === 'certificate-created').detail);
  expect(created).toEqual({ documentId: certificate.id, sha256: sha256Hex(Buffer.from(certificate.inhalt)) });
  expect(JSON.parse(signed.body).type).toBe('contract.signed');
  const completed = accepted.find((r) => r.type === 'contract.completed') as ReceivedWebhook;
  expect(JSON.parse(completed.body).data.certificateDocumentId).toBe(certificate.id);
  expect(await verifyCertificate(t.db, config.crm, contractId)).toMatchObject({ match: true });
  // One changed byte in the stored certificate: verify says so.
  const tampered = Buffer.from(certificate.inhalt);
  tampered.writeUInt8(tampered.readUInt8(tampered.length - 10) ^ 1, tampered.length - 10);
  await t.db('dokumente').where({ id: certificate.id }).update({ inhalt: tampered });
  expect(await verifyCertificate(t.db, config.crm, contractId)).toMatchObject({ match: false });

  // The log: delivered, with the failed attempts counted.
  const rows = await listDeliveries(t.db, { contractId });
  const crmRows = rows.filter((r) => r.endpoint === 'crm');
  expect(crmRows.map((r) => r.eventType).sort()).toEqual([...expected].sort());
  expect(crmRows.every((r) => r.status === 'delivered')).toBe(true);
  expect(crmRows.find((r) => r.eventType === 'contract.signed')?.attempts).toBeGreaterThanOrEqual(2);

  // The filtered endpoint got only its event, with the contact because it opted in.
  const auditAccepted = auditReceiver.accepted().filter((r) => JSON.parse(r.body).data.contractId === contractId);
  expect(typesOf(auditAccepted)).toEqual(['contract.completed']);
  const contact = await t.db('kontakte').where('id', t.seed.contactIds[0]).first();
  expect(JSON.parse(auditAccepted[0]?.body ?? '{}').data.contact).toMatchObject({ email: contact.email });

  // A replay re-sends the same message: the receiver sees a duplicate, still one accepted.
  const signedRow = crmRows.find((r) => r.eventType === 'contract.signed');
  const replayed = await replayDelivery(t.db, config, signedRow?.id as number);
  expect(replayed.attempt.ok).toBe(true);
  const last = crm.received().at(-1) as ReceivedWebhook;
  expect(last).toMatchObject({ webhookId: signed.webhookId, verified: true, duplicate: true, body: signed.body });
  expect(crm.accepted().filter((r) => r.type === 'contract.signed')).toHaveLength(1);
});

test('a delivery signed with another secret is refused by the receiver', async () => {
  const body = JSON.stringify({ type: 'contract.sent', timestamp: new Date().toISOString(), data: {} });
  const at = new Date();
  const res = await fetch(crm.hookUrl, {
    method: 'POST',
    headers: {
      'webhook-id': 'msg_forged',
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(secret()).sign('msg_forged', at, body),
    },
    body,
  });
  expect(res.status).toBe(400);
  expect(crm.received().at(-1)).toMatchObject({ webhookId: 'msg_forged', verified: false });
  expect(crm.accepted().some((r) => r.webhookId === 'msg_forged')).toBe(false);
});
