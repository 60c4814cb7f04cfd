/**
 * Staff activate the comfort signature and `signflow konnektor activate` tells the parked eHBA signer with what the
 * activation read (`comfortSignatureReactivated` with `activation`, patch `qes-resume-on-activation`): the signer sends
 * its first batch at once instead of asking GetSignatureMode first, tells the waiting contracts `resumed` only once a
 * batch came back, stays parked as it was when the session is not there after all (no new staff mail), and parks anew
 * (with a staff mail) for a fault of the first SignDocument. Real activities against the Konnektor simulator, SQLite,
 * an SMTP inbox, on the time-skipping server.
 */
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { createKonnektorActivities, type KonnektorActivities } from '../../activities/konnektor/konnektor.activities';
import type { KonnektorClient } from '../../activities/konnektor/konnektor-client';
import type { ComfortSignatureStatus } from '../../activities/konnektor/types';
import { contractHandle } from '../../client/contract-client';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import type { CapturedMail } from '../../mail/dev-inbox';
import {
  qesSignerStatusQuery,
  qesSignerWorkflowId,
  reactivatedAfter,
  statusQuery,
  type CountersignProgress,
  type QesSignerState,
} from '../../workflows/definitions';
import { clientFor } from '../konnektor/helpers';
import { recordHistory } from '../helpers/histories';
import { startContractStack, type ContractStack } from '../helpers/contract-stack';
import { createTimeSkippingEnv } from '../../harness/temporal';
import { confirmedByStaff, parkedAtSigner } from '../helpers/countersign-contracts';
import { eventually, settledResult } from '../helpers/waits';

jest.setTimeout(300_000);

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

let env: TestWorkflowEnvironment;
let sim: RunningKonnektorSimulator;
let konnektor: KonnektorClient;
let stack: ContractStack;
let client: Client;
let acts: KonnektorActivities;
const activity = new MockActivityEnvironment();

const isStaffParked = (m: CapturedMail): boolean =>
  String(m.headers['x-signflow-mail-key'] ?? '').includes(':staff-parked:');
const staffParkedMails = (): CapturedMail[] => stack.inbox.messages().filter(isStaffParked);

const signer = () => client.workflow.getHandle(qesSignerWorkflowId(undefined));
const signerState = (): Promise<QesSignerState> => signer().query(qesSignerStatusQuery);
const signerEvents = async (): Promise<HistoryEvent[]> => (await signer().fetchHistory()).events ?? [];

const scheduledName = (e: HistoryEvent) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? undefined;
const signalName = (e: HistoryEvent) => e.workflowExecutionSignaledEventAttributes?.signalName ?? undefined;

/** The progress a signer's SignalExternalWorkflowExecution event sends, or undefined for any other event. */
function toldOf(e: HistoryEvent): CountersignProgress | undefined {
  const a = e.signalExternalWorkflowExecutionInitiatedEventAttributes;
  const data = a?.signalName === 'countersignProgress' ? a.input?.payloads?.[0]?.data : undefined;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as CountersignProgress) : undefined;
}

const confirmedContract = (): Promise<number> => confirmedByStaff(stack, client);

const parked = (contractId: number): Promise<void> => parkedAtSigner(client, contractId);

/** The card holder enters the PIN; returns what the activation read, as `signflow konnektor activate` sends it. */
async function activate() {
  const mode: ComfortSignatureStatus = await activity.run(acts.activateComfortSignature, {
    staffContactId: stack.t.seed.staffContactId,
  });
  expect(mode.active).toBe(true);
  return reactivatedAfter(mode);
}

