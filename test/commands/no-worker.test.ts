/**
 * Calls that need a worker's answer are bounded (issue 13.6): with no worker running, the portal's signature and the
 * state route answer 503 NO_WORKER with `Retry-After` after `SIGNFLOW_WORKER_ANSWER_TIMEOUT` and record nothing; the
 * CLI answers the same code (exit 4). When the worker comes back, the Update Temporal admitted completes and records
 * the time the signer acted (taken at the door), not the worker's time. The outbox leaves its row for the next poll. The workflow bounds that time: never after
 * its own now, never before the request was prepared, and an unreadable time is refused.
 *
 * Real parts: the Temporal dev server, the API over HTTP, a worker with the real activities, a SQLite CRM.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { contractHandle, signContractUpdate } from '../../client/contract-client';
import type { CommandError } from '../../commands/errors';
import { toDate } from '../../db/crm-repository';
import { enqueueOutboxCommand, readOutboxRows } from '../../outbox/outbox-repository';
import { pollOutboxOnce } from '../../outbox/outbox.activities';
import { createWorker, type RunningWorker } from '../../worker/run-worker';
import { startDevServer, workflowBundle, type DevServerHandle } from '../../harness/temporal';
import type { SignatureOutcome } from '../../workflows/definitions';
import { startApiStack, type ApiStack, type HttpAnswer } from '../api/api-stack';
import { runCli } from '../cli/run-cli';
import { addSendableContract } from '../helpers/contract-stack';
import { recordHistory } from '../helpers/histories';
import { eventually } from '../helpers/waits';

jest.setTimeout(120_000);

let server: DevServerHandle;
let api: ApiStack;
/** The worker started again after the test stopped the stack's own. */
let second: RunningWorker | undefined;

beforeAll(async () => {
  server = await startDevServer();
  api = await startApiStack(server, { config: { temporal: { workerAnswerTimeout: '2s' } } });
});

afterAll(async () => {
  await second?.shutdown();
  await api?.stop();
  await server?.stop();
});

const v1 = (method: string, path: string, opts: Parameters<ApiStack['call']>[2] = {}) =>
  api.call(method, `/api/v1${path}`, opts);

async function waitForPhase(contractId: number, phase: string): Promise<HttpAnswer> {
  return eventually(async () => {
    const answer = await v1('GET', `/contracts/${contractId}`, { as: 'ops' });
    if (answer.json?.state?.phase !== phase) throw new Error(`phase ${answer.text}`);
    return answer;
  }, 60_000);
}

/** A contract whose request waits for the signature of its freelancer. */
async function awaitingContract(): Promise<number> {
  const contractId = await addSendableContract(api.stack.t);
  const started = await v1('POST', `/contracts/${contractId}/signature-request`, { as: 'crm' });
  expect(started.status).toBe(202);
  await waitForPhase(contractId, 'awaiting-signature');
  return contractId;
}

async function signatureRow(contractId: number): Promise<Record<string, unknown>> {
  const s = api.config.crm.signatures;
  return api.stack.t.db(s.table).where(s.linkedObjectId, contractId).orderBy(s.id, 'desc').first() as Promise<
    Record<string, unknown>
  >;
}

const contactId = () => api.stack.t.seed.contactIds[0] as number;

/** Signing times are written at whole seconds (domain/signature-hash.ts: every DATETIME column keeps them exactly). */
const wholeSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

const OUTBOX_CLAIMER = `no-worker-${process.pid}`;
const outboxDeps = () => ({ config: api.config, db: api.stack.t.db, client: api.stack.client });

