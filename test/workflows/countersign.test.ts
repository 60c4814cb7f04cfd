/**
 * The practice's QES countersignature through the workflow, on the time-skipping server, with the real activities
 * against the Konnektor simulator over mutual TLS and a real SQLite database: batching across contracts, the comfort
 * signature running out mid-batch (park, re-activate, finish, nothing signed twice), and every classified gematik
 * code injected into SignDocument: retried, repaired or parked as its classification says.
 */
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { createKonnektorActivities, type KonnektorActivities } from '../../activities/konnektor/konnektor.activities';
import type { KonnektorClient } from '../../activities/konnektor/konnektor-client';
import { contractHandle, startContractWorkflow } from '../../client/contract-client';
import {
  DOCUMENT_LEVEL_FAILURE_TYPES,
  GEMATIK_CODES,
  classifyGematikCode,
  type GematikCode,
  type GematikCodeClassification,
} from '../../domain/konnektor-errors';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import {
  SA_WAITING_REASON,
  qesSignerStatusQuery,
  qesSignerWorkflowId,
  statusQuery,
  type ContractState,
  type QesSignerState,
} from '../../workflows/definitions';
import { clientFor } from '../konnektor/helpers';
import { recordHistory } from '../helpers/histories';
import { addSendableContract, startContractStack, type ContractStack } from '../helpers/contract-stack';
import { confirmedByStaff } from '../helpers/countersign-contracts';
import { eventually, settledResult } from '../helpers/waits';
import { createTimeSkippingEnv, startDevServer, type DevServerHandle } from '../../harness/temporal';

jest.setTimeout(300_000);

let env: TestWorkflowEnvironment;
let sim: RunningKonnektorSimulator;
let konnektor: KonnektorClient;
let stack: ContractStack;
let client: Client;
let acts: KonnektorActivities;

const activity = new MockActivityEnvironment();

async function activateComfort(): Promise<void> {
  await activity.run(acts.activateComfortSignature, { staffContactId: stack.t.seed.staffContactId });
}

const confirmedContract = (): Promise<number> => confirmedByStaff(stack, client);

const stateOf = (contractId: number): Promise<ContractState> => contractHandle(client, contractId).query(statusQuery);

async function reactivateVia(contractId: number): Promise<void> {
  await contractHandle(client, contractId).signal('comfortSignatureReactivated', {});
}

async function qesRows(): Promise<number> {
  const [row] = await stack.t.db('signflow_qes').count({ n: '*' });
  return Number(row?.n);
}

const signerHandle = () => client.workflow.getHandle(qesSignerWorkflowId(undefined));