/** Contracts parked at a signer without a comfort session; resolves once all are queued there. */
async function parkedContracts(n: number): Promise<number[]> {
  await activity.run(acts.deactivateComfortSignature, {});
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(await confirmedContract());
  for (const id of ids) await parked(id);
  await eventually(async () => expect(await signerState()).toMatchObject({ pending: n, parked: expect.anything() }));
  return ids;
}

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  sim = await startKonnektorSimulator({ adminPort: false, maxSessionsPerCard: 50, comfort: { max: 250 } });
  konnektor = clientFor(sim, { maxRequestsPerCall: 50 });
  stack = await startContractStack(env, {
    konnektor,
    config: {
      // One document per call: the first batch comes back while the other contracts still wait.
      konnektor: {
        enabled: true,
        sdsUrl: sim.sdsUrl,
        serverFingerprint: sim.fingerprint,
        recheckInterval: '20m',
        batchSize: 1,
      },
      signature: { remindersEnabled: false, expiry: '30d' },
      staff: { mail: 'praxis-team@example.org', parkedReminderAfter: '10h' },
    },
  });
  client = stack.client;
  acts = createKonnektorActivities({ konnektor, db: stack.t.db, config: stack.config });
});

afterAll(async () => {
  await stack?.stop();
  konnektor?.close();
  await sim?.close();
  await env?.teardown();
});

test('a confirmed activation: the first batch goes out without a GetSignatureMode of the signer, `resumed` only after it came back', async () => {
  const ids = await parkedContracts(3);
  const mailsBefore = staffParkedMails().length;
  const reactivated = await activate();
  sim.admin.clearCalls();
  await contractHandle(client, ids[0]!).signal('comfortSignatureReactivated', reactivated);
  for (const id of ids) expect((await settledResult(client, id)).qesDocumentId).toBeGreaterThan(0);
  // Countersigned and completed: the status no longer names the reason it once waited for.
  for (const id of ids) {
    const status = await contractHandle(client, id).query(statusQuery);
    expect(status.phase).toBe('completed');
    expect(status.waitingDetail).toBeUndefined();
  }

  const events = await signerEvents();
  const woke = events.findIndex((e) => signalName(e) === 'comfortSignatureReactivated');
  expect(woke).toBeGreaterThan(0);
  const after = events.slice(woke);
  // No activity of the signer's own between the signal and the first batch: the batch asks the Konnektor itself.
  expect(after.flatMap((e) => scheduledName(e) ?? [])).not.toContain('getSignatureMode');
  expect(after.find((e) => scheduledName(e))).toBeDefined();
  expect(scheduledName(after.find((e) => scheduledName(e))!)).toBe('signDocuments');
  // Each SignDocument was preceded by the activity's own GetSignatureMode: one per batch, none more.
  const ops = sim.admin.calls().map((c) => c.operation);
  expect(ops.filter((o) => o === 'SignDocument')).toHaveLength(3);
  expect(ops.filter((o) => o === 'GetSignatureMode')).toHaveLength(3);
  // The waiting contracts heard `resumed` only once a batch had come back from the card.
  const firstBack = after.findIndex((e) => e.activityTaskCompletedEventAttributes);
  const resumedAt = after.flatMap((e, i) => (toldOf(e)?.kind === 'resumed' ? [i] : []));
  expect(firstBack).toBeGreaterThan(0);
  expect(resumedAt.length).toBeGreaterThan(0);
  expect(Math.min(...resumedAt)).toBeGreaterThan(firstBack);
  expect(staffParkedMails()).toHaveLength(mailsBefore);
  expect((await signerState()).parked).toBeUndefined();
  await recordHistory(signer(), 'qes-signer.resume-on-activation');
});

