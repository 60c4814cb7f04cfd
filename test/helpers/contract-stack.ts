/**
 * The real parts behind a contract workflow, for workflow and end-to-end tests: a fresh test database (migrated and
 * seeded), an SMTP inbox on loopback, and a signflow worker with the real activities connected to a Temporal
 * environment (time-skipping or dev server). Nothing is mocked.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { contractHandle, contractStatus, startContractWorkflow } from '../../client/contract-client';
import { startDevInbox, type CapturedMail, type DevInbox } from '../../mail/dev-inbox';
import type { KonnektorClient } from '../../activities/konnektor/konnektor-client';
import { createMailer, type Mailer } from '../../mail/mailer';
import { loadConfig, deepMerge, type SignflowConfig } from '../../temporal.config';
import { createWorker, type RunningWorker } from '../../worker/run-worker';
import { createTestDb, type TestDb, type TestDbKind } from '../../harness/databases';
import { getFreePort, startDevServer, workflowBundle, type DevServerHandle } from '../../harness/temporal';
import type { ContractState } from '../../workflows/definitions';
import { eventually } from './waits';

export interface ContractStack {
  t: TestDb;
  config: SignflowConfig;
  inbox: DevInbox;
  client: Client;
  worker: RunningWorker;
  /** Waits for the next mail of `kind` (by the `X-Signflow-Mail-Kind` header or subject) to `to`. */
  waitForMail(pred: (m: CapturedMail) => boolean, timeoutMs?: number): Promise<CapturedMail>;
  stop(): Promise<void>;
}

let queueCounter = 0;
let contractCounter = 0;

/**
 * Inserts one more sendable contract (status = the first sendable label) for a seeded freelancer, through the mapping,
 * so every test owns a fresh contract.
 */
export async function addSendableContract(t: TestDb, contactId = t.seed.contactIds[0]): Promise<number> {
  const c = t.config.crm.contracts;
  const inserted: unknown[] = await t.db(c.table).insert(
    {
      [c.contactId]: contactId,
      [c.title]: `Honorarvertrag Test ${++contractCounter}`,
      [c.status]: t.config.crm.values.contractSendableStatuses[0],
      [c.start]: '2027-01-01',
      [c.end]: '2027-06-30',
      [c.feeCents]: 123456,
      [c.description]: 'Testvertrag <mit> Sonderzeichen & Umlauten: äöü',
    },
    [c.id]
  );
  const first = inserted[0] as number | Record<string, number>;
  return typeof first === 'number' ? first : Number(first[c.id]);
}

/** Polls the `status` query until the contract waits for its signature (phase `awaiting-signature`); returns that status. */
export async function untilAwaitingSignature(
  client: Client,
  contractId: number,
  timeoutMs = 60_000
): Promise<ContractState> {
  return eventually(async () => {
    const state = await contractStatus(client, contractId);
    expect(state.phase).toBe('awaiting-signature');
    return state;
  }, timeoutMs);
}

export interface AwaitingContract {
  contractId: number;
  /** The freelancer who may sign (from the status). */
  contactId: number;
  state: ContractState;
  handle: WorkflowHandle;
}

/**
 * One more sendable contract (`addSendableContract`, for `contactId` or the first seeded freelancer), its workflow
 * started, once it waits for the signature.
 */
export async function startAwaitingSignature(
  stack: Pick<ContractStack, 't' | 'client' | 'config'>,
  { contactId, timeoutMs }: { contactId?: number; timeoutMs?: number } = {}
): Promise<AwaitingContract> {
  const contractId = await addSendableContract(stack.t, contactId);
  await startContractWorkflow(stack.client, stack.config, contractId);
  const state = await untilAwaitingSignature(stack.client, contractId, timeoutMs);
  return { contractId, contactId: state.contactId as number, state, handle: contractHandle(stack.client, contractId) };
}

export interface ContractStackOptions {
  db?: TestDbKind;
  /** Config overrides (partial, same shape as the config). */
  config?: unknown;
  /** A Konnektor client (e.g. against the simulator) for the countersign activities. */
  konnektor?: KonnektorClient;
  /** Recipients the SMTP inbox refuses with 550 (the MAIL_REJECTED path). */
  rejectRecipient?: (address: string) => boolean;
  /** Recipients the SMTP inbox defers with 451 for now (an SMTP outage for them); asked on every attempt. */
  deferRecipient?: (address: string) => boolean;
  /** Recipients whose RCPT TO the SMTP inbox answers only when the promise settles (a mail in flight). */
  holdRecipient?: (address: string) => Promise<void> | undefined;
}

export async function startContractStack(
  env: TestWorkflowEnvironment,
  opts: ContractStackOptions = {}
): Promise<ContractStack> {
  const inbox = await startDevInbox({
    port: await getFreePort(),
    rejectRecipient: opts.rejectRecipient,
    deferRecipient: opts.deferRecipient,
    holdRecipient: opts.holdRecipient,
  });
  // A task queue per stack: several test files may share a server without stealing each other's tasks.
  const taskQueue = `signflow-test-${process.pid}-${++queueCounter}`;
  const overrides = deepMerge(
    {
      // A loaded test machine may take longer than the production bound (10 s) to answer an Update; tests of NO_WORKER
      // set their own short one.
      temporal: { taskQueue, namespace: env.namespace ?? 'default', workerAnswerTimeout: '60s' },
      mail: { smtpUrl: `smtp://127.0.0.1:${inbox.port}` },
    },
    opts.config ?? {}
  );
  const t = await createTestDb(opts.db ?? 'sqlite', { config: overrides });
  const config: SignflowConfig = loadConfig(deepMerge(overrides, { database: { url: t.url } }), {});
  const mailer: Mailer = createMailer(config.mail.smtpUrl, config.mail.from);
  const worker = await createWorker(config, {
    connection: env.nativeConnection,
    workflowBundle: await workflowBundle(),
    db: t.db,
    mailer,
    konnektor: opts.konnektor,
    temporalClient: env.client,
  });
  return {
    t,
    config,
    inbox,
    client: env.client,
    worker,
    waitForMail: (pred, timeoutMs = 20_000) => inbox.waitFor(pred, timeoutMs),
    async stop() {
      await worker.shutdown();
      mailer.close();
      await inbox.close();
      await t.destroy();
    },
  };
}

/** Reminders off and a month to expiry: a contract waits for its signature as long as a test needs, no timer fires. */
export const QUIET_SIGNATURE_CONFIG = { signature: { remindersEnabled: false, expiry: '30d' } };

/**
 * A Temporal dev server of its own and a contract stack on `db` beside it, with `QUIET_SIGNATURE_CONFIG` unless
 * `opts.config` says otherwise. One dev server per database: contract ids (and so workflow ids) repeat across the two
 * databases.
 */
export async function startDevContractStack(
  db: TestDbKind,
  opts: Omit<ContractStackOptions, 'db'> = {}
): Promise<{ server: DevServerHandle; stack: ContractStack }> {
  const server = await startDevServer();
  try {
    const stack = await startContractStack(server.env, { config: QUIET_SIGNATURE_CONFIG, ...opts, db });
    return { server, stack };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