/** The eHBA signer's state, or undefined while no contract has started it yet. */
async function signerState(): Promise<QesSignerState | undefined> {
  try {
    return await signerHandle().query(qesSignerStatusQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** The contract workflow's history events, in order. */
async function historyEvents(contractId: number) {
  return (await contractHandle(client, contractId).fetchHistory()).events ?? [];
}

/**
 * The simulator, a stack with countersigning switched on, and an activated comfort signature on `temporal`.
 * The time-skipping server is for the retry and park timings; the dev server for many concurrent contracts (the
 * time-skipping server's time lock does not keep up with a hundred workflows at once).
 */
function withStack(
  makeEnv: () => Promise<TestWorkflowEnvironment>,
  stop: () => Promise<void> = async () => env.teardown(),
  simOptions: { offer75?: boolean } = {}
) {
  beforeAll(async () => {
    env = await makeEnv();
    sim = await startKonnektorSimulator({
      adminPort: false,
      maxSessionsPerCard: 50,
      comfort: { max: 250 },
      ...simOptions,
    });
    konnektor = clientFor(sim, { maxRequestsPerCall: 50 });
    stack = await startContractStack(env, {
      konnektor,
      config: {
        konnektor: {
          enabled: true,
          sdsUrl: sim.sdsUrl,
          serverFingerprint: sim.fingerprint,
          batchSize: 25,
          recheckInterval: '5m',
        },
        signature: { remindersEnabled: false, expiry: '30d' },
      },
    });
    client = stack.client;
    acts = createKonnektorActivities({ konnektor, db: stack.t.db, config: stack.config });
    if (simOptions.offer75 !== false) await activateComfort();
  });

  afterAll(async () => {
    await stack?.stop();
    konnektor?.close();
    await sim?.close();
    await stop();
  });
}

describe('on the time-skipping server', () => {
  withStack(createTimeSkippingEnv);

  test('a signed contract is countersigned (QES stored as a document, verifiable) before the confirmation mail', async () => {
    const contractId = await addSendableContract(stack.t);
    await startContractWorkflow(client, stack.config, contractId);
    const handle = contractHandle(client, contractId);
    await eventually(async () => expect((await handle.query(statusQuery)).phase).toBe('awaiting-signature'));
    const { contactId } = await handle.query(statusQuery);
    await handle.executeUpdate('sign', { args: [{ contactId, method: 'click' }] });
    const result = await settledResult(client, contractId);
    expect(result.outcome).toBe('signed');
    expect(result.qesDocumentId).toBeGreaterThan(0);
    const qesDoc = await stack.t.db('dokumente').where('id', result.qesDocumentId).first();
    expect(qesDoc).toMatchObject({ verknuepftes_objekt_typ: 'Honorarvertrag', verknuepftes_objekt_id: contractId });
    const verification = await activity.run(acts.verifyDocument, { qesDocumentId: result.qesDocumentId as number });
    expect(verification).toMatchObject({ valid: true, storedHashMatches: true, highLevelResult: 'VALID' });
    const keys = stack.inbox.messages().map((m) => m.headers['x-signflow-mail-key']);
    expect(keys).toContain(`honorarvertrag-${contractId}:confirmation`);
    // The order: the signer stored the QES with its batch and told the contract (its `signed` progress carries the
    // document), before the confirmation mail was scheduled; the contract ran no store of its own.
    const events = await historyEvents(contractId);
    const activityNames = events.flatMap((e) => {
      const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
      return name ? [name] : [];
    });
    expect(activityNames).not.toContain('storeCountersignature');
    const progress = events.flatMap((e, i) =>
      e.workflowExecutionSignaledEventAttributes?.signalName === 'countersignProgress' ? [i] : []
    );
    // The confirmation is a local activity from generation 4 on: its marker names the mail activity.
    const localMail = (e: (typeof events)[number]) =>
      e.markerRecordedEventAttributes?.markerName === 'core_local_activity' &&
      Buffer.from(e.markerRecordedEventAttributes.details?.data?.payloads?.[0]?.data ?? []).includes(
        '"activity_type":"sendContractMail"'
      );
    const mails = events.flatMap((e, i) =>
      e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendContractMail' || localMail(e) ? [i] : []
    );
    // Reminders are off here: the invitation, then the confirmation.
    expect(mails).toHaveLength(2);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[progress.length - 1]!).toBeGreaterThan(mails[0]!);
    expect(mails[1]!).toBeGreaterThan(progress[progress.length - 1]!);
    const qesRow = await stack.t.db('signflow_qes').where('qes_document_id', result.qesDocumentId).first();
    expect(Number(qesRow?.contract_id)).toBe(contractId);
    await recordHistory(handle, 'countersign-signed.after-countersign-stored-by-signer');
  });

  test('without a staff signal, the periodic GetSignatureMode check resumes a parked contract', async () => {
    await activity.run(acts.deactivateComfortSignature, {});
    const contractId = await confirmedContract();
    const parked = await eventually(async () => {
      const st = await stateOf(contractId);
      expect(st.phase).toBe('waiting-for-comfort-signature');
      return st;
    });
    expect(parked.waitingDetail).toMatch(/^COMFORT_SIGNATURE_(EXPIRED|NOT_ACTIVE)/);
    await activateComfort(); // the card holder enters the PIN; nobody tells signflow
    await env.sleep('6m'); // one recheck interval (5 min)
    const result = await settledResult(client, contractId);
    expect(result.qesDocumentId).toBeGreaterThan(0);
    // The signer parked (staff told by mail) and resumed: its history takes `staff-parked-notice`.
    await recordHistory(signerHandle(), 'qes-signer.parked-staff-notice');
    await recordHistory(signerHandle(), 'qes-signer.parked-staff-notice.after-qes-sign-ahead');
  });
});

describe('on the dev server', () => {
  let server: DevServerHandle;
  withStack(
    async () => {
      server = await startDevServer();
      return server.env;
    },
    async () => server?.stop()
  );

  test('batching: 100 queued contracts are countersigned in exactly 4 SignDocument calls of 25 (batch size 25)', async () => {
    // All 100 requests queue at the signer before the comfort signature is active, so the batches do not depend on
    // how fast this machine confirms contracts: 100 waiting / batch size 25 = 4 calls of 25.
    await activity.run(acts.deactivateComfortSignature, {});
    const before = { ...sim.admin.stats(), batchSizes: [...sim.admin.stats().batchSizes] };
    const qesBefore = await qesRows();
    const signedBefore = (await signerState())?.signed ?? 0;
    const ids: number[] = [];
    for (let i = 0; i < 100; i += 10) {
      ids.push(...(await Promise.all(Array.from({ length: 10 }, () => confirmedContract()))));
    }
    const queued = await eventually(async () => {
      const st = await signerState();
      expect(st).toMatchObject({ pending: 100, parked: expect.anything() });
      return st as QesSignerState;
    }, 180_000);
    expect(queued.parked?.failureType).toMatch(/^COMFORT_SIGNATURE_(EXPIRED|NOT_ACTIVE)$/);
    expect(sim.admin.stats().signDocumentCalls).toBe(before.signDocumentCalls);

    await activateComfort();
    await reactivateVia(ids[0]!);
    // A bound far beyond any machine: the test waits for the state, and fails only if it never comes.
    const results = await Promise.all(ids.map((id) => settledResult(client, id, 600_000)));
    expect(results.every((r) => r.outcome === 'confirmed' && (r.qesDocumentId ?? 0) > 0)).toBe(true);
    const after = sim.admin.stats();
    expect(after.signatures - before.signatures).toBe(100);
    expect(await qesRows()).toBe(qesBefore + 100);
    expect(after.signDocumentCalls - before.signDocumentCalls).toBe(4);
    expect(after.batchSizes.slice(before.batchSizes.length)).toEqual([25, 25, 25, 25]);
    expect(await signerState()).toMatchObject({ pending: 0, signed: signedBefore + 100 });
    // The card need not wait for the signer to prepare its second call: with 100 queued, the second batch was
    // scheduled (and so read its documents and built its request) in the workflow task that started the first, while
    // that one was still signing (`qes-sign-ahead`). (Later batches overlap too, but when depends on timing.)
    const signerEvents = (await signerHandle().fetchHistory()).events ?? [];
    const batches = signerEvents.flatMap((e) =>
      e.activityTaskScheduledEventAttributes?.activityType?.name === 'signDocuments' ? [Number(e.eventId)] : []
    );
    const settledAt = (scheduled: number) =>
      Number(
        signerEvents.find(
          (e) =>
            Number(
              e.activityTaskCompletedEventAttributes?.scheduledEventId ??
                e.activityTaskFailedEventAttributes?.scheduledEventId ??
                -1
            ) === scheduled
        )?.eventId
      );
    const lastFour = batches.slice(-4);
    expect(lastFour).toHaveLength(4);
    expect(lastFour[1]!).toBeLessThan(settledAt(lastFour[0]!));
    // Parked, resumed, four batches with the next one always prepared while the card signs (`qes-sign-ahead`).
    await recordHistory(signerHandle(), 'qes-signer.after-qes-sign-ahead');
  }, 900_000);

  test('the comfort signature runs out mid-batch: the rest park, staff re-activate, all complete, none signed twice', async () => {
    // A fresh session that allows only 5 signatures.
    await activity.run(acts.deactivateComfortSignature, {});
    sim.admin.setComfort({ max: 5 });
    await activateComfort();
    const statsBefore = sim.admin.stats().signatures;
    const qesBefore = await qesRows();

    const ids = await Promise.all(Array.from({ length: 8 }, () => confirmedContract()));
    // Five are signed, three park with the reason visible to ops.
    const parked = await eventually(async () => {
      const states = await Promise.all(ids.map(stateOf));
      const waiting = states.filter((s) => s.phase === 'waiting-for-comfort-signature');
      expect(states.filter((s) => s.phase === 'completed')).toHaveLength(5);
      expect(waiting).toHaveLength(3);
      return waiting;
    });
    for (const s of parked) expect(s.waitingDetail).toMatch(/COMFORT_SIGNATURE_(EXPIRED|NOT_ACTIVE)/);
    const waitingId = parked[0]?.contractId as number;
    const described = await contractHandle(client, waitingId).describe();
    expect(described.typedSearchAttributes.get(SA_WAITING_REASON)).toBe('comfort-signature');
    expect(sim.admin.stats().signatures - statsBefore).toBe(5);

    // Staff enter the PIN again and tell signflow (through any waiting contract).
    sim.admin.setComfort({ max: 250 });
    await activateComfort();
    await reactivateVia(waitingId);
    const results = await Promise.all(ids.map((id) => settledResult(client, id)));
    expect(results.every((r) => (r.qesDocumentId ?? 0) > 0)).toBe(true);
    expect(sim.admin.stats().signatures - statsBefore).toBe(8);
    expect(await qesRows()).toBe(qesBefore + 8);
    expect(new Set(results.map((r) => r.qesDocumentId)).size).toBe(8);
    await recordHistory(contractHandle(client, waitingId), 'countersign-parked-then-resumed');
    await recordHistory(contractHandle(client, waitingId), 'countersign-parked-then-resumed.generation-4');
  });

  test('the signing workflow reports what it signed and that nothing waits', async () => {
    // Whatever ran before (or nothing, under -t): this test counts its own three contracts.
    const signedBefore = (await signerState())?.signed ?? 0;
    const ids = await Promise.all([confirmedContract(), confirmedContract(), confirmedContract()]);
    const results = await Promise.all(ids.map((id) => settledResult(client, id)));
    expect(results.every((r) => (r.qesDocumentId ?? 0) > 0)).toBe(true);
    const state = await signerState();
    expect(state).toMatchObject({ pending: 0, signed: signedBefore + 3 });
    expect(state?.parked).toBeUndefined();
    // The signer keeps running; its history so far (batches, parking, resuming) is what a replay must accept.
    await recordHistory(signerHandle(), 'qes-signer');
  });
});

describe('a Konnektor that offers SignatureService 7.4 only (no comfort signature)', () => {
  withStack(createTimeSkippingEnv, undefined, { offer75: false });

  test('countersigns with a PIN per SignDocument call instead of parking', async () => {
    const mode = (await activity.run(acts.getSignatureMode, {})) as { comfortSupported: boolean };
    expect(mode.comfortSupported).toBe(false);
    const ids = await Promise.all([confirmedContract(), confirmedContract()]);
    const results = await Promise.all(ids.map((id) => settledResult(client, id)));
    expect(results.every((r) => (r.qesDocumentId ?? 0) > 0)).toBe(true);
    expect(sim.admin.stats().signatures).toBe(2);
    const calls = sim.admin.calls().filter((c) => c.operation === 'SignDocument');
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => c.soapAction.includes('v7.4'))).toBe(true);
  });
});

