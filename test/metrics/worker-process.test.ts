/**
 * The worker as ops run it (`tsx worker/main.ts`, a child process) against the dev server: `/healthz` and `/readyz`
 * answer, and after one signed contract `/metrics` shows signflow's counters and the Temporal SDK's own worker metrics
 * (Runtime telemetry); its stdout is JSON lines with contract id, workflow id and run id, without names or addresses.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { contractHandle, startContractWorkflow } from '../../client/contract-client';
import { startDevInbox, type DevInbox } from '../../mail/dev-inbox';
import { loadConfig, type SignflowConfig } from '../../temporal.config';
import { statusQuery } from '../../workflows/definitions';
import { addSendableContract } from '../helpers/contract-stack';
import { createTestDb, type TestDb } from '../../harness/databases';
import { getFreePort, startDevServer, type DevServerHandle } from '../../harness/temporal';
import { eventually, settledResult } from '../helpers/waits';

jest.setTimeout(300_000);

const ROOT = path.resolve(__dirname, '../..');
let server: DevServerHandle;
let inbox: DevInbox;
let t: TestDb;
let child: ChildProcess;
let stdout = '';
let opsUrl: string;
let config: SignflowConfig;

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

/** The value of one sample line, e.g. `signflow_contracts_total{event="started"}`; 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

beforeAll(async () => {
  server = await startDevServer();
  inbox = await startDevInbox({ port: await getFreePort() });
  const taskQueue = `signflow-metrics-${process.pid}`;
  t = await createTestDb('sqlite', { config: { temporal: { taskQueue } } });
  const [metricsPort, sdkPort] = [await getFreePort(), await getFreePort()];
  config = loadConfig(
    {
      temporal: { address: server.address, namespace: server.namespace, taskQueue },
      database: { url: t.url },
      mail: { smtpUrl: `smtp://127.0.0.1:${inbox.port}` },
    },
    {}
  );
  child = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['worker/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
      SIGNFLOW_TASK_QUEUE: taskQueue,
      SIGNFLOW_DATABASE_URL: t.url,
      SIGNFLOW_SMTP_URL: `smtp://127.0.0.1:${inbox.port}`,
      SIGNFLOW_WORKER_METRICS_PORT: String(metricsPort),
      SIGNFLOW_WORKER_SDK_METRICS_PORT: String(sdkPort),
      SIGNFLOW_LOG_LEVEL: 'debug',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stdout += d.toString()));
  opsUrl = `http://127.0.0.1:${metricsPort}`;
  await eventually(async () => expect((await get(`${opsUrl}/readyz`)).status).toBe(200), 180_000, 500);
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  await t?.destroy();
  await inbox?.close();
  await server?.stop();
});

test('health, readiness, metrics after a signed contract, and JSON logs without personal data', async () => {
  const health = await get(`${opsUrl}/healthz`);
  expect(health).toEqual({ status: 200, text: '{"status":"ok"}\n' });
  const ready = JSON.parse((await get(`${opsUrl}/readyz`)).text) as { checks: Record<string, string> };
  expect(ready.checks).toEqual({ temporal: 'ok', database: 'ok', polling: 'ok' });

  const client = server.env.client;
  const contractId = await addSendableContract(t);
  const { runId } = await startContractWorkflow(client, config, contractId);
  const handle = contractHandle(client, contractId);
  await eventually(async () => expect((await handle.query(statusQuery)).phase).toBe('awaiting-signature'), 60_000);
  const { contactId } = await handle.query(statusQuery);
  await handle.executeUpdate('sign', { args: [{ contactId, method: 'click' }] });
  await settledResult(client, contractId, 120_000);

  const metrics = (await get(`${opsUrl}/metrics`)).text;
  expect(sample(metrics, 'signflow_contracts_total{event="started"}')).toBe(1);
  expect(sample(metrics, 'signflow_contracts_total{event="signed"}')).toBe(1);
  expect(sample(metrics, 'signflow_mails_total{kind="invitation",result="sent"}')).toBe(1);
  expect(sample(metrics, 'signflow_mails_total{kind="confirmation",result="sent"}')).toBe(1);
  expect(metrics).toMatch(/^signflow_contracts_waiting\{reason="signature"\} \d+$/m);
  // The SDK's own worker metrics, through the Runtime's Prometheus exporter.
  expect(metrics).toMatch(/^temporal_workflow_completed\{.*\} 1$/m);
  expect(metrics).toMatch(/^temporal_worker_task_slots_available\{/m);

  // JSON lines; those about the contract carry its ids; no name or address of the contact anywhere.
  const lines = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const aboutContract = lines.filter((l) => l.workflowId === `honorarvertrag-${contractId}`);
  expect(aboutContract.length).toBeGreaterThan(0);
  for (const l of aboutContract) expect(l).toMatchObject({ contractId, workflowId: `honorarvertrag-${contractId}` });
  expect(aboutContract.some((l) => l.runId === runId)).toBe(true);
  const contact = await t.db('kontakte').where('id', contactId).first();
  for (const personal of [contact.email, contact.nachname]) expect(stdout).not.toContain(String(personal));
});
