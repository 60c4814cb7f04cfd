/**
 * "Several workers may run side by side" (README, production notes): two signflow workers poll ONE task queue against
 * ONE database on the Temporal dev server: one in this process, the other the production worker process
 * (`worker/main.ts`, configured from the environment) with its own database pool, SMTP transport and Temporal client. Contracts are started twice (once through each worker's side), signed or confirmed, and
 * each is handled once: one document, one signature, one request row, one invitation and one confirmation mail, one
 * run of each step in its history. The test goes on adding contracts until both workers have done work, so it always
 * shows the two side by side, on a fast machine or a slow one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Knex } from 'knex';
import { LOCAL_ACTIVITY_MARKER } from '../../bench/actions';
import { contractHandle, contractStatus, startContractWorkflow } from '../../client/contract-client';
import { createDb } from '../../db/connection';
import { startDevInbox, type DevInbox } from '../../mail/dev-inbox';
import { deepMerge, loadConfig, type SignflowConfig } from '../../temporal.config';
import { createWorker, type RunningWorker } from '../../worker/run-worker';
import { contractWorkflowId, statusQuery, type ContractResult } from '../../workflows/definitions';
import { addSendableContract } from '../helpers/contract-stack';
import { createTestDb, testDatabases, type TestDb } from '../../harness/databases';
import { startDevServer, workflowBundle, type DevServerHandle } from '../../harness/temporal';
import { eventually } from '../helpers/waits';

jest.setTimeout(300_000);

/** The identity of the worker in this process; the other process has the SDK's default (`<pid>@<host>`). */
const IN_PROCESS = 'worker-in-process';
/** Contracts per round; rounds go on until both workers took part (bounded). */
const PER_ROUND = 6;
const MAX_ROUNDS = 20;

