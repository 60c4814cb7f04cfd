/**
 * `signflow worker`, `signflow api` and `signflow codec-server` as a service manager runs them: `node bin/signflow.js
 * <verb>`. The PID we hold is the process itself (no npx, shell or child process in between, so nothing is orphaned),
 * and SIGTERM or SIGINT to that PID drains and ends it with exit 0, within the 10 s a unit's TimeoutStopSec allows.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createTestDb, type TestDb } from '../../harness/databases';
import { getFreePort, startDevServer, workflowBundle, type DevServerHandle } from '../../harness/temporal';
import { BIN } from './run-cli';

const KEYS = `k1:${Buffer.alloc(32, 7).toString('base64')}`;

interface Proc {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdout?.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal }))
  );
  return { child, stderr: () => stderr, exited };
}

async function waitForLine(p: Proc, pattern: RegExp, timeoutMs = 90_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pattern.test(p.stderr())) {
    if (p.child.exitCode !== null) throw new Error(`exited early (${p.child.exitCode}):\n${p.stderr()}`);
    if (Date.now() > until) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Processes whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const cmdline = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
};

/**
 * The signflow code runs in `pid` itself: its only children may be tsx's esbuild service (a compiler helper that ends
 * with its parent), never a node process (what npx or a shell wrapper would leave running).
 */
function helpersOf(pid: number): number[] {
  const children = childrenOf(pid);
  for (const c of children) expect(cmdline(c)).toMatch(/esbuild/);
  return children;
}

/** The stop must end the process; the bound is the unit's 10 s plus room for a loaded machine. */
async function stopped(p: Proc, signal: NodeJS.Signals) {
  p.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    p.exited,
    new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 30_000))),
  ]);
  clearTimeout(timer);
  if (!result) p.child.kill('SIGKILL');
  return result;
}

describe('long-running verbs and signals', () => {
  let t: TestDb;
  let temporal: DevServerHandle;
  let bundle: string;

  beforeAll(async () => {
    t = await createTestDb('sqlite');
    temporal = await startDevServer();
    bundle = (await workflowBundle()).codePath;
  });
  afterAll(async () => {
    await temporal?.stop();
    await t?.destroy();
  });

  const baseEnv = () => ({
    SIGNFLOW_DATABASE_URL: t.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    SIGNFLOW_TASK_QUEUE: `signals-${process.pid}`,
    // Ports of their own (0: any free one, SDK exporter off): other suites run workers beside these.
    SIGNFLOW_WORKER_METRICS_PORT: '0',
    SIGNFLOW_WORKER_SDK_METRICS_PORT: '0',
  });

  test.each(['SIGTERM', 'SIGINT'] as const)(
    'signflow worker: the PID is the worker; %s drains it, exit 0',
    async (sig) => {
      const p = start(['worker', '--workflow-bundle', bundle], baseEnv());
      try {
        await waitForLine(p, /polling task queue/);
        const helpers = helpersOf(p.child.pid as number);
        const result = await stopped(p, sig);
        expect(result).toEqual({ code: 0, signal: null });
        // Nothing is left behind under PID 1.
        for (const h of helpers) expect(cmdline(h)).toBe('');
        expect(p.stderr()).toMatch(new RegExp(`${sig}: draining[\\s\\S]*stopped`));
      } finally {
        p.child.kill('SIGKILL');
      }
    }
  );

  test('signflow api: the PID is the server; SIGTERM closes the port, exit 0', async () => {
    const port = await getFreePort();
    const p = start(['api'], { ...baseEnv(), SIGNFLOW_API_PORT: String(port) });
    try {
      await waitForLine(p, /listening on/);
      helpersOf(p.child.pid as number);
      expect((await fetch(`http://127.0.0.1:${port}/api/v1/openapi.json`)).status).toBe(200);
      expect(await stopped(p, 'SIGTERM')).toEqual({ code: 0, signal: null });
      await expect(fetch(`http://127.0.0.1:${port}/api/v1/openapi.json`)).rejects.toThrow();
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  test.each(['SIGTERM', 'SIGINT'] as const)('signflow codec-server: %s stops it, exit 0', async (sig) => {
    const port = await getFreePort();
    const p = start(['codec-server'], {
      SIGNFLOW_CODEC_KEYS: KEYS,
      SIGNFLOW_CODEC_SERVER_TOKENS: 'codec-token-for-signals-0000',
      SIGNFLOW_CODEC_SERVER_PORT: String(port),
    });
    try {
      await waitForLine(p, /listening on/);
      helpersOf(p.child.pid as number);
      expect((await fetch(`http://127.0.0.1:${port}/codec/health`)).status).toBe(200);
      expect(await stopped(p, sig)).toEqual({ code: 0, signal: null });
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  test('a worker whose mapping does not match the database does not start: exit 5, the column named', async () => {
    const dir = fs.mkdtempSync('/tmp/signflow-signals-');
    const mapping = `${dir}/mapping.json`;
    fs.writeFileSync(mapping, JSON.stringify({ contracts: { status: 'vertragsstatus' } }));
    const p = start(['worker', '--workflow-bundle', bundle], { ...baseEnv(), SIGNFLOW_CRM_MAPPING: mapping });
    const result = await p.exited;
    fs.rmSync(dir, { recursive: true, force: true });
    expect(result.code).toBe(5);
    expect(p.stderr()).toContain('column "honorarvertraege.vertragsstatus" (contracts.status) does not exist');
  });
});
