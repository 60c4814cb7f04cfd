/**
 * `signflow repair <contractId> [--restart]` as a subprocess (issue 11.1, the way back for a contract whose process
 * ended after writing its request): the probe's stuck contract (pending signature, status `versendet`, no process) is
 * made here by terminating the workflow, which no compensation can follow. Before the repair a new start is refused;
 * the repair voids the signature and gives the contract its status back; `--restart` prepares a fresh request. A
 * running process is refused and left alone, a valid signature is never touched, and a second repair changes nothing.
 *
 * Real parts: the Temporal dev server, a worker with the real activities, the CLI as a subprocess, SQLite, the SMTP inbox.
 */
import { contractHandle, contractStatus } from '../../client/contract-client';
import { signContract, startContract, type CommandDeps } from '../../commands/contract-commands';
import { startDevServer, type DevServerHandle } from '../../harness/temporal';
import { contractWorkflowId } from '../../workflows/definitions';
import { startApiStack, type ApiStack } from '../api/api-stack';
import { addSendableContract } from '../helpers/contract-stack';
import { eventually } from '../helpers/waits';
import { runCli } from './run-cli';

jest.setTimeout(180_000);

let server: DevServerHandle;
let api: ApiStack;
let deps: CommandDeps;
let cliEnv: Record<string, string>;

beforeAll(async () => {
  server = await startDevServer();
  api = await startApiStack(server);
  deps = { config: api.stack.config, db: api.stack.t.db, client: api.stack.client };
  cliEnv = {
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: server.namespace,
    SIGNFLOW_TASK_QUEUE: api.stack.config.temporal.taskQueue,
    SIGNFLOW_DATABASE_URL: api.stack.t.url,
  };
});

afterAll(async () => {
  await api?.stop();
  await server?.stop();
});

const cli = (...args: string[]) => runCli([args[0] as string, '--json', ...args.slice(1)], cliEnv);

async function awaitingSignature(): Promise<{ contractId: number; signatureId: number }> {
  const contractId = await addSendableContract(api.stack.t);
  await startContract(deps, contractId);
  const state = await eventually(async () => {
    const s = await contractStatus(deps.client, contractId);
    expect(s.phase).toBe('awaiting-signature');
    return s;
  }, 60_000);
  return { contractId, signatureId: state.signatureId as number };
}

async function rows(contractId: number, signatureId: number) {
  const { contracts: k, signatures: s } = api.stack.config.crm;
  const contract = (await api.stack.t.db(k.table).where(k.id, contractId).first()) as Record<string, unknown>;
  const signature = (await api.stack.t.db(s.table).where(s.id, signatureId).first()) as Record<string, unknown>;
  const requests = await api.stack.t.db('signflow_requests').where('contract_id', contractId).count({ n: '*' });
  return { contractStatus: contract[k.status], signatureStatus: signature[s.status], requests: Number(requests[0]?.n) };
}

test('a stuck contract: a new start is refused; repair gives it back; --restart prepares a fresh request', async () => {
  const sendable = api.stack.config.crm.values.contractSendableStatuses[0];
  const { contractId, signatureId } = await awaitingSignature();
  const whileRunning = await rows(contractId, signatureId);

  // A running process is not repaired (and nothing changes).
  const refused = await cli('repair', String(contractId));
  expect(refused.code).toBe(1);
  expect(refused.json<{ error: { code: string } }>().error.code).toBe('PROCESS_RUNNING');
  expect(await rows(contractId, signatureId)).toEqual(whileRunning);

  // Terminated: no compensation runs, the request is left half-done as the probe found it.
  await contractHandle(deps.client, contractId).terminate('test: a process that ended without undoing its request');
  const stuck = await rows(contractId, signatureId);
  expect(stuck).toEqual({
    contractStatus: api.stack.config.crm.values.contractSent,
    signatureStatus: api.stack.config.crm.values.signaturePending,
    requests: 1,
  });
  const blocked = await cli('start', String(contractId));
  expect(blocked.code).not.toBe(0);
  expect(await rows(contractId, signatureId)).toEqual(stuck);

  const repaired = await cli('repair', String(contractId), '--restart');
  expect(repaired.code).toBe(0);
  const report = repaired.json<{
    result: string;
    signatureId: number;
    contractStatus: string;
    restarted: { ok: boolean; workflowId: string };
  }>();
  expect(report).toMatchObject({
    result: 'reverted',
    signatureId,
    contractStatus: sendable,
    restarted: { ok: true, workflowId: contractWorkflowId(contractId) },
  });
  expect((await rows(contractId, signatureId)).signatureStatus).toBe(api.stack.config.crm.values.signatureWithdrawn);
  // The fresh request: a new signature, the contract sent again, the contact can sign it.
  const fresh = await eventually(async () => {
    const s = await contractStatus(deps.client, contractId);
    expect(s.phase).toBe('awaiting-signature');
    return s;
  }, 60_000);
  expect(fresh.signatureId).not.toBe(signatureId);
  await signContract(deps, contractId, { contactId: fresh.contactId as number, method: 'click' });
  await eventually(async () => expect((await contractStatus(deps.client, contractId)).phase).toBe('completed'), 60_000);
});

test('repair without --restart: the contract is sendable again; a second repair and a valid signature change nothing', async () => {
  const sendable = api.stack.config.crm.values.contractSendableStatuses[0];
  const { contractId, signatureId } = await awaitingSignature();
  await contractHandle(deps.client, contractId).terminate('test');
  const first = await cli('repair', String(contractId));
  expect(first.code).toBe(0);
  expect(first.json()).toMatchObject({ result: 'reverted', signatureId, contractStatus: sendable });
  const after = await rows(contractId, signatureId);
  expect(after).toEqual({
    contractStatus: sendable,
    signatureStatus: api.stack.config.crm.values.signatureWithdrawn,
    requests: 0,
  });
  const second = await cli('repair', String(contractId));
  expect(second.code).toBe(0);
  expect(second.json()).toMatchObject({ result: 'nothing-to-revert' });
  expect(await rows(contractId, signatureId)).toEqual(after);

  // A signed contract whose process has ended: the signature stands, the contract is not touched.
  const signed = await awaitingSignature();
  const state = await contractStatus(deps.client, signed.contractId);
  await signContract(deps, signed.contractId, { contactId: state.contactId as number, method: 'click' });
  await eventually(
    async () => expect((await contractStatus(deps.client, signed.contractId)).phase).toBe('completed'),
    60_000
  );
  await eventually(async () =>
    expect((await contractHandle(deps.client, signed.contractId).describe()).status.name).toBe('COMPLETED')
  );
  const done = await rows(signed.contractId, signed.signatureId);
  const valid = await cli('repair', String(signed.contractId), '--restart');
  expect(valid.code).toBe(0);
  expect(valid.json()).toMatchObject({ result: 'already-valid' });
  expect(valid.json()).not.toHaveProperty('restarted');
  expect(await rows(signed.contractId, signed.signatureId)).toEqual(done);
});
