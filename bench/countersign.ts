/**
 * Scenario 3: the practice's QES countersignature through the eHBA's signing workflow (`qesCountersigner`) against the
 * Konnektor simulator, with the latency of a card: per SignDocument call and per document (the card signing, one call
 * at a time per card), other SOAP calls fast. The same contracts' path is run twice, batched (`konnektor.batchSize` =
 * N) and one document per SignDocument call (batchSize 1).
 *
 * Per variant: the contracts are started and their invitations awaited (not measured), the comfort signature is off,
 * then all are signed at once. Each contract records its signature and asks the eHBA's signer for its
 * countersignature; the signer parks (no comfort session) and the requests queue — the morning queue before staff
 * enter the PIN. When all are queued, a fresh comfort session is activated and the signer told (t0); the clock stops
 * when the last contract has completed (countersignature stored, confirmation mail sent). That span is compared with
 * the card-bound floor: documents × per-document time + SignDocument calls × per-call time for the batch size.
 */
import { createKonnektorActivities } from '../activities/konnektor/konnektor.activities';
import type { KonnektorClient } from '../activities/konnektor/konnektor-client';
import { contractHandle, signContractUpdate, startContractWorkflow } from '../client/contract-client';
import type { CardCall, RunningKonnektorSimulator } from '../konnektor-simulator';
import type { SignflowConfig } from '../temporal.config';
import {
  comfortSignatureReactivatedSignal,
  qesSignerStatusQuery,
  qesSignerWorkflowId,
  reactivatedAfter,
  statusQuery,
  type ContractResult,
} from '../workflows/definitions';
import { stepTimings, type StepTiming } from './history';
import { addContracts, mapLimit, type BenchStack } from './stack';

export interface CountersignVariantResult {
  batchSize: number;
  contracts: number;
  /** All signs sent at once → every countersignature request queued at the parked signer, ms (not card-bound). */
  queuedMs: number;
  /**
   * All queued → every contract told why it waits (its status `waiting-for-comfort-signature`) and the signer without a
   * workflow task to run, ms: the rest of the queueing, done before the activation as it is when a card holder enters
   * the PIN after the staff mail (not card-bound).
   */
  settledMs: number;
  /** Comfort signature re-activated and the signer told (t0) → last contract completed, ms: the card-bound span. */
  cardSpanMs: number;
  /** t0 → the card starts on the first SignDocument call, ms. */
  toFirstCallMs: number;
  /** Sum of the card's idle time between two SignDocument calls (answer sent → next call started on the card), ms. */
  gapsMs: number[];
  /**
   * Of each gap: the time the next call had arrived whole at the Konnektor (answer sent or later) and was read and
   * checked there before the card started on it, ms. The rest of the gap is signflow's (and the wire's).
   */
  gapsAtKonnektorMs: number[];
  /** The card's last answer → last contract completed (store the countersignature, confirmation mail), ms. */
  afterLastCallMs: number;
  /** Time the card spent signing (sum over the calls), ms. */
  cardBusyMs: number;
  /** Per contract: t0 → completed. */
  completedAfterMs: number[];
  signDocumentCalls: number;
  batchSizes: number[];
  /** SOAP calls by operation from t0 on (the simulator keeps the last 500). */
  soapCalls: Record<string, number>;
  soapCallsTruncated: boolean;
  /** The signing workflow's activities (getSignatureMode, signDocuments…). */
  signerSteps: StepTiming[];
}

export interface CountersignDeps {
  stack: BenchStack;
  sim: RunningKonnektorSimulator;
  konnektor: KonnektorClient;
}

const invitationKey = (contractId: number) => `honorarvertrag-${contractId}:invitation`;

