/**
 * Scenario 3: the practice's QES countersignature through the eHBA's signing workflow (`qesCountersigner`) against the
 * Konnektor simulator with per-call and per-document latency. The same contracts' path is run twice, batched
 * (`konnektor.batchSize` = N) and one document per SignDocument call (batchSize 1); all contracts of a variant are
 * signed at once, so the signer finds a queue to batch.
 */
import { createKonnektorActivities } from '../activities/konnektor/konnektor.activities';
import type { KonnektorClient } from '../activities/konnektor/konnektor-client';
import { contractHandle, signContractUpdate, startContractWorkflow } from '../client/contract-client';
import type { RunningKonnektorSimulator } from '../konnektor-simulator';
import type { SignflowConfig } from '../temporal.config';
import { qesSignerWorkflowId, type ContractResult } from '../workflows/definitions';
import { stepTimings, type StepTiming } from './history';
import { addContracts, mapLimit, type BenchStack } from './stack';

export interface CountersignVariantResult {
  batchSize: number;
  contracts: number;
  /** All signs sent at once → last contract completed, ms. */
  totalMs: number;
  /** Per contract: sign call → completed (countersigned, stored, confirmation mail sent). */
  signToCompletedMs: number[];
  signDocumentCalls: number;
  batchSizes: number[];
  /** SOAP calls by operation while the variant ran (the simulator keeps the last 500). */
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

/** A fresh comfort signature session (the simulator allows 250 signatures per session). */
async function freshComfortSession({ stack, konnektor }: CountersignDeps): Promise<void> {
  const acts = createKonnektorActivities({ konnektor, db: stack.db, config: stack.config });
  await acts.deactivateComfortSignature({}).catch(() => undefined);
  await acts.activateComfortSignature({ staffContactId: stack.t.seed.staffContactId });
}

/** The signer keeps its batch size from its start: end it between variants (it is idle then). */
async function endSigner(stack: BenchStack): Promise<void> {
  await stack.client.workflow
    .getHandle(qesSignerWorkflowId(stack.config.konnektor.hbaIccsn))
    .terminate('benchmark: next variant')
    .catch(() => undefined);
}

export async function runCountersignVariant(
  deps: CountersignDeps,
  batchSize: number,
  contracts: number
): Promise<CountersignVariantResult> {
  const { stack, sim } = deps;
  const config: SignflowConfig = { ...stack.config, konnektor: { ...stack.config.konnektor, batchSize } };
  await endSigner(stack);
  await freshComfortSession(deps);
  const rows = await addContracts(stack, contracts);
  // Up to the invitation first (not measured): what is measured is what follows the signature.
  await mapLimit(rows, 10, async (c) => {
    await startContractWorkflow(stack.client, config, c.contractId);
    await stack.inbox.waitFor((m) => m.headers['x-signflow-mail-key'] === invitationKey(c.contractId), 60_000);
  });

  const before = sim.admin.stats();
  const callsBefore = before.signDocumentCalls;
  const batchesBefore = before.batchSizes.length;
  sim.admin.clearCalls();
  const t0 = performance.now();
  const signToCompletedMs = await Promise.all(
    rows.map(async (c) => {
      const t = performance.now();
      await signContractUpdate(stack.client, c.contractId, { contactId: c.contactId, method: 'click' });
      const result = (await contractHandle(stack.client, c.contractId).result()) as ContractResult;
      if (!result.qesDocumentId) throw new Error(`contract ${c.contractId} completed without a countersignature`);
      return performance.now() - t;
    })
  );
  const totalMs = performance.now() - t0;

  const after = sim.admin.stats();
  const calls = sim.admin.calls();
  const soapCalls: Record<string, number> = {};
  for (const call of calls) soapCalls[call.operation || call.path] = (soapCalls[call.operation || call.path] ?? 0) + 1;
  const signer = stack.client.workflow.getHandle(qesSignerWorkflowId(stack.config.konnektor.hbaIccsn));
  const signerSteps = stepTimings(await signer.fetchHistory()).filter((s) => s.step !== '(workflow task)');
  await endSigner(stack);
  return {
    batchSize,
    contracts,
    totalMs,
    signToCompletedMs,
    signDocumentCalls: after.signDocumentCalls - callsBefore,
    batchSizes: after.batchSizes.slice(batchesBefore),
    soapCalls,
    soapCallsTruncated: calls.length >= 500,
    signerSteps,
  };
}