describe('no worker running', () => {
  let contractId: number;
  let outboxRowId: number;
  let doorBefore: number;
  let doorAfter: number;
  let workerBack: number;

  beforeAll(async () => {
    contractId = await awaitingContract();
    await api.stack.worker.shutdown();
  });

  test('the portal signature answers 503 NO_WORKER with Retry-After and records nothing', async () => {
    doorBefore = Date.now();
    const answer = await v1('POST', `/contracts/${contractId}/signature`, {
      as: 'portal',
      body: { contactId: contactId(), method: 'click' },
    });
    doorAfter = Date.now();
    expect([answer.status, answer.json?.code]).toEqual([503, 'NO_WORKER']);
    expect(answer.headers.get('retry-after')).toBe('2');
    expect(answer.json.details).toEqual({ contractId, retryAfterSeconds: 2 });
    expect(answer.json.message).toContain('SIGNFLOW_WORKER_ANSWER_TIMEOUT');

    const s = api.config.crm.signatures;
    const row = await signatureRow(contractId);
    expect(row[s.status]).toBe(api.config.crm.values.signaturePending);
    expect(row[s.signedAt]).toBeNull();
    expect(row[s.md5Hash]).toBeNull();
  });

  test('the state route, the CLI and the outbox answer NO_WORKER too, and record nothing', async () => {
    const state = await v1('GET', `/contracts/${contractId}`, { as: 'ops' });
    expect([state.status, state.json?.code, state.headers.get('retry-after')]).toEqual([503, 'NO_WORKER', '2']);

    const cli = await runCli(
      ['confirm', String(contractId), '--staff', String(api.stack.t.seed.staffContactId), '--json'],
      {
        SIGNFLOW_DATABASE_URL: api.stack.t.url,
        TEMPORAL_ADDRESS: server.address,
        TEMPORAL_NAMESPACE: server.namespace,
        SIGNFLOW_TASK_QUEUE: api.config.temporal.taskQueue,
        SIGNFLOW_WORKER_ANSWER_TIMEOUT: '2s',
      }
    );
    expect(cli.code).toBe(4);
    expect(cli.json().error.code).toBe('NO_WORKER');

    // The outbox: the row is left for the next poll (not written as failed).
    outboxRowId = await enqueueOutboxCommand(api.stack.t.db, { command: 'withdraw', contractId });
    const polled = await pollOutboxOnce(outboxDeps(), OUTBOX_CLAIMER, { batchSize: 10 });
    expect(polled.unexpected.map((u) => [u.id, (u.error as CommandError).code])).toEqual([[outboxRowId, 'NO_WORKER']]);
    expect(polled.processed).toEqual([]);
    const [waiting] = await readOutboxRows(api.stack.t.db, [outboxRowId]);
    expect(waiting?.outcome).toBeNull();
    const row = await signatureRow(contractId);
    expect(row[api.config.crm.signatures.signedAt]).toBeNull();
  });

  test('the worker back: the admitted signature is recorded with the time of the portal call', async () => {
    // The worker comes back in a later second than the portal call, so its own time could not pass for the door's.
    await eventually(async () => {
      if (wholeSecond(Date.now()) <= wholeSecond(doorAfter)) throw new Error('same second');
    });
    workerBack = Date.now();
    second = await createWorker(api.stack.config, {
      connection: server.env.nativeConnection,
      workflowBundle: await workflowBundle(),
      db: api.stack.t.db,
      temporalClient: server.env.client,
    });
    const s = api.config.crm.signatures;
    const row = await eventually(async () => {
      const r = await signatureRow(contractId);
      if (r[s.status] !== api.config.crm.values.signatureValid) throw new Error(`signature ${String(r[s.status])}`);
      return r;
    }, 60_000);
    // The confirm refused above (NO_WORKER) did not take effect: the contact's click is what was recorded.
    expect(Number(row[s.userId])).toBe(contactId());
    const signedAt = toDate(row[s.signedAt]);
    expect(signedAt).toBeDefined();
    const at = (signedAt as Date).getTime();
    // The door's time: within the portal call, before the worker was even started again.
    expect(at).toBeGreaterThanOrEqual(wholeSecond(doorBefore));
    expect(at).toBeLessThanOrEqual(doorAfter);
    expect(at).toBeLessThan(wholeSecond(workerBack));

    const done = await waitForPhase(contractId, 'completed');
    expect(done.json.state.outcome.confirmedAt).toBe((signedAt as Date).toISOString());
    await eventually(async () => {
      const d = await contractHandle(api.stack.client, contractId).describe();
      if (d.status.name !== 'COMPLETED') throw new Error(d.status.name);
    });
    await recordHistory(contractHandle(api.stack.client, contractId), 'signed-after-worker-outage');

    // The portal retries: a signature stands, the retry is told so and changes nothing.
    const retry = await v1('POST', `/contracts/${contractId}/signature`, {
      as: 'portal',
      body: { contactId: contactId(), method: 'click' },
    });
    expect([retry.status, retry.json?.code]).toEqual([409, 'SIGNATURE_ALREADY_CONFIRMED']);
    // The outbox's next poll gets the same answer for its withdrawal: the signature stands.
    await pollOutboxOnce(outboxDeps(), OUTBOX_CLAIMER, { batchSize: 10 });
    const [outboxRow] = await readOutboxRows(api.stack.t.db, [outboxRowId]);
    expect(outboxRow?.outcome).toBe('failed');
    expect(outboxRow?.error).toMatch(/^SIGNATURE_ALREADY_CONFIRMED: /);
    expect(toDate((await signatureRow(contractId))[s.signedAt])?.toISOString()).toBe((signedAt as Date).toISOString());
  });
});

