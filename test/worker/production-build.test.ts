/**
 * The production build (`npm run build`, scripts/build.ts) as production runs it: `node dist/cli/main.js worker`, plain
 * node without tsx, configured through the environment only (as the systemd unit of docs/ops.md), takes the build's
 * prebuilt workflow bundle and runs a contract end to end: its document rendered on the compiled PDF thread, the
 * invitation mail, the `sign` Update, the confirmation, the workflow completed. One build and one contract: the build
 * is the cost (a type check and an emit of the product code, about half a minute on 2 cores).
 *
 * Real parts only: the Temporal dev server, a SQLite CRM, the dev SMTP inbox.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { signContractUpdate, contractHandle } from '../../client/contract-client';
import { startContracts } from '../../commands/contract-commands';
import { createTestDb, type TestDb } from '../../harness/databases';
import { startDevServer, type DevServerHandle } from '../../harness/temporal';
import { startDevInbox, type DevInbox } from '../../mail/dev-inbox';
import { buildProduction, type BuildResult } from '../../scripts/build';
import { loadConfig } from '../../temporal.config';
import { WORKFLOW_STACK_TRACE_LIMIT } from '../../worker/workflow-stack-traces';
import { statusQuery } from '../../workflows/definitions';
import { eventually, settledResult } from '../helpers/waits';

jest.setTimeout(240_000);

describe('the production build: node dist/cli/main.js worker', () => {
  let build: BuildResult;
  let temporal: DevServerHandle;
  let inbox: DevInbox;
  let t: TestDb;
  let env: Record<string, string>;
  let worker: ChildProcess | undefined;
  let workerLog = '';

  beforeAll(async () => {
    [build, temporal, inbox, t] = await Promise.all([
      buildProduction(),
      startDevServer(),
      startDevInbox({ port: 0 }),
      createTestDb('sqlite'),
    ]);
    env = {
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: temporal.namespace,
      SIGNFLOW_TASK_QUEUE: `signflow-production-build-${process.pid}`,
      SIGNFLOW_DATABASE_URL: t.url,
      SIGNFLOW_SMTP_URL: `smtp://127.0.0.1:${inbox.port}`,
      SIGNFLOW_REMINDERS_ENABLED: 'false',
      SIGNFLOW_WORKER_METRICS_PORT: '0',
      SIGNFLOW_WORKER_SDK_METRICS_PORT: '0',
    };
  }, 300_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker?.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
    await Promise.allSettled([temporal?.stop(), inbox?.close(), t?.destroy()]);
  });

  test('the build holds the compiled CLI, the files it reads beside itself and the workflow bundle', () => {
    for (const file of [
      'cli/main.js',
      'worker/run-worker.js',
      'workflow-bundle.js',
      'documents/pdf-thread.js',
      'templates/mail',
      'package.json',
      'build-info.json',
    ]) {
      expect({ file, exists: fs.existsSync(path.join(build.outDir, file)) }).toEqual({ file, exists: true });
    }
    // Nothing of the tests or the bench is compiled into what production runs.
    expect(fs.existsSync(path.join(build.outDir, 'test'))).toBe(false);
    expect(fs.existsSync(path.join(build.outDir, 'bench'))).toBe(false);
    // The sandbox's stack-trace depth is the bundle's first line (worker/workflow-stack-traces.ts).
    expect(fs.readFileSync(build.bundlePath, 'utf8').split('\n')[0]).toBe(
      `Error.stackTraceLimit = ${WORKFLOW_STACK_TRACE_LIMIT};`
    );
  });

  test("the worker's modules load no PDF library and no node-forge in the main thread (only the PDF threads need them)", () => {
    // What a worker holds while thousands of contracts wait: pdfkit, fontkit and node-forge only where they are used.
    const probe = spawnSync(
      process.execPath,
      [
        '-e',
        // The production entry (the CLI, every verb's module, without running it) and the worker it starts.
        `require(${JSON.stringify(path.join(build.outDir, 'cli', 'main.js'))});` +
          `require(${JSON.stringify(path.join(build.outDir, 'worker', 'run-worker.js'))});` +
          `console.log(JSON.stringify(Object.keys(require.cache)` +
          `.map((f) => (/node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(f) || [])[1]).filter(Boolean)))`,
      ],
      { encoding: 'utf8' }
    );
    expect(probe.stderr).toBe('');
    const packages = new Set(JSON.parse(probe.stdout) as string[]);
    // The probe sees the worker's other packages (it is not an empty list by accident).
    expect(['@temporalio/worker', 'commander'].filter((p) => packages.has(p))).toEqual([
      '@temporalio/worker',
      'commander',
    ]);
    expect(['pdfkit', 'fontkit', 'node-forge'].filter((p) => packages.has(p))).toEqual([]);
  });

  test('starts with plain node on the prebuilt bundle and runs a contract to completion', async () => {
    worker = spawn(process.execPath, [path.join(build.outDir, 'cli', 'main.js'), 'worker'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout?.setEncoding('utf8').on('data', (s: string) => (workerLog += s));
    worker.stderr?.setEncoding('utf8').on('data', (s: string) => (workerLog += s));
    // Polling (the line comes after the connection and the worker's creation), or an early exit, whichever first.
    const until = Date.now() + 120_000;
    while (!/polling task queue/.test(workerLog)) {
      if (worker.exitCode !== null) throw new Error(`worker exited (${worker.exitCode}):\n${workerLog}`);
      if (Date.now() > until) throw new Error(`worker not polling within 120 s:\n${workerLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // The build's own bundle, not webpack at start.
    expect(workerLog).toContain(`workflow code: bundle ${build.bundlePath}`);
    // Built from these very sources: no stale-build warning (worker/build-freshness.ts).
    expect(workerLog).not.toContain('older than the sources');

    const config = loadConfig({}, env);
    const contractId = t.seed.contractIds[0]!;
    const c = config.crm.contracts;
    const row = (await t.db(c.table).where(c.id, contractId).first()) as Record<string, unknown>;
    const contactId = Number(row[c.contactId]);
    const client = temporal.env.client;
    const [started] = await startContracts({ config, db: t.db, client }, [contractId], { concurrency: 1 });
    expect(started?.ok).toBe(true);

    // The invitation needs the rendered document: the compiled PDF thread ran.
    await inbox.waitFor((m) => String(m.headers['x-signflow-mail-key'] ?? '').endsWith(':invitation'), 120_000);
    await eventually(async () => {
      const { phase } = await contractHandle(client, contractId).query(statusQuery);
      if (phase !== 'awaiting-signature') throw new Error(`contract ${contractId} is ${phase}`);
    }, 60_000);
    const outcome = await signContractUpdate(client, contractId, { contactId, method: 'click' });
    expect(outcome).toBeTruthy();
    const result = await settledResult(client, contractId, 120_000);
    expect(result).toMatchObject({ contractId, outcome: 'signed' });
    expect(workerLog).not.toMatch(/Error|error/);
  });
});
