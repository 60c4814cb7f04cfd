/**
 * `signflow konnektor-worker` as a service manager runs it in the practice network: it refuses to start without its
 * queue or its Konnektor (exit 5, the variable named), polls the on-site queue without opening any port, shows up in
 * `signflow doctor` as the queue's poller, and drains on SIGTERM (exit 0). `signflow doctor` names an on-site queue
 * nobody polls.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import { createTestDb, type TestDb } from '../../harness/databases';
import { startDevServer, type DevServerHandle } from '../../harness/temporal';
import { BIN, runCli } from './run-cli';

interface Check {
  name: string;
  ok: boolean;
  message: string;
}

/** Inodes of the TCP sockets in LISTEN state (state 0A) in this network namespace. */
function listeningInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && cols[9]) inodes.add(cols[9]);
    }
  }
  return inodes;
}

/** The socket inodes the process holds open. */
function socketsOf(pid: number): string[] {
  return fs
    .readdirSync(`/proc/${pid}/fd`)
    .map((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .map((link) => /^socket:\[(\d+)\]$/.exec(link)?.[1])
    .filter((x): x is string => x !== undefined);
}

describe('signflow konnektor-worker', () => {
  let t: TestDb;
  let temporal: DevServerHandle;
  let sim: RunningKonnektorSimulator;
  let dir: string;
  const queue = `signflow-konnektor-cli-${process.pid}`;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-konnektor-worker-'));
    t = await createTestDb('sqlite');
    temporal = await startDevServer();
    sim = await startKonnektorSimulator({ adminPort: false });
    fs.writeFileSync(path.join(dir, 'client.zip'), sim.clientZip);
  });
  afterAll(async () => {
    await sim?.close();
    await temporal?.stop();
    await t?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    SIGNFLOW_DATABASE_URL: t.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    SIGNFLOW_TASK_QUEUE: `signflow-cli-${process.pid}`,
    SIGNFLOW_SMTP_URL: 'smtp://127.0.0.1:1',
    // Ports of their own (0: any free one, SDK exporter off): other suites run workers beside this one.
    SIGNFLOW_WORKER_METRICS_PORT: '0',
    SIGNFLOW_WORKER_SDK_METRICS_PORT: '0',
    ...extra,
  });
  const onSite = (): Record<string, string> => ({
    SIGNFLOW_KONNEKTOR_TASK_QUEUE: queue,
    SIGNFLOW_KONNEKTOR_SDS_URL: sim.sdsUrl,
    SIGNFLOW_KONNEKTOR_CLIENT_ZIP: path.join(dir, 'client.zip'),
    SIGNFLOW_KONNEKTOR_SERVER_FINGERPRINT: sim.fingerprint,
  });

  test('without SIGNFLOW_KONNEKTOR_TASK_QUEUE it does not start: exit 5, the variable named', async () => {
    const { SIGNFLOW_KONNEKTOR_TASK_QUEUE: _unset, ...rest } = onSite();
    const run = await runCli(['konnektor-worker'], env(rest));
    expect(run.code).toBe(5);
    expect(run.stderr).toContain('SIGNFLOW_KONNEKTOR_TASK_QUEUE is not set');
  });

  test('without the Konnektor settings it does not start: exit 5, the variable named', async () => {
    const run = await runCli(['konnektor-worker'], env({ SIGNFLOW_KONNEKTOR_TASK_QUEUE: queue }));
    expect(run.code).toBe(5);
    expect(run.stderr).toContain('SIGNFLOW_KONNEKTOR_SDS_URL');
  });

  test('doctor: the setting, and an on-site queue nobody polls', async () => {
    // QES on, the Konnektor reachable from this machine, no on-site queue: the Konnektor calls run on the main worker.
    const { SIGNFLOW_KONNEKTOR_TASK_QUEUE: _noQueue, ...konnektorHere } = onSite();
    const unset = await runCli(['doctor', '--json'], env({ SIGNFLOW_QES_ENABLED: 'true', ...konnektorHere }));
    const line = (unset.json().checks as Check[]).find((c) => c.name === 'queue of the Konnektor activities');
    expect(line).toMatchObject({ ok: true });
    expect(line?.message).toContain('run on the main worker');
    const set = await runCli(['doctor', '--json'], env({ SIGNFLOW_KONNEKTOR_TASK_QUEUE: queue }));
    const check = (set.json().checks as Check[]).find((c) => c.name === `on-site worker on ${queue}`);
    expect(check).toMatchObject({ ok: false });
    expect(check?.message).toContain('no worker polls it');
    expect(check?.message).toContain('signflow konnektor-worker');
    expect(set.code).toBe(1);
  });

  test('polls its queue with no port of its own, is seen by doctor, and drains on SIGTERM (exit 0)', async () => {
    const child: ChildProcess = spawn(process.execPath, [BIN, 'konnektor-worker'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env(onSite()) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdout?.resume();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal }))
    );
    try {
      const until = Date.now() + 90_000;
      while (!/polling task queue/.test(stderr)) {
        if (child.exitCode !== null) throw new Error(`exited early (${child.exitCode}):\n${stderr}`);
        if (Date.now() > until) throw new Error(`did not start:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(stderr).toContain(`polling task queue ${queue}`);
      // Connected out (Temporal, Konnektor), listening nowhere.
      const pid = child.pid as number;
      const sockets = socketsOf(pid);
      expect(sockets.length).toBeGreaterThan(0);
      const listening = listeningInodes();
      expect(sockets.filter((s) => listening.has(s))).toEqual([]);

      const doctor = await runCli(['doctor', '--json'], env({ SIGNFLOW_KONNEKTOR_TASK_QUEUE: queue }));
      const check = (doctor.json().checks as Check[]).find((c) => c.name === `on-site worker on ${queue}`);
      expect(check).toMatchObject({ ok: true });
      expect(check?.message).toMatch(/polled by \S+/);

      child.kill('SIGTERM');
      expect(await exited).toEqual({ code: 0, signal: null });
      expect(stderr).toMatch(/SIGTERM: draining[\s\S]*stopped/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