const UNREPAIRABLE_ON_SIGN: ReadonlySet<number> = new Set([4000, 4270]);

/** Through the workflow, what each classified code must do when SignDocument answers with it. */
function expectation(c: GematikCodeClassification): { inject: number; parksAs?: string; failsDocument?: boolean } {
  // A fault about the document itself (too large, wrong format, refused content) fails that contract's
  // countersignature alone: the signer does not park, and retrying the same bytes cannot help.
  if (c.failureType && (DOCUMENT_LEVEL_FAILURE_TYPES as readonly string[]).includes(c.failureType)) {
    return { inject: 1, failsDocument: true };
  }
  switch (c.faultClass) {
    case 'transient':
      // T1 codes are retried until their last allowed attempt, then need a person; the others heal by retrying.
      return c.maxAttempts && c.escalateTo ? { inject: c.maxAttempts, parksAs: c.escalateTo } : { inject: 2 };
    case 'recoverable':
      // The client repairs once (new card handle or job number); one fault heals. Two repairs cannot help a
      // one-document SignDocument: 4000 is repaired by splitting the batch, and 4270 by a new UserId, which has no
      // comfort session (that needs a new activation). Both then need a person.
      return UNREPAIRABLE_ON_SIGN.has(c.code) && c.escalateTo ? { inject: 1, parksAs: c.escalateTo } : { inject: 1 };
    case 'needs-person':
      return { inject: 1, parksAs: c.failureType };
    case 'warning':
      return { inject: 0 };
  }
}

