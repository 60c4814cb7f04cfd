/**
 * Issue 7 defect 2 through the workflows (time-skipping server, real activities, strict simulator, SQLite): a contract
 * document the Konnektor refuses fails only that contract's countersignature, with its code in the status query and
 * the current details (Temporal UI); the eHBA's signer does not park and the other contract is countersigned.
 */
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import type { Client } from '@temporalio/client';
import { createKonnektorActivities } from '../../activities/konnektor/konnektor.activities';
import type { KonnektorClient } from '../../activities/konnektor/konnektor-client';
import { contractHandle, startContractWorkflow } from '../../client/contract-client';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import { qesSignerStatusQuery, qesSignerWorkflowId, statusQuery } from '../../workflows/definitions';
import { clientFor } from './helpers';
import { addSendableContract, startContractStack, type ContractStack } from '../helpers/contract-stack';
import { eventually, settledResult } from '../helpers/waits';
import { recordHistory } from '../helpers/histories';
import { createTimeSkippingEnv } from '../../harness/temporal';

jest.setTimeout(300_000);

let env: TestWorkflowEnvironment;
let sim: RunningKonnektorSimulator;
let konnektor: KonnektorClient;
let stack: ContractStack;
let client: Client;

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  sim = await startKonnektorSimulator({ adminPort: false, maxSessionsPerCard: 10, comfort: { max: 250 } });
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
  const acts = createKonnektorActivities({ konnektor, db: stack.t.db, config: stack.config });
  await new MockActivityEnvironment().run(acts.activateComfortSignature, {
    staffContactId: stack.t.seed.staffContactId,
  });
});

afterAll(async () => {
  await stack?.stop();
  konnektor?.close();
  await sim?.close();
  await env?.teardown();
});

async function contractAwaitingSignature(): Promise<{ contractId: number; documentId: number }> {
  const contractId = await addSendableContract(stack.t);
  await startContractWorkflow(client, stack.config, contractId);
  const handle = contractHandle(client, contractId);
  let documentId = 0;
  await eventually(async () => {
    const s = await handle.query(statusQuery);
    expect(s.phase).toBe('awaiting-signature');
    documentId = s.documentId!;
  });
  return { contractId, documentId };
}

async function confirm(contractId: number): Promise<void> {
  await contractHandle(client, contractId).executeUpdate('confirmManually', {
    args: [{ staffContactId: stack.t.seed.staffContactId }],
  });
}

test('a document the Konnektor refuses fails only its own countersignature; the other contract is countersigned', async () => {
  const good = await contractAwaitingSignature();
  const bad = await contractAwaitingSignature();
  // The bad contract's document becomes a PDF the Konnektor cannot sign (4112), the way a damaged file would.
  const d = stack.config.crm.documents;
  await stack.t
    .db(d.table)
    .where(d.id, bad.documentId)
    .update({ [d.content]: Buffer.from('%PDF-1.7\nkaputt\n%%EOF\n') });
  await confirm(bad.contractId);
  await confirm(good.contractId);

  const badResult = await settledResult(client, bad.contractId);
  const goodResult = await settledResult(client, good.contractId);
  expect(goodResult.qesDocumentId).toBeGreaterThan(0);
  expect(badResult.outcome).toBe('confirmed');
  expect(badResult.qesDocumentId).toBeUndefined();
  const badState = await contractHandle(client, bad.contractId).query(statusQuery);
  expect(badState.phase).toBe('completed');
  expect(badState.countersignFailure).toMatch(/^DOCUMENT_REJECTED \(gematik 4112\): /);
  // The signer did not park and holds nothing back.
  const signerHandle = await client.workflow
    .getHandle(qesSignerWorkflowId(sim.hbaIccsn))
    .query(qesSignerStatusQuery)
    .then(
      () => client.workflow.getHandle(qesSignerWorkflowId(sim.hbaIccsn)),
      () => client.workflow.getHandle(qesSignerWorkflowId(undefined))
    );
  const signer = await signerHandle.query(qesSignerStatusQuery);
  expect(signer.parked).toBeUndefined();
  expect(signer.pending).toBe(0);
  expect(signer.rejected).toBe(1);
  await recordHistory(contractHandle(client, bad.contractId), 'countersign-document-rejected');
  await recordHistory(signerHandle, 'qes-signer.document-rejected');
});