/** The signer keeps its batch size from its start: end it between variants (it is idle then). */
async function endSigner(stack: BenchStack): Promise<void> {
  await stack.client.workflow
    .getHandle(qesSignerWorkflowId(stack.config.konnektor.hbaIccsn))
    .terminate('benchmark: next variant')
    .catch(() => undefined);
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`benchmark: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The card-bound floor, ms: documents × per-document time + calls × per-call time (calls = ⌈documents / batch⌉). */
export function cardBoundFloorMs(documents: number, batchSize: number, perCallMs: number, perDocumentMs: number) {
  return Math.ceil(documents / batchSize) * perCallMs + documents * perDocumentMs;
}

export async function runCountersignVariant(
  deps: CountersignDeps,
  batchSize: number,
  contracts: number
): Promise<CountersignVariantResult> {
  const { stack, sim, konnektor } = deps;
  const config: SignflowConfig = { ...stack.config, konnektor: { ...stack.config.konnektor, batchSize } };
  const acts = createKonnektorActivities({ konnektor, db: stack.db, config: stack.config });
  const signer = stack.client.workflow.getHandle(qesSignerWorkflowId(stack.config.konnektor.hbaIccsn));
  await endSigner(stack);
  // No comfort session: the signer parks on the first request and the others queue behind it.
  await acts.deactivateComfortSignature({}).catch(() => undefined);
  const rows = await addContracts(stack, contracts);
  // Up to the invitation first (not measured): what is measured is what follows the signature.
  await mapLimit(rows, 10, async (c) => {
    await startContractWorkflow(stack.client, config, c.contractId);
    await stack.waitForMail(invitationKey(c.contractId), 120_000);
  });

  const tSign = performance.now();
  const results = rows.map(async (c) => {
    await signContractUpdate(stack.client, c.contractId, { contactId: c.contactId, method: 'click' });
    const result = (await contractHandle(stack.client, c.contractId).result()) as ContractResult;
    if (!result.qesDocumentId) throw new Error(`contract ${c.contractId} completed without a countersignature`);
    return performance.now();
  });
  // A contract that fails before its request queues would leave the wait below hanging: fail the run with it.
  const failed = Promise.all(results).then(
    () => new Promise<never>(() => undefined),
    (err: unknown) => Promise.reject(err)
  );
  await Promise.race([
    until(
      async () => {
        const st = await signer.query(qesSignerStatusQuery);
        return st.pending === contracts && st.parked !== undefined;
      },
      `${contracts} countersignature requests queued at the parked signer`,
      600_000
    ),
    failed,
  ]);
  const queuedMs = performance.now() - tSign;
  // The parked signer tells each queued contract why it waits (a signal, then that contract's workflow task), and
  // each of those signals comes back to the signer as an event. An activation in the middle of that waited behind it
  // (the signer's task for the activation queued behind a hundred contract tasks: 1.5–2 s of the span on a 2-core
  // machine), which is the queueing's cost, not the card-bound path's: in use the activation follows the staff mail
  // and a PIN entry at the card terminal. So the activation comes when everything has settled, as it would.
  const settled = new Set<number>();
  const settle = until(
    async () => {
      await mapLimit(
        rows.filter((c) => !settled.has(c.contractId)),
        10,
        async (c) => {
          const st = await contractHandle(stack.client, c.contractId).query(statusQuery);
          if (st.phase === 'waiting-for-comfort-signature') settled.add(c.contractId);
        }
      );
      if (settled.size < rows.length) return false;
      const d = await signer.describe();
      return !d.raw.pendingWorkflowTask;
    },
    'every contract told it waits for the comfort signature, the signer idle',
    600_000
  );
  await Promise.race([settle, failed]);
  const settledMs = performance.now() - tSign - queuedMs;

  const activation = await acts.activateComfortSignature({ staffContactId: stack.t.seed.staffContactId });
  // The simulator's stats object is live: keep the figures as they are now.
  const before = {
    signDocumentCalls: sim.admin.stats().signDocumentCalls,
    batches: sim.admin.stats().batchSizes.length,
  };
  sim.admin.clearCalls();
  const t0 = performance.now();
  const t0Epoch = Date.now();
  // As `signflow konnektor activate` does: with what the activation read of the session.
  await signer.signal(comfortSignatureReactivatedSignal, reactivatedAfter(activation));
  const completedAt = await Promise.all(results);
  const t1 = Math.max(...completedAt);
  const t1Epoch = t0Epoch + (t1 - t0);

  const after = sim.admin.stats();
  const cardCalls: CardCall[] = [...sim.admin.cardCalls()].sort((a, b) => a.cardStartedAt - b.cardStartedAt);
  const calls = sim.admin.calls();
  const soapCalls: Record<string, number> = {};
  for (const call of calls) soapCalls[call.operation || call.path] = (soapCalls[call.operation || call.path] ?? 0) + 1;
  const signerSteps = stepTimings(await signer.fetchHistory()).filter((s) => s.step !== '(workflow task)');
  await endSigner(stack);
  const first = cardCalls[0];
  const last = cardCalls[cardCalls.length - 1];
  return {
    batchSize,
    contracts,
    queuedMs,
    settledMs,
    cardSpanMs: t1 - t0,
    toFirstCallMs: first ? first.cardStartedAt - t0Epoch : NaN,
    gapsMs: cardCalls.slice(1).map((c, i) => c.cardStartedAt - (cardCalls[i] as CardCall).answeredAt),
    gapsAtKonnektorMs: cardCalls
      .slice(1)
      .map((c, i) => Math.max(0, c.cardStartedAt - Math.max(c.receivedAt, (cardCalls[i] as CardCall).answeredAt))),
    afterLastCallMs: last ? t1Epoch - last.answeredAt : NaN,
    cardBusyMs: cardCalls.reduce((sum, c) => sum + (c.answeredAt - c.cardStartedAt), 0),
    completedAfterMs: completedAt.map((t) => t - t0),
    signDocumentCalls: after.signDocumentCalls - before.signDocumentCalls,
    batchSizes: after.batchSizes.slice(before.batches),
    soapCalls,
    soapCallsTruncated: calls.length >= 500,
    signerSteps,
  };
}