test('an activation that did not take: the signer stays parked as it was, no new staff mail, nobody told `resumed`', async () => {
  const [contractId] = await parkedContracts(1);
  const before = await signerState();
  const mailsBefore = staffParkedMails().length;
  // The activation read an active session, but by the time the signer sends, it has ended (deactivated elsewhere).
  const reactivated = await activate();
  await activity.run(acts.deactivateComfortSignature, {});
  const eventsBefore = (await signerEvents()).length;
  await contractHandle(client, contractId!).signal('comfortSignatureReactivated', reactivated);
  // The tentative batch failed on the Konnektor's GetSignatureMode, before any SignDocument.
  const tried = await eventually(async () => {
    const events = (await signerEvents()).slice(eventsBefore);
    const failed = events.filter((e) => e.activityTaskFailedEventAttributes);
    expect(failed).toHaveLength(1);
    expect((await signerState()).parked).toBeDefined();
    return events;
  });
  expect(tried.flatMap((e) => toldOf(e)?.kind ?? [])).toEqual([]);
  const after = await signerState();
  expect(after.parked).toEqual(before.parked);
  expect((await contractHandle(client, contractId!).query(statusQuery)).phase).toBe('waiting-for-comfort-signature');
  expect(staffParkedMails()).toHaveLength(mailsBefore);

  // The next activation that takes resumes it.
  await contractHandle(client, contractId!).signal('comfortSignatureReactivated', await activate());
  expect((await settledResult(client, contractId!)).qesDocumentId).toBeGreaterThan(0);
  expect(staffParkedMails()).toHaveLength(mailsBefore);
  await recordHistory(signer(), 'qes-signer.resume-on-activation-refuted');
});

test('a contract that asks while the tentative batch runs is told the parking when it is restored', async () => {
  const [first] = await parkedContracts(1);
  const mailsBefore = staffParkedMails().length;
  const reactivated = await activate();
  await activity.run(acts.deactivateComfortSignature, {});
  // The Konnektor takes its time to answer the batch's GetSignatureMode (under the client's call timeout of 20 s):
  // the resumption stays open meanwhile.
  sim.admin.faults.set({ operationLatencyMs: { GetSignatureMode: 12_000 } });
  try {
    await contractHandle(client, first!).signal('comfortSignatureReactivated', reactivated);
    await eventually(async () => expect((await signerState()).parked).toBeUndefined());
    const newcomer = await confirmedContract();
    // It reached the signer while the signer was not parked (the tentative resumption).
    await eventually(async () => {
      const st = await signerState();
      expect(st.pending).toBe(2);
      expect(st.parked).toBeUndefined();
    });
    // The batch finds no session: the parking is restored, and the newcomer hears of it like everyone before it.
    await eventually(async () => expect((await signerState()).parked).toBeDefined(), 60_000);
    await parked(newcomer);
    expect(staffParkedMails()).toHaveLength(mailsBefore);
  } finally {
    sim.admin.faults.set({ operationLatencyMs: {} });
  }
  await contractHandle(client, first!).signal('comfortSignatureReactivated', await activate());
  expect((await settledResult(client, first!)).qesDocumentId).toBeGreaterThan(0);
  await recordHistory(signer(), 'qes-signer.resume-on-activation-joined');
});

test('a confirmed activation whose first SignDocument fails (PIN blocked) parks anew and mails staff', async () => {
  const [contractId] = await parkedContracts(1);
  const mailsBefore = staffParkedMails().length;
  const reactivated = await activate();
  sim.admin.faults.failNext(4063, 1, ['SignDocument']);
  await contractHandle(client, contractId!).signal('comfortSignatureReactivated', reactivated);
  const mail = await stack.inbox.waitFor((m) => isStaffParked(m) && m.text.includes('PIN_BLOCKED'));
  expect(mail.text).toContain('gematik-Fehlercode 4063');
  expect(staffParkedMails()).toHaveLength(mailsBefore + 1);
  await eventually(async () =>
    expect((await contractHandle(client, contractId!).query(statusQuery)).waitingDetail).toMatch(/^PIN_BLOCKED/)
  );
  expect((await signerState()).parked?.failureType).toBe('PIN_BLOCKED');
  // Staff unblock the PIN; a bare signal (no activation read) checks first, as before.
  await contractHandle(client, contractId!).signal('comfortSignatureReactivated', {});
  expect((await settledResult(client, contractId!)).qesDocumentId).toBeGreaterThan(0);
});