describe('the signing time from the door, bounded by the workflow', () => {
  /** Signs through the Update itself (as any Temporal client may), with the given door time. */
  async function signWith(actedAt: string): Promise<{ contractId: number; outcome: SignatureOutcome }> {
    const contractId = await awaitingContract();
    const outcome = await signContractUpdate(api.stack.client, contractId, {
      contactId: contactId(),
      method: 'click',
      actedAt,
    });
    return { contractId, outcome };
  }

  beforeAll(async () => {
    // The describe above stopped the stack's worker; the second one may not have started if it failed.
    if (!second) {
      second = await createWorker(api.stack.config, {
        connection: server.env.nativeConnection,
        workflowBundle: await workflowBundle(),
        db: api.stack.t.db,
        temporalClient: server.env.client,
      });
    }
  });

  test('a door time in the past within the request is recorded as it is', async () => {
    const contractId = await awaitingContract();
    const actedAt = new Date().toISOString();
    // The Update arrives a second later than the signer acted: the workflow's own time would be another second.
    await eventually(async () => {
      if (wholeSecond(Date.now()) <= wholeSecond(Date.parse(actedAt))) throw new Error('same second');
    });
    const outcome = await signContractUpdate(api.stack.client, contractId, {
      contactId: contactId(),
      method: 'click',
      actedAt,
    });
    const recorded = new Date(wholeSecond(Date.parse(actedAt))).toISOString();
    expect(outcome.confirmedAt).toBe(recorded);
    const row = await signatureRow(contractId);
    expect(toDate(row[api.config.crm.signatures.signedAt])?.toISOString()).toBe(recorded);
  });

  test('a door time in the future is recorded as the workflow time (never later)', async () => {
    const future = Date.now() + 3_600_000;
    const { outcome } = await signWith(new Date(future).toISOString());
    const at = Date.parse(outcome.confirmedAt);
    expect(at).toBeLessThan(future);
    expect(at).toBeLessThanOrEqual(Date.now());
  });

  test('a door time before the request was prepared is recorded as the preparation time', async () => {
    const startedAt = Date.now();
    const { outcome } = await signWith('2001-01-01T00:00:00.000Z');
    const at = Date.parse(outcome.confirmedAt);
    expect(at).toBeGreaterThanOrEqual(wholeSecond(startedAt));
    expect(at).toBeLessThanOrEqual(Date.now());
  });

  test('an unreadable door time is refused (INVALID_SIGNATURE_INPUT) and records nothing', async () => {
    const contractId = await awaitingContract();
    const refused = await signContractUpdate(api.stack.client, contractId, {
      contactId: contactId(),
      method: 'click',
      actedAt: 'yesterday',
    }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (refused as WorkflowUpdateFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('INVALID_SIGNATURE_INPUT');
    const row = await signatureRow(contractId);
    expect(row[api.config.crm.signatures.status]).toBe(api.config.crm.values.signaturePending);
  });
});