describe.each(testDatabases())('two workers on one task queue and one $name database', (database) => {
  let server: DevServerHandle;
  let inbox: DevInbox;
  let t: TestDb;
  let config: SignflowConfig;
  let pool: Knex;
  let worker: RunningWorker;
  let other: ChildProcess;
  let otherExit: Promise<number | null>;
  let otherLog = '';

  beforeAll(async () => {
    server = await startDevServer();
    inbox = await startDevInbox({ port: 0 });
    const overrides = {
      temporal: { address: server.address, namespace: server.namespace, taskQueue: `side-by-side-${process.pid}` },
      mail: { smtpUrl: `smtp://127.0.0.1:${inbox.port}` },
      signature: { remindersEnabled: false },
    };
    t = await createTestDb(database.name, { config: overrides });
    config = loadConfig(deepMerge(overrides, { database: { url: t.url } }), {});
    pool = createDb(t.url, { poolMax: 4 });
    worker = await createWorker(config, {
      connection: server.env.nativeConnection,
      workflowBundle: await workflowBundle(),
      db: pool,
      workerOptions: { identity: IN_PROCESS },
    });
    // The production worker process, from the same settings as environment variables.
    other = spawn(path.join(__dirname, '../../node_modules/.bin/tsx'), [path.join(__dirname, '../../worker/main.ts')], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TEMPORAL_ADDRESS: server.address,
        TEMPORAL_NAMESPACE: server.namespace,
        SIGNFLOW_TASK_QUEUE: config.temporal.taskQueue,
        SIGNFLOW_DATABASE_URL: t.url,
        SIGNFLOW_SMTP_URL: config.mail.smtpUrl,
        SIGNFLOW_REMINDERS_ENABLED: 'false',
        // Ports of its own (0: any free one, SDK exporter off): other suites run workers beside this one.
        SIGNFLOW_WORKER_METRICS_PORT: '0',
        SIGNFLOW_WORKER_SDK_METRICS_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (otherLog = (otherLog + chunk.toString()).slice(-4000));
    other.stdout?.on('data', keep);
    other.stderr?.on('data', keep);
    otherExit = new Promise((resolve) => other.on('exit', (code) => resolve(code)));
    // The other process bundles the workflows at start: wait until it polls for workflow and activity tasks.
    const pollers = async (taskQueueType: temporal.api.enums.v1.TaskQueueType) =>
      (
        await server.env.client.workflowService.describeTaskQueue({
          namespace: server.namespace,
          taskQueue: { name: config.temporal.taskQueue },
          taskQueueType,
        })
      ).pollers?.map((p) => p.identity ?? '') ?? [];
    await eventually(async () => {
      if (other.exitCode !== null) throw new Error(`the worker process exited (${other.exitCode}):\n${otherLog}`);
      for (const type of [
        temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      ]) {
        expect((await pollers(type)).filter((id) => id !== IN_PROCESS)).not.toEqual([]);
      }
    }, 180_000);
  });

  afterAll(async () => {
    if (other && other.exitCode === null) {
      other.kill('SIGTERM');
      await otherExit;
    }
    await worker?.shutdown();
    await pool?.destroy();
    await inbox?.close();
    await t?.destroy();
    await server?.stop();
  });

  /** One contract through the whole process: started from two clients, then signed (even) or confirmed (odd). */
  async function runContract(clients: Client[], n: number): Promise<number> {
    const contractId = await addSendableContract(t);
    const runs = await Promise.all(clients.map((c) => startContractWorkflow(c, config, contractId)));
    expect(runs[1]?.runId).toBe(runs[0]?.runId);
    const handle = contractHandle(clients[n % 2]!, contractId);
    await eventually(
      async () => expect((await contractStatus(clients[0]!, contractId)).phase).toBe('awaiting-signature'),
      60_000
    );
    if (n % 2 === 0) {
      const { contactId } = await handle.query(statusQuery);
      await handle.executeUpdate('sign', { args: [{ contactId, method: 'click' }] });
    } else {
      await handle.executeUpdate('confirmManually', { args: [{ staffContactId: t.seed.staffContactId }] });
    }
    const result = (await handle.result()) as ContractResult;
    expect(result).toMatchObject({ contractId, outcome: n % 2 === 0 ? 'signed' : 'confirmed' });
    return contractId;
  }

  /** Which worker identities took a workflow or activity task of the contract's run. */
  async function identitiesOf(client: Client, contractId: number): Promise<Set<string>> {
    const events = (await contractHandle(client, contractId).fetchHistory()).events ?? [];
    return new Set(
      events
        .map((e) => e.workflowTaskStartedEventAttributes?.identity ?? e.activityTaskStartedEventAttributes?.identity)
        .filter((id): id is string => !!id)
    );
  }

  test('each contract is handled once, and both workers took part', async () => {
    const clients = [server.env.client, new Client({ connection: server.env.connection, namespace: server.namespace })];
    const contracts: number[] = [];
    const seen = new Set<string>();
    for (let round = 0; round < MAX_ROUNDS && seen.size < 2; round++) {
      if (other.exitCode !== null) throw new Error(`the worker process exited (${other.exitCode}):\n${otherLog}`);
      const ids = await Promise.all(
        Array.from({ length: PER_ROUND }, (_, i) => runContract(clients, contracts.length + i))
      );
      contracts.push(...ids);
      for (const id of ids) for (const identity of await identitiesOf(clients[0]!, id)) seen.add(identity);
    }
    // This process's worker and the other process's worker (the SDK's default identity names its pid), no third.
    const others = [...seen].filter((id) => id !== IN_PROCESS);
    expect(seen.has(IN_PROCESS)).toBe(true);
    expect(others).toHaveLength(1);
    expect(others[0]).toMatch(new RegExp(`^\\d+@${os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    expect(others[0]).not.toBe(`${process.pid}@${os.hostname()}`);

    const c = config.crm.contracts;
    for (const contractId of contracts) {
      const workflowId = contractWorkflowId(contractId);
      // One invitation and one confirmation delivered.
      const delivered = inbox
        .messages()
        .map((m) => m.headers['x-signflow-mail-key'] ?? '')
        .filter((k) => k.startsWith(`${workflowId}:`))
        .sort();
      expect({ contractId, delivered }).toEqual({
        contractId,
        delivered: [`${workflowId}:confirmation`, `${workflowId}:invitation`],
      });
      // One row of each kind in the database.
      const count = async (q: Knex.QueryBuilder) => Number(((await q.count({ n: '*' })) as { n: unknown }[])[0]?.n);
      // The contract document and its completion certificate (Prüfprotokoll), one each.
      const docs = await t
        .db('dokumente')
        .where({ verknuepftes_objekt_typ: 'Honorarvertrag', verknuepftes_objekt_id: contractId })
        .select('vorlagenart');
      const kinds = docs.map((d: { vorlagenart: string }) => d.vorlagenart).sort();
      const signatures = await t.db('unterschriften').where({ verknuepftes_objekt_id: contractId });
      const requests = await count(t.db('signflow_requests').where('contract_id', contractId));
      const mails = await t.db('signflow_mails').where('contract_id', contractId);
      expect({ contractId, kinds, requests }).toEqual({
        contractId,
        kinds: [config.crm.values.certificateTemplateKind, config.crm.values.contractTemplateKind].sort(),
        requests: 1,
      });
      expect(signatures.map((s: { status: string }) => s.status)).toEqual(['gültig']);
      expect(mails.map((m: { status: string }) => m.status)).toEqual(['sent', 'sent']);
      expect((await t.db(c.table).where(c.id, contractId).first())[c.status]).toBe(
        config.crm.values.contractInProgress
      );
      // One run of each step.
      const events = (await contractHandle(clients[0]!, contractId).fetchHistory()).events ?? [];
      const steps = events
        .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
        .filter((name): name is string => !!name);
      // The document and the pending signature are written once (one step for load and prepare on the lean path: a
      // local activity from generation 5 on, its marker recorded once however many attempts a lost task cost).
      const localSteps = events.flatMap((e) => {
        const m = e.markerRecordedEventAttributes;
        if (m?.markerName !== LOCAL_ACTIVITY_MARKER) return [];
        const data = Buffer.from(m.details?.data?.payloads?.[0]?.data ?? []).toString('utf8');
        return [String((JSON.parse(data) as { activity_type?: string }).activity_type)];
      });
      expect(
        [...steps, ...localSteps].filter(
          (s) => s === 'prepareSignatureRequest' || s === 'loadAndPrepareSignatureRequest'
        )
      ).toHaveLength(1);
      // Mail attempts are the workflow's own (each one a new activity, so each checks that the request is still open):
      // one per mail, plus one more for each attempt that failed or whose worker was lost (a busy machine can starve a
      // worker past its timeout). The mails themselves went out once each (above). The confirmation (generation 4 on)
      // runs in a workflow task as a local activity and is not among them.
      const mailAttempts = new Set(
        events
          .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendContractMail')
          .map((e) => String(e.eventId))
      );
      const mailAttemptsLost = events.filter((e) => {
        const ended = e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
        return ended && mailAttempts.has(String(ended.scheduledEventId));
      }).length;
      // The confirmation is a local activity from generation 4 on: the invitation's attempts are activities.
      expect(mailAttempts.size).toBe(1 + mailAttemptsLost);
    }
    console.log(`two workers: ${contracts.length} contracts, both workers took part`);
    expect(other.exitCode).toBeNull();
  });
});
