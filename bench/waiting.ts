/**
 * `npm run bench -- --scenarios waiting [--waiting 5000] [--cache N]`: the worker's memory with many contracts waiting
 * for their signature (issue 9 target 4), and the `sign` round trip on a contract evicted from the workflow cache
 * beside one still cached.
 *
 * The worker is the production one, run as production runs it: the bench builds `dist/` (`npm run build`,
 * scripts/build.ts) and starts `node dist/cli/main.js worker` in a process of its own, configured through the
 * environment as the systemd unit does (docs/ops.md), with the allocator settings of that unit. Two preloads answer the
 * bench's memory questions over the fork's IPC channel (bench/worker-probe.js, bench/isolate-heaps.js); the cache count
 * comes from the worker's own SDK metrics. So its RSS is the worker's alone; this process is the driver (starts,
 * Updates, counts) and the dev SMTP inbox; the Temporal dev server is a third. Contracts are started through
 * `startContracts` of commands/ (the path of the bulk API and `signflow bulk`), on SQLite, QES off, no reminders.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { signContractUpdate } from '../client/contract-client';
import { startContracts } from '../commands/contract-commands';
import { createTestDb } from '../harness/databases';
import { getFreePort, startDevServer } from '../harness/temporal';
import { startDevInbox } from '../mail/dev-inbox';
import { loadConfig } from '../temporal.config';
import { WORKER_MALLOC_ENV } from '../worker/malloc-settings';
import { buildProduction } from '../scripts/build';
import { temporalCliPath } from '../dev-stack/tool-paths';
import { loadAverage, machineLines } from './machine';
import { memoryParts, type MemoryParts } from './process-memory';
import { addContracts, until } from './stack';
import { ms, percentile } from './stats';

const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const out = (text = '') => process.stdout.write(`${text}\n`);
const mb = (bytes: number) => bytes / 1024 / 1024;
const fmtMb = (bytes: number) => `${mb(bytes).toFixed(0)} MB`;

/** What the worker process says about itself when asked (after a full GC, so garbage does not count). */
interface WorkerMemory {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  cachedWorkflows: number;
  /** /proc smaps by part (undefined off Linux). */
  parts?: MemoryParts;
  /** V8 heap of every isolate in the process (main thread, workflow thread, PDF threads, loader threads). */
  isolates: IsolateHeap[];
}

interface IsolateHeap {
  threadId: number;
  main: boolean;
  heapTotal: number;
  heapPhysical: number;
  heapUsed: number;
  malloced: number;
  external: number;
}

/** RSS of another process from /proc (Linux); 0 where there is none. */
function rssOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** What the worker says about itself (bench/worker-probe.js), plus its smaps (read here) and its cache count. */
function askWorker(child: ChildProcess, sdkMetricsUrl: string): Promise<WorkerMemory> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown) => {
      const msg = m as { memory?: Omit<WorkerMemory, 'parts' | 'cachedWorkflows'>; error?: string };
      if (msg.error) reject(new Error(`worker probe: ${msg.error}`));
      if (!msg.memory) return;
      child.off('message', onMessage);
      const memory = msg.memory;
      cachedWorkflows(sdkMetricsUrl).then(
        (cached) => resolve({ ...memory, cachedWorkflows: cached, parts: memoryParts(child.pid) }),
        reject
      );
    };
    child.on('message', onMessage);
    child.send({ measure: true }, (err) => err && reject(err));
  });
}

/** Workflows in the worker's sticky cache: the SDK's own gauge (`sticky_cache_size`), from its Prometheus exporter. */
async function cachedWorkflows(sdkMetricsUrl: string): Promise<number> {
  const text = await (await fetch(sdkMetricsUrl)).text();
  const m = /^(?:temporal_)?sticky_cache_size(?:\{[^}]*\})?\s+(\S+)$/m.exec(text);
  // Core records the gauge from the first change of the cache on: none yet is an empty cache.
  return m ? Number(m[1]) : 0;
}