const CLASSIFIED = GEMATIK_CODES.map((code) => classifyGematikCode(code as GematikCode)).filter(
  // Warnings arrive in a successful Status, not as a fault: nothing to inject (see test/konnektor for them).
  (c) => c.faultClass !== 'warning'
);

describe('every classified gematik code on SignDocument, through the workflow (time-skipping server)', () => {
  withStack(createTimeSkippingEnv);

  test.each(CLASSIFIED.map((c) => [c.code, c.faultClass, c] as const))(
    'gematik %i (%s)',
    async (code, _class, classification) => {
      const { inject, parksAs, failsDocument } = expectation(classification);
      const signaturesBefore = sim.admin.stats().signatures;
      sim.admin.clearCalls();
      sim.admin.faults.failNext(code, inject, ['SignDocument']);
      const contractId = await confirmedContract();
      if (parksAs) {
        // Let workflow time pass (retry backoff) while we look: nothing awaits the result, so nothing else skips it.
        let state = await stateOf(contractId);
        for (let i = 0; i < 100 && state.phase !== 'waiting-for-comfort-signature'; i++) {
          await env.sleep('5s');
          state = await stateOf(contractId);
        }
        expect(state.phase).toBe('waiting-for-comfort-signature');
        expect(state.waitingDetail).toBe(`${parksAs} (gematik ${code})`);
        await reactivateVia(contractId);
      }
      // Retry backoff is workflow time: let it pass in small steps (far below any activity timeout) while we look.
      for (let i = 0; i < 100 && !['completed'].includes((await stateOf(contractId)).phase); i++) await env.sleep('5s');
      const result = await settledResult(client, contractId);
      if (failsDocument) {
        const state = await stateOf(contractId);
        expect(result.qesDocumentId).toBeUndefined();
        expect(state.countersignFailure).toMatch(new RegExp(`^${classification.failureType} \\(gematik ${code}\\)`));
        expect(sim.admin.stats().signatures - signaturesBefore).toBe(0);
        expect(sim.admin.calls().filter((c) => c.operation === 'SignDocument')).toHaveLength(1);
        return;
      }
      expect(result.qesDocumentId).toBeGreaterThan(0);
      expect(sim.admin.stats().signatures - signaturesBefore).toBe(1);
      // Every injected fault was met by exactly one SignDocument call, then one call succeeded: retried or repaired,
      // never given up on and never signed twice.
      expect(sim.admin.calls().filter((c) => c.operation === 'SignDocument')).toHaveLength(inject + 1);
    }
  );
});
