/**
 * The chaos count looks at a contract's workflow before it counts what the contract left in the real systems. A CI
 * chaos run counted contracts 17, 19 and 24 as lost with their workflows COMPLETED: the count had read the inbox and
 * the database first and the workflow states after, so contracts that sent their confirmation and completed between
 * the two reads were counted COMPLETED without it. Here a real contract completes exactly between the two reads: it
 * must be counted as still running (and the run counts again), never as completed with something missing.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { countOutcome } from '../../chaos/count';
import { contractHandle, startContractWorkflow } from '../../client/contract-client';
import { signContract } from '../../commands/contract-commands';
import { createTimeSkippingEnv } from '../../harness/temporal';
import { addSendableContract, startContractStack, type ContractStack } from '../helpers/contract-stack';

jest.setTimeout(180_000);

let env: TestWorkflowEnvironment;
let stack: ContractStack;

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  stack = await startContractStack(env, { config: { signature: { remindersEnabled: false } } });
});

afterAll(async () => {
  await stack?.stop();
  await env?.teardown();
});

test('a contract that completes while it is being counted is counted as running, then as complete', async () => {
  const contractId = await addSendableContract(stack.t);
  const contactId = stack.t.seed.contactIds[0];
  await startContractWorkflow(stack.client, stack.config, contractId);
  await stack.waitForMail((m) => m.headers['x-signflow-mail-key'] === `honorarvertrag-${contractId}:invitation`);
  const count = (betweenReads?: () => Promise<void>) =>
    countOutcome({
      db: stack.t.db,
      config: stack.config,
      client: stack.client,
      inbox: stack.inbox,
      contractIds: [contractId],
      betweenReads,
    });

  // The contract is signed, confirmed and completed between the count's two reads.
  const during = await count(async () => {
    await signContract({ config: stack.config, db: stack.t.db, client: stack.client }, contractId, {
      contactId,
      method: 'click',
    });
    await contractHandle(stack.client, contractId).result();
  });
  const [c] = during.contracts;
  // Either still running (stuck for now: the run counts again) or, if counted completed, with everything it did.
  if (c?.workflow === 'COMPLETED') {
    expect(c).toMatchObject({ invitation: 1, confirmation: 1, signatureRows: 1, validSignatures: 1, auditSigned: 1 });
  }
  expect(c?.workflow).toBe('RUNNING');
  expect(during.stuck).toEqual([contractId]);

  // Counted again, as the run does while anything is stuck: complete, with the confirmation and the signature.
  const after = await count();
  expect(after.stuck).toEqual([]);
  expect(after.contracts[0]).toMatchObject({
    workflow: 'COMPLETED',
    invitation: 1,
    confirmation: 1,
    otherMails: 0,
    signatureRows: 1,
    validSignatures: 1,
    auditPrepared: 1,
    auditSigned: 1,
    // This stack has no Konnektor: no countersignature, so no QES document (the chaos run has one per contract).
    qesDocuments: 0,
  });
});