/** Until the worker's `/readyz` answers 200 (connected, polling), or it exits. */
async function workerReady(opsUrl: string, exited: Promise<number | null>): Promise<void> {
  let gone: number | null | undefined;
  void exited.then((code) => (gone = code));
  for (;;) {
    if (gone !== undefined) throw new Error(`worker process exited (${gone}) before it was ready`);
    const ok = await fetch(`${opsUrl}/readyz`).then(
      (r) => r.ok,
      () => false
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface WaitingOptions {
  waiting: number;
  /** SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS for the worker; undefined = the configured default. */
  cache?: number;
  /** Contracts per kind (evicted, cached) whose `sign` round trip is measured. */
  signs: number;
  concurrency: number;
  timeoutMs: number;
  /** Extra node flags for the worker process (`--worker-flags "--max-semi-space-size=2 …"`). */
  workerFlags: string[];
  /** Extra environment of the worker process (`--worker-env MALLOC_ARENA_MAX=2,…`). */
  workerEnv: Record<string, string>;
}

/** Where the worker's memory is, per measurement: /proc smaps by part, and every isolate's V8 heap. */
function printParts(columns: Array<[string, WorkerMemory]>): void {
  out();
  out(`| worker part | ${columns.map(([name]) => name).join(' | ')} |`);
  out(`|---|${columns.map(() => '---').join('|')}|`);
  const line = (name: string, f: (m: WorkerMemory) => string) =>
    out(`| ${name} | ${columns.map(([, m]) => f(m)).join(' | ')} |`);
  const part = (name: string, f: (p: MemoryParts) => number) => line(name, (m) => (m.parts ? fmtMb(f(m.parts)) : '–'));
  part('RSS (smaps)', (p) => p.rss);
  part('  file-backed (code: node, .node addons, libraries)', (p) => p.fileBacked);
  part('  anonymous', (p) => p.anonymous);
  part('    glibc main arena (brk heap)', (p) => p.brkHeap);
  part('    glibc thread arenas', (p) => p.arenas);
  line('    glibc thread arenas, count', (m) => String(m.parts?.arenaCount ?? '–'));
  part("    other anonymous (V8 heaps, mmap'd blocks, stacks)", (p) => p.otherAnonymous);
  line('  main V8 heap, physical / used', (m) => {
    const h = m.isolates.find((i) => i.main);
    return h ? `${fmtMb(h.heapPhysical)} / ${fmtMb(h.heapUsed)}` : '–';
  });
  line("  other isolates' V8 heaps, physical / used", (m) => {
    const others = m.isolates.filter((i) => !i.main);
    const sum = (f: (i: IsolateHeap) => number) => others.reduce((a, i) => a + f(i), 0);
    return `${others.length}: ${fmtMb(sum((i) => i.heapPhysical))} / ${fmtMb(sum((i) => i.heapUsed))}`;
  });
  line('  V8 malloced (all isolates)', (m) => fmtMb(m.isolates.reduce((a, i) => a + i.malloced, 0)));
  line('  external / arrayBuffers (main)', (m) => `${fmtMb(m.external)} / ${fmtMb(m.arrayBuffers)}`);
  line('threads', (m) => String(m.parts?.threads ?? '–'));
  out();
  const last = columns[columns.length - 1]![1];
  if (last.parts) {
    out(`- largest files mapped (RSS): ${last.parts.files.map(([f, b]) => `${f} ${fmtMb(b)}`).join(', ')}`);
    out(`- threads by name: ${last.parts.threadNames.map(([n, c]) => `${n} ×${c}`).join(', ')}`);
    out(
      `- isolates: ${last.isolates.map((i) => `#${i.threadId}${i.main ? ' (main)' : ''} ${fmtMb(i.heapPhysical)}`).join(', ')}`
    );
  }
  out();
}

async function orchestrate(o: WaitingOptions): Promise<void> {
  const t0 = Date.now();
  const cleanup: (() => Promise<unknown>)[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-bench-waiting-'));
  cleanup.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  try {
    out('## Worker memory with contracts waiting for their signature');
    out();
    for (const line of machineLines(temporalCliPath())) out(`- ${line}`);
    // The production build, fresh: what `npm run build` writes and the systemd unit runs.
    progress('building dist/ (npm run build), starting the dev server');
    const [build, server] = await Promise.all([buildProduction(), startDevServer()]);
    cleanup.push(() => server.stop());
    const inbox = await startDevInbox({ port: await getFreePort() });
    cleanup.push(() => inbox.close());
    // The driver keeps no mails: it counts invitations and forgets them, so its own RSS stays the driver's.
    let invitations = 0;
    inbox.onMessage((m) => {
      if (String(m.headers['x-signflow-mail-key'] ?? '').endsWith(':invitation')) invitations++;
      inbox.clear();
    });
    const t = await createTestDb('sqlite');
    cleanup.push(() => t.destroy());
    const [opsPort, sdkPort] = [await getFreePort(), await getFreePort()];
    // The worker's whole configuration, as an environment file of docs/ops.md would hold it; the driver reads the same.
    const workerConfigEnv: Record<string, string> = {
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
      SIGNFLOW_TASK_QUEUE: `signflow-bench-waiting-${process.pid}`,
      SIGNFLOW_DATABASE_URL: t.url,
      SIGNFLOW_SMTP_URL: `smtp://127.0.0.1:${inbox.port}`,
      SIGNFLOW_REMINDERS_ENABLED: 'false',
      SIGNFLOW_EXPIRY: '30d',
      SIGNFLOW_QES_ENABLED: 'false',
      SIGNFLOW_WORKER_METRICS_PORT: String(opsPort),
      SIGNFLOW_WORKER_SDK_METRICS_PORT: String(sdkPort),
      // Production logs at info; warn keeps the bench's terminal readable (the log lines are not what is measured).
      SIGNFLOW_LOG_LEVEL: 'warn',
      ...(o.cache === undefined ? {} : { SIGNFLOW_WORKER_MAX_CACHED_WORKFLOWS: String(o.cache) }),
    };
    const config = loadConfig({}, workerConfigEnv);
    const entry = path.join(build.outDir, 'cli', 'main.js');

    progress(`starting the worker process: node ${path.relative(process.cwd(), entry)} worker`);
    const child = fork(entry, ['worker'], {
      // The preloads first: isolate-heaps.js answers for every thread, worker-probe.js for the process.
      execArgv: [
        '--require',
        require.resolve('./isolate-heaps.js'),
        '--require',
        require.resolve('./worker-probe.js'),
        '--expose-gc',
        ...o.workerFlags,
      ],
      // Nothing of this shell's environment: only what the unit gives (its EnvironmentFile and Environment= lines).
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        ...workerConfigEnv,
        // As the systemd unit of docs/ops.md starts the worker; `--worker-env MALLOC_ARENA_MAX=,MALLOC_MMAP_THRESHOLD_=`
        // measures without.
        ...WORKER_MALLOC_ENV,
        ...o.workerEnv,
      },
      // The worker's log lines go to stderr with the bench's progress; stdout is the report.
      stdio: ['ignore', 2, 2, 'ipc'],
    });
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    cleanup.push(async () => {
      // The probe turns the closed channel into SIGTERM: the worker drains as under systemd.
      if (child.connected) child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    });
    await workerReady(`http://127.0.0.1:${opsPort}`, exited);
    const sdkMetricsUrl = `http://127.0.0.1:${sdkPort}/metrics`;
    const ask = () => askWorker(child, sdkMetricsUrl);

    const serverPid = server.server.pid;
    const idle = { worker: await ask(), server: rssOf(serverPid), driver: process.memoryUsage.rss() };
    out(
      `- worker: the production build in a process of its own, \`node ${path.relative(process.cwd(), entry)} worker\` ` +
        `(compiled JavaScript, prebuilt workflow bundle, no tsx), environment as the systemd unit of docs/ops.md ` +
        `(${Object.entries({ ...WORKER_MALLOC_ENV, ...o.workerEnv })
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')})${o.workerFlags.length ? `, node flags ${o.workerFlags.join(' ')}` : ''}`
    );
    out(
      `- options: ${o.waiting} contracts waiting, SQLite, QES off, no reminders; worker settings: ` +
        `maxCachedWorkflows ${config.worker.maxCachedWorkflows}, workflow tasks ${config.worker.maxConcurrentWorkflowTasks}, ` +
        `activities ${config.worker.maxConcurrentActivities}, pollers ${config.worker.workflowTaskPollers}/${config.worker.activityTaskPollers}`
    );

    const contracts = await addContracts({ config, t }, o.waiting);
    progress(`starting ${o.waiting} contracts (${o.concurrency} starts in flight)`);
    const tStart = Date.now();
    const deps = { config, db: t.db, client: server.env.client };
    const started = await startContracts(
      deps,
      contracts.map((c) => c.contractId),
      { concurrency: o.concurrency }
    );
    const refused = started.filter((s) => !s.ok);
    if (refused.length > 0)
      throw new Error(`${refused.length} starts refused, e.g. ${String(!refused[0]!.ok && refused[0]!.error)}`);
    let lastLog = 0;
    const waitingCount = async () =>
      (await server.env.client.workflow.count(`WaitingReason = 'signature' AND ExecutionStatus = 'Running'`)).count;
    await until(
      `${o.waiting} contracts waiting for their signature`,
      async () => {
        const n = await waitingCount();
        if (Date.now() - lastLog > 15_000) {
          lastLog = Date.now();
          progress(
            `${n} of ${o.waiting} waiting (${invitations} invitations), ${((Date.now() - tStart) / 1000).toFixed(0)} s`
          );
        }
        // Both: the search attribute can say "signature" before the invitation has gone out.
        return n >= o.waiting && invitations >= o.waiting;
      },
      o.timeoutMs
    );
    const startSeconds = (Date.now() - tStart) / 1000;
    const busy = await ask();
    // What the worker keeps while the contracts wait: after the renders' threads have ended (documents/pdf-threads.ts).
    const idleMs = config.worker.pdfThreadIdleSeconds * 1000;
    progress(`all waiting; measuring again in ${(idleMs + 3000) / 1000} s, once the idle PDF threads ended`);
    await new Promise((r) => setTimeout(r, idleMs + 3000));
    const waiting = { worker: await ask(), server: rssOf(serverPid), driver: process.memoryUsage.rss() };

    // LRU cache: the first contracts started reached their wait first, and every later one took a cache slot after
    // them; with more than `cache + signs` contracts after them, they are out of the cache.
    const cache = config.worker.maxCachedWorkflows;
    const evictedCertain = o.waiting - cache > 2 * o.signs;
    const evicted = contracts.slice(0, o.signs);
    const cached = contracts.slice(-o.signs);
    const evictedMs: number[] = [];
    const cachedMs: number[] = [];
    progress(`signing ${o.signs} evicted and ${o.signs} cached contracts one at a time`);
    for (let i = 0; i < o.signs; i++) {
      for (const [c, into] of [
        [evicted[i]!, evictedMs],
        [cached[cached.length - 1 - i]!, cachedMs],
      ] as const) {
        const s = performance.now();
        const outcome = await signContractUpdate(server.env.client, c.contractId, {
          contactId: c.contactId,
          method: 'click',
        });
        into.push(performance.now() - s);
        if (!outcome) throw new Error(`contract ${c.contractId}: no outcome`);
      }
    }
    const w0 = idle.worker;
    const w1 = waiting.worker;
    const perCached = w1.cachedWorkflows > 0 ? (w1.rss - w0.rss) / w1.cachedWorkflows : NaN;
    out(
      `- ${o.waiting} contracts started and waiting in ${startSeconds.toFixed(0)} s (${(o.waiting / startSeconds).toFixed(1)}/s); ` +
        `${invitations} invitations received`
    );
    out();
    out('| part | idle | waiting | growth |');
    out('|---|---|---|---|');
    const row = (name: string, a: number, b: number) =>
      out(`| ${name} | ${fmtMb(a)} | ${fmtMb(b)} | ${fmtMb(b - a)} |`);
    row('worker process RSS, right after the last invitation', w0.rss, busy.rss);
    row('worker process RSS', w0.rss, w1.rss);
    row('  of it V8 heap used', w0.heapUsed, w1.heapUsed);
    row('  of it external (buffers)', w0.external, w1.external);
    row('Temporal dev server RSS', idle.server, waiting.server);
    row('driver + SMTP inbox RSS', idle.driver, waiting.driver);
    out();
    printParts([
      ['idle', w0],
      ['after the last invitation', busy],
      ['waiting', w1],
    ]);
    out(
      `- workflows in the worker's cache: ${w0.cachedWorkflows} idle, ${w1.cachedWorkflows} waiting (limit ${cache}); ` +
        `RSS growth per cached workflow: ${(mb(perCached) * 1024).toFixed(0)} KB (all growth charged to the cache)`
    );
    out(`- worker RSS ${w1.rss <= 300 * 1024 * 1024 ? 'within' : 'OVER'} the 300 MB goal with ${o.waiting} waiting`);
    out();
    out(`\`sign\` Update round trip, one at a time (${o.signs} each, alternating):`);
    out();
    out('| contract | p50 | max |');
    out('|---|---|---|');
    out(
      `| evicted from the cache (replayed)${evictedCertain ? '' : ' — not certain: too few contracts after them'} | ${ms(percentile(evictedMs, 50))} | ${ms(Math.max(...evictedMs))} |`
    );
    out(`| cached | ${ms(percentile(cachedMs, 50))} | ${ms(Math.max(...cachedMs))} |`);
    out();
    out(`- whole scenario ${((Date.now() - t0) / 1000).toFixed(0)} s; load average at the end: ${loadAverage()}`);
  } finally {
    for (const stop of cleanup.reverse()) await stop().catch((err: unknown) => progress(`stop: ${String(err)}`));
  }
}

export async function runWaitingBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: false,
    options: {
      waiting: { type: 'string', default: '5000' },
      cache: { type: 'string' },
      signs: { type: 'string', default: '10' },
      concurrency: { type: 'string', default: '8' },
      timeout: { type: 'string', default: '3600' },
      'worker-flags': { type: 'string', default: '' },
      'worker-env': { type: 'string', default: '' },
    },
  });
  const int = (name: string, raw: unknown, min: number) => {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min)
      throw new Error(`--${name} must be an integer >= ${min}, got ${String(raw)}`);
    return n;
  };
  await orchestrate({
    waiting: int('waiting', values.waiting, 1),
    cache: values.cache === undefined ? undefined : int('cache', values.cache, 0),
    signs: int('signs', values.signs, 1),
    concurrency: int('concurrency', values.concurrency, 1),
    timeoutMs: int('timeout', values.timeout, 1) * 1000,
    workerFlags: String(values['worker-flags']).split(/\s+/).filter(Boolean),
    workerEnv: Object.fromEntries(
      String(values['worker-env'])
        .split(',')
        .filter(Boolean)
        .map((kv) => {
          const eq = kv.indexOf('=');
          if (eq < 1) throw new Error(`--worker-env takes KEY=VALUE,…, got ${kv}`);
          return [kv.slice(0, eq), kv.slice(eq + 1)];
        })
    ),
  });
}
