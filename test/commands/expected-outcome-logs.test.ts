/**
 * Expected outcomes (a wrong signer, a contract that is not sendable) are answers, not faults: the worker and the API
 * log each as one line with its domain code at info or warn, without a stack trace. Read from the processes' real log
 * output: `signflow worker` as a subprocess (its JSON lines), and the API's request log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Client } from '@temporalio/client';
import { startContractWorkflow } from '../../client/contract-client';
import { startDevInbox, type DevInbox } from '../../mail/dev-inbox';
import { temporalLoggerFor, createLogger } from '../../logging/logger';
import { createTestDb, type TestDb } from '../../harness/databases';
import { startDevServer, workflowBundle, type DevServerHandle } from '../../harness/temporal';
import { deepMerge, loadConfig } from '../../temporal.config';
import { startApiStack, type ApiStack } from '../api/api-stack';
import { eventually } from '../helpers/waits';
import { BIN } from '../cli/run-cli';

type LogLine = Record<string, unknown> & { level?: string; msg?: string };

function parseLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return {};
      }
    });
}

/** No stack trace anywhere in a line: neither a `stack` field nor stack frames in any text. */
function hasStack(line: LogLine): boolean {
  const text = JSON.stringify(line);
  return text.includes('"stack"') || /\\n\s+at /.test(text);
}

describe('the worker log (signflow worker as a subprocess)', () => {
  let t: TestDb;
  let temporal: DevServerHandle;
  let inbox: DevInbox;
  let worker: ChildProcess;
  let output = '';

  beforeAll(async () => {
    t = await createTestDb('sqlite');
    temporal = await startDevServer();
    inbox = await startDevInbox({ port: 0 });
    const bundle = (await workflowBundle()).codePath;
    worker = spawn(process.execPath, [BIN, 'worker', '--workflow-bundle', bundle], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        SIGNFLOW_DATABASE_URL: t.url,
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_NAMESPACE: temporal.namespace,
        SIGNFLOW_TASK_QUEUE: `expected-logs-${process.pid}`,
        SIGNFLOW_SMTP_URL: `smtp://127.0.0.1:${inbox.port}`,
        SIGNFLOW_WORKER_METRICS_PORT: '0',
        SIGNFLOW_WORKER_SDK_METRICS_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout?.setEncoding('utf8').on('data', (s: string) => (output += s));
    worker.stderr?.setEncoding('utf8').on('data', (s: string) => (output += s));
    await eventually(async () => expect(output).toMatch(/polling task queue/), 90_000);
  }, 180_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker.on('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
    await inbox?.close();
    await temporal?.stop();
    await t?.destroy();
  });

  test('a contract that is not sendable: one warn line with its code, the refused step one info line, no stack', async () => {
    const config = loadConfig(
      deepMerge(t.config, {
        temporal: {
          address: temporal.address,
          namespace: temporal.namespace,
          taskQueue: `expected-logs-${process.pid}`,
        },
      }),
      {}
    );
    const client = new Client({ connection: temporal.env.connection, namespace: temporal.namespace });
    const contractId = t.seed.inProgressContractId;
    const { workflowId } = await startContractWorkflow(client, config, contractId);
    await eventually(async () =>
      expect((await client.workflow.getHandle(workflowId).describe()).status.name).toBe('FAILED')
    );
    const lines = await eventually(async () => {
      const mine = parseLines(output).filter((l) => l.workflowId === workflowId);
      if (!mine.some((l) => l.msg === 'contract failed')) throw new Error(`no line yet:\n${output.slice(-3000)}`);
      return mine;
    });
    const failed = lines.filter((l) => l.msg === 'contract failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 'warn', code: 'CONTRACT_NOT_SENDABLE', contractId });
    const activity = lines.filter((l) => l.msg === 'Activity failed');
    expect(activity.length).toBeGreaterThanOrEqual(1);
    for (const l of activity) expect(l).toMatchObject({ level: 'info', code: 'CONTRACT_NOT_SENDABLE' });
    // Nothing about this contract at warn or above but the one line, and no line with a stack.
    expect(lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual(failed);
    for (const l of lines) expect(hasStack(l)).toBe(false);
  });
});

describe('the logger keeps stacks for real failures', () => {
  test('an unexpected error stays at warn with its stack; an expected code becomes one info line', () => {
    let out = '';
    const logger = createLogger({ service: 'worker', destination: { write: (s: string) => (out += s) } });
    const temporalLogger = temporalLoggerFor(logger);
    temporalLogger.warn('Activity failed', { error: new TypeError('cannot read properties of undefined') });
    temporalLogger.warn('Activity failed', {
      error: Object.assign(new Error('contact 9 may not sign contract 3'), { type: 'WRONG_SIGNER' }),
    });
    const [real, expected] = parseLines(out);
    expect(real).toMatchObject({ level: 'warn' });
    expect(hasStack(real as LogLine)).toBe(true);
    expect(expected).toMatchObject({
      level: 'info',
      code: 'WRONG_SIGNER',
      errorMessage: 'contact 9 may not sign contract 3',
    });
    expect(hasStack(expected as LogLine)).toBe(false);
  });
});

describe('the API log', () => {
  let server: DevServerHandle;
  let api: ApiStack;
  let log = '';

  beforeAll(async () => {
    server = await startDevServer();
    api = await startApiStack(server, { logger: { level: 'info', stream: { write: (s: string) => (log += s) } } });
  }, 180_000);
  afterAll(async () => {
    await api?.stop();
    await server?.stop();
  });

  test('a wrong signer and a contract not sendable: one info line each with the code, no stack', async () => {
    const seed = api.stack.t.seed;
    const notSendable = await api.call('POST', `/api/v1/contracts/${seed.inProgressContractId}/signature-request`, {
      as: 'crm',
    });
    expect(notSendable.status).toBe(409);

    const contractId = seed.contractIds[0] as number;
    expect((await api.call('POST', `/api/v1/contracts/${contractId}/signature-request`, { as: 'crm' })).status).toBe(
      202
    );
    const wrong = await eventually(async () => {
      const answer = await api.call('POST', `/api/v1/contracts/${contractId}/signature`, {
        as: 'portal',
        body: { contactId: seed.staffContactId, method: 'click' },
      });
      expect(answer.json?.code).toBe('WRONG_SIGNER');
      return answer;
    });
    expect(wrong.status).toBe(422);

    const lines = parseLines(log);
    const refusals = lines.filter((l) => typeof l.code === 'string');
    const notSendableLine = refusals.find((l) => l.code === 'CONTRACT_NOT_SENDABLE');
    expect(notSendableLine).toMatchObject({ level: 'info', statusCode: 409 });
    expect(refusals.find((l) => l.code === 'WRONG_SIGNER')).toMatchObject({ level: 'info', statusCode: 422 });
    for (const l of refusals) expect(hasStack(l)).toBe(false);
    expect(lines.filter((l) => l.level === 'error' || l.level === 'warn')).toEqual([]);
  });
});
