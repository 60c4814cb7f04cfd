/**
 * `npm run bench`: signflow's speed figures from real parts in one run, printed as markdown tables with the ratios
 * side by side. Speed goals live here, never in timed tests.
 *
 * Starts a Temporal dev server, bundles the workflows once, and per database (SQLite, MariaDB when available) a fresh
 * CRM database, the dev SMTP inbox and a real worker; for the countersign scenario the Konnektor simulator with
 * latency per call and per document. Everything started here is stopped at the end, also on failure, Ctrl-C or the
 * --timeout bound. Progress goes to stderr, the report to stdout.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { temporalCliPath } from '../dev-stack/tool-paths';
import { startKonnektorSimulator } from '../konnektor-simulator';
import { MYSQL_URL_ENV } from '../harness/databases';
import { clientFor } from '../harness/konnektor-client';
import { bundleWorkflowsToFile, startDevServer, type DevServerHandle } from '../harness/temporal';
import { cardBoundFloorMs, runCountersignVariant, type CountersignVariantResult } from './countersign';
import { runKonnektorMemoryBench } from './konnektor-memory';
import { runWaitingBench } from './waiting';
import { runBulkBench } from './bulk';
import { loopbackListenerPid } from './cpu';
import { databaseVersion, loadAverage, machineLines } from './machine';
import { parseBenchOptions, type BenchDb, type BenchOptions } from './options';
import { runRender, type RenderResult } from './render';
import { startBenchStack, type BenchStack } from './stack';
import { ms, percentile, ratio, summarize, table } from './stats';
import type { StepTiming } from './history';
import { runThroughput, type ThroughputResult } from './throughput';
import { startFloorSubject } from './floor/floor-subject';
import { CPU_KINDS, type CpuKind } from './profile';
import { signflowSubject } from './subject';

const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const out = (text = '') => process.stdout.write(`${text}\n`);

/** Stops what was started, last first; each step bounded so a hung part cannot keep the run alive. */
class Cleanup {
  private steps: { name: string; stop: () => Promise<unknown> }[] = [];
  add(name: string, stop: () => Promise<unknown>): void {
    this.steps.push({ name, stop });
  }
  private running: Promise<void> | undefined;
  /** Once: an abort (signal, --timeout) and the normal end share the same run, and both wait for it. */
  run(): Promise<void> {
    return (this.running ??= this.drain());
  }
  private async drain(): Promise<void> {
    while (this.steps.length > 0) {
      const { name, stop } = this.steps.pop()!;
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          progress(`stopping ${name} took over 30 s; going on`);
          resolve();
        }, 30_000);
      });
      await Promise.race([stop().catch((err: unknown) => progress(`stopping ${name}: ${String(err)}`)), bound]);
      clearTimeout(timer);
    }
  }
}

/** The MariaDB server URL: SIGNFLOW_TEST_MYSQL_URL, else what scripts/start-mariadb.sh provides; undefined = none. */
function mariadbUrl(): { url?: string; why?: string } {
  const set = process.env[MYSQL_URL_ENV]?.trim();
  if (set) return { url: set };
  const script = path.resolve(__dirname, '..', 'scripts', 'start-mariadb.sh');
  try {
    const stdout = execFileSync('bash', [script], {
      encoding: 'utf8',
      timeout: 180_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const url = stdout.trim().split('\n').pop()?.trim();
    if (url) return { url };
    return { why: 'scripts/start-mariadb.sh printed no URL' };
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? err).trim();
    return { why: `scripts/start-mariadb.sh failed: ${stderr.split('\n').pop() ?? ''}` };
  }
}

/** mariadbd's pid when the URL names a server on this machine: its CPU goes beside the Temporal server's. */
function databaseServerPid(url: string | undefined): number | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return loopbackListenerPid(u.hostname, Number(u.port || 3306));
  } catch {
    return undefined;
  }
}

const fixed = (digits: number) => (v: number) => (Number.isFinite(v) ? v.toFixed(digits) : '–');

type TimingKey = 'startToInvitationMs' | 'signUpdateMs' | 'signToCompletedMs' | 'totalMs';

/** signflow and the floor of one database. */
interface Pair {
  signflow: ThroughputResult;
  floor: ThroughputResult;
}

/**
 * Every figure of signflow beside the bare floor workflow's, per database, with signflow / floor: above 1 means
 * signflow is slower or costs more, except for contracts/s, where it is the share of the floor's throughput reached.
 */
function throughputTable(results: Map<BenchDb, Pair>, o: BenchOptions): string {
  const dbs = [...results.keys()];
  const header = ['', ...dbs.flatMap((d) => [`${d} signflow`, `${d} floor`, 'signflow / floor'])];
  const row = (label: string, pick: (r: ThroughputResult) => number, fmt: (v: number) => string = ms) => [
    label,
    ...dbs.flatMap((d) => {
      const p = results.get(d) as Pair;
      const a = pick(p.signflow);
      const b = pick(p.floor);
      return [fmt(a), fmt(b), ratio(b, a)];
    }),
  ];
  const text = (label: string, pick: (r: ThroughputResult) => string) => [
    label,
    ...dbs.flatMap((d) => {
      const p = results.get(d) as Pair;
      return [pick(p.signflow), pick(p.floor), ''];
    }),
  ];
  const loaded = (key: TimingKey, q: number) => (r: ThroughputResult) =>
    percentile(
      r.contracts.map((c) => c[key]),
      q
    );
  const alone =
    (key: TimingKey, q = 50) =>
    (r: ThroughputResult) =>
      percentile(
        r.alone.contracts.map((c) => c[key]),
        q
      );
  const per = (r: ThroughputResult, v: number) => v / r.contracts.length;
  const split = (kind: CpuKind) => (r: ThroughputResult) => r.cpuSplit?.perKind[kind] ?? Number.NaN;
  const n = o.concurrency;
  return table(header, [
    row('contracts measured', (r) => r.contracts.length, String),
    text('rounds (contracts/s each)', (r) => r.perRound.map((v) => v.toFixed(1)).join(', ')),
    row(`wall time at ${n} in flight (sum of rounds), s`, (r) => r.wallMs / 1000, fixed(1)),
    row('**contracts/s**', (r) => r.contractsPerSecond, fixed(2)),
    row('start → invitation, p50 ms', loaded('startToInvitationMs', 50)),
    row('start → invitation, p99 ms', loaded('startToInvitationMs', 99)),
    row('**`sign` Update round trip, p50 ms**', loaded('signUpdateMs', 50)),
    row('**`sign` Update round trip, p99 ms**', loaded('signUpdateMs', 99)),
    row('sign → completed, p50 ms', loaded('signToCompletedMs', 50)),
    row('sign → completed, p99 ms', loaded('signToCompletedMs', 99)),
    row('start → completed, p50 ms', loaded('totalMs', 50)),
    row('start → completed, p99 ms', loaded('totalMs', 99)),
    row(`one at a time (${o.alone}): \`sign\` Update, p50 ms`, alone('signUpdateMs')),
    row(`one at a time (${o.alone}): \`sign\` Update, max ms`, alone('signUpdateMs', 100)),
    row(`one at a time (${o.alone}): start → completed, p50 ms`, alone('totalMs')),
    row('**history events per contract**', (r) => r.counts.events, fixed(1)),
    row('workflow tasks per contract', (r) => r.counts.workflowTasks, fixed(1)),
    row('**billable actions per contract**', (r) => r.counts.actions, fixed(1)),
    row('of them: workflow starts', (r) => r.counts.starts, fixed(1)),
    row('of them: activities (attempts)', (r) => r.counts.activities, fixed(1)),
    row('of them: signals + Updates', (r) => r.counts.messages, fixed(1)),
    row('of them: timers', (r) => r.counts.timers, fixed(1)),
    row('of them: search-attribute upserts', (r) => r.counts.upserts, fixed(1)),
    row(
      'of them: workflow tasks running local activities (one action each, however many)',
      (r) => r.counts.localActivityTasks,
      fixed(1)
    ),
    row(
      'local activities per contract (markers; counted in the line above)',
      (r) => r.counts.localActivities,
      fixed(1)
    ),
    row('patch markers per contract (not counted above)', (r) => r.counts.markers, fixed(1)),
    row(
      '`TemporalChangeVersion` upserts per contract (exempt, not counted above)',
      (r) => r.counts.versionUpserts,
      fixed(1)
    ),
    row('SQL statements per contract (worker pool)', (r) => per(r, r.sqlStatements), fixed(1)),
    row('CPU per contract, this process (worker + driver + inbox), ms', (r) => per(r, r.cpu.selfMs)),
    row('CPU per contract, Temporal dev server, ms', (r) => per(r, r.cpu.serverMs)),
    row('CPU per contract, database server (MariaDB on this machine), ms', (r) => per(r, r.cpu.dbServerMs)),
    // With every core busy, what limits throughput is the CPU a contract costs on the machine: this row's ratio
    // varies less between runs than the contracts/s one, which the machine's other tenants move too.
    row('**CPU per contract, all of it (the three above), ms**', (r) => per(r, allCpuMs(r.cpu))),
    ...CPU_KINDS.map((k) => row(`profiled pass, main thread: ${k}, ms/contract`, split(k))),
    row('profiled pass: main thread (the kinds above), ms/contract', (r) =>
      r.cpuSplit ? Object.values(r.cpuSplit.perKind).reduce((x, y) => x + y, 0) : Number.NaN
    ),
    row('profiled pass: whole process, ms/contract', (r) => r.cpuSplit?.processMs ?? Number.NaN),
    row('profiled pass: other threads (workflow sandbox, PDF, Temporal core, V8 GC + compiler), ms/contract', (r) =>
      r.cpuSplit
        ? Math.max(
            0,
            r.cpuSplit.processMs -
              (Number.isFinite(r.cpuSplit.mainThreadMs)
                ? r.cpuSplit.mainThreadMs
                : Object.values(r.cpuSplit.perKind).reduce((x, y) => x + y, 0))
          )
        : Number.NaN
    ),
    row('event-loop delay of this process, p99 ms', (r) => r.eventLoopDelay.p99),
    row('event-loop delay of this process, max ms', (r) => r.eventLoopDelay.max),
    row('RSS of this process during the rounds, max MiB', (r) => r.rssMaxMiB, fixed(0)),
    row(
      `cores busy (this process + Temporal server + database server, of ${os.cpus().length})`,
      (r) => allCpuMs(r.cpu) / r.wallMs,
      fixed(2)
    ),
  ]);
}

/** This process, the Temporal server and the database server when it runs on this machine (SQLite runs in this process). */
function allCpuMs(cpu: { selfMs: number; serverMs: number; dbServerMs: number }): number {
  return cpu.selfMs + cpu.serverMs + (Number.isFinite(cpu.dbServerMs) ? cpu.dbServerMs : 0);
}

/** The activity types of the measured histories in the order they first ran. */
function stepOrder(results: Map<BenchDb, ThroughputResult>): string[] {
  const seen = new Set<string>();
  for (const r of results.values()) for (const s of [...r.alone.steps, ...r.steps]) seen.add(s.step);
  const order = [...seen].filter((s) => s !== '(workflow task)' && !s.startsWith('sendContractMail (confirmation)'));
  for (const last of [
    'sendContractMail (confirmation)',
    'sendContractMail (confirmation) (local)',
    '(workflow task)',
  ]) {
    if (seen.has(last)) order.push(last);
  }
  return order;
}

function activityTable(results: Map<BenchDb, ThroughputResult>): string {
  const dbs = [...results.keys()];
  const header = [
    'step',
    ...dbs.flatMap((d) => [`${d} alone p50`, `${d} p50`, `${d} p95`]),
    ...(dbs.length === 2 ? [`${dbs[1]} / ${dbs[0]} p50`] : []),
    `queued p50 (${dbs.join(' / ')})`,
    'per contract',
  ];
  const rows = stepOrder(results).map((step) => {
    const per = dbs.map((d) => {
      const r = results.get(d) as ThroughputResult;
      const steps = r.steps.filter((s) => s.step === step);
      return {
        alone: percentile(
          r.alone.steps.filter((s) => s.step === step).map((s) => s.runMs),
          50
        ),
        run: summarize(steps.map((s) => s.runMs)),
        queued: percentile(
          steps.map((s) => s.queuedMs),
          50
        ),
        count: steps.length / r.contracts.length,
      };
    });
    return [
      step,
      ...per.flatMap((s) => [ms(s.alone), ms(s.run.p50), ms(s.run.p95)]),
      ...(dbs.length === 2 ? [ratio(per[0]?.run.p50, per[1]?.run.p50)] : []),
      per.map((s) => ms(s.queued)).join(' / '),
      per.map((s) => s.count.toFixed(1)).join(' / '),
    ];
  });
  return table(header, rows);
}

function renderTable(r: RenderResult, results: Map<BenchDb, ThroughputResult>): string {
  const doc = summarize(r.documentMs);
  const html = summarize(r.htmlMs);
  const rows = [
    ['renderContractDocument (PDF/A + HTML), p50 ms', ms(doc.p50)],
    ['renderContractDocument, p95 ms', ms(doc.p95)],
    ['of it the HTML rendition (Handlebars), p50 ms', ms(html.p50)],
    ['one-line PDF/A with the same two fonts (font parsing + embedding), p50 ms', ms(percentile(r.fontsOnlyMs, 50))],
    ['first call (template compile, font load), ms', ms(r.coldMs)],
    ['PDF size, KiB', (r.pdfBytes / 1024).toFixed(0)],
  ];
  for (const [db, res] of results) {
    // The lean contract path renders in loadAndPrepareSignatureRequest (a local activity from generation 5 on);
    // histories from before it in prepare….
    const prepSteps = new Set([
      'loadAndPrepareSignatureRequest',
      'loadAndPrepareSignatureRequest (local)',
      'prepareSignatureRequest',
    ]);
    const prep = (steps: StepTiming[]) =>
      percentile(
        steps.filter((s) => prepSteps.has(s.step)).map((s) => s.runMs),
        50
      );
    rows.push([
      `render p50 / (load and) prepare step p50 on ${db}: one at a time, at load`,
      `${((doc.p50 / prep(res.alone.steps)) * 100).toFixed(0)} %, ${((doc.p50 / prep(res.steps)) * 100).toFixed(0)} %`,
    ]);
  }
  return table([`alone, ${r.documentMs.length} renders, nothing else running`, ''], rows);
}

function countersignTable(
  batched: CountersignVariantResult,
  single: CountersignVariantResult,
  o: BenchOptions
): string {
  const header = [
    '',
    `batchSize ${batched.batchSize}`,
    `batchSize ${single.batchSize}`,
    `${single.batchSize} / ${batched.batchSize}`,
  ];
  const floor = (r: CountersignVariantResult) =>
    cardBoundFloorMs(r.contracts, r.batchSize, o.latencyMs, o.perDocumentLatencyMs);
  const run = (r: CountersignVariantResult, step: string) =>
    r.signerSteps.filter((s) => s.step === step).map((s) => s.runMs);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const row = (
    label: string,
    pick: (r: CountersignVariantResult) => number,
    fmt: (v: number) => string = ms,
    compare = true
  ) => {
    const a = pick(batched);
    const b = pick(single);
    return [label, fmt(a), fmt(b), compare ? ratio(a, b) : ''];
  };
  const s2 = (v: number) => v.toFixed(2);
  const batches = (r: CountersignVariantResult) => {
    const sizes = r.batchSizes;
    return sizes.length <= 8
      ? sizes.join(', ')
      : `${sizes.length} calls of ${Math.min(...sizes)}–${Math.max(...sizes)}`;
  };
  const ops = (r: CountersignVariantResult) =>
    Object.entries(r.soapCalls)
      .sort((x, y) => y[1] - x[1])
      .map(([op, n]) => `${op} ${n}`)
      .join(', ') + (r.soapCallsTruncated ? ' (last 500 only)' : '');
  return [
    table(header, [
      row('contracts countersigned', (r) => r.contracts, String, false),
      row(
        'card-bound floor (⌈documents / batch⌉ × per call + documents × per document), s',
        (r) => floor(r) / 1000,
        s2
      ),
      row('**card-bound span: comfort signature active → last contract completed, s**', (r) => r.cardSpanMs / 1000, s2),
      row(
        '**span / floor (target ≤ 1.10)**',
        (r) => r.cardSpanMs / floor(r),
        (v) => `×${v.toFixed(3)}`,
        false
      ),
      row('card busy signing (sum over SignDocument calls), s', (r) => r.cardBusyMs / 1000, s2),
      row('card idle in the span, s', (r) => (r.cardSpanMs - r.cardBusyMs) / 1000, s2),
      row('of it: comfort active → first SignDocument on the card, ms', (r) => r.toFirstCallMs),
      row('of it: between SignDocument calls, sum, ms', (r) => sum(r.gapsMs)),
      row('of it: between SignDocument calls, p50 ms', (r) => percentile(r.gapsMs, 50)),
      row('of it: between SignDocument calls, max ms', (r) => (r.gapsMs.length ? Math.max(...r.gapsMs) : NaN)),
      row('of the gaps: the next request whole at the Konnektor, read there before the card starts, sum ms', (r) =>
        sum(r.gapsAtKonnektorMs)
      ),
      row('of it: last answer → last contract completed (store, Prüfprotokoll, mail), ms', (r) => r.afterLastCallMs),
      row('SignDocument calls', (r) => r.signDocumentCalls, String),
      ['documents per SignDocument call', batches(batched), batches(single), ''],
      row('signDocuments activities, summed run time, s', (r) => sum(run(r, 'signDocuments')) / 1000, s2),
      row('comfort active → contract completed, p50 ms', (r) => percentile(r.completedAfterMs, 50)),
      row('comfort active → contract completed, p95 ms', (r) => percentile(r.completedAfterMs, 95)),
      row('all signed at once → all queued at the signer (not card-bound), s', (r) => r.queuedMs / 1000, s2),
      row(
        'all queued → every contract told it waits, the signer idle (before the activation, not card-bound), s',
        (r) => r.settledMs / 1000,
        s2
      ),
    ]),
    '',
    `SOAP calls from the activation on, batchSize ${batched.batchSize}: ${ops(batched)}`,
    `SOAP calls from the activation on, batchSize ${single.batchSize}: ${ops(single)}`,
  ].join('\n');
}

/** The value of `--scenarios` when it names one scenario only. */
function soleScenario(argv: string[]): string | undefined {
  const i = argv.findIndex((a) => a === '--scenarios' || a.startsWith('--scenarios='));
  if (i < 0) return undefined;
  const value = argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1];
  return value?.trim();
}

async function main(): Promise<void> {
  // The Konnektor memory scenario is a run of its own (its own processes; see bench/konnektor-memory.ts).
  if (process.argv.includes('--konnektor-memory')) return runKonnektorMemoryBench(process.argv.slice(2));
  // So are the waiting-contracts memory scenario (bench/waiting.ts) and the bulk progress one (bench/bulk.ts).
  const only = soleScenario(process.argv.slice(2));
  if (only === 'waiting') return runWaitingBench(process.argv.slice(2));
  if (only === 'bulk') return runBulkBench(process.argv.slice(2));
  const o = parseBenchOptions(process.argv.slice(2));
  const cleanup = new Cleanup();
  let stopping = false;
  const abort = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    progress(`${why}: stopping everything`);
    await cleanup.run();
    process.exit(code);
  };
  const deadline = setTimeout(() => void abort(`--timeout of ${o.timeoutMs / 1000} s reached`, 2), o.timeoutMs);
  process.once('SIGINT', () => void abort('interrupted', 130));
  process.once('SIGTERM', () => void abort('terminated', 143));

  const t0 = Date.now();
  try {
    const cli = temporalCliPath();
    out('# signflow benchmark');
    out();
    for (const line of machineLines(cli)) out(`- ${line}`);

    let dbs = o.dbs;
    if (dbs.includes('mariadb')) {
      const found = mariadbUrl();
      if (found.url) {
        process.env[MYSQL_URL_ENV] = found.url;
      } else {
        if (dbs.length === 1) throw new Error(`MariaDB asked for but not available: ${found.why}`);
        progress(`MariaDB left out: ${found.why}`);
        out(`- MariaDB: left out (${found.why})`);
        dbs = dbs.filter((d) => d !== 'mariadb');
      }
    }
    out(
      `- options: ${o.contracts} contracts per database (+${o.warmup} warm-up per subject), ${o.concurrency} in flight; ` +
        `countersign ${o.qesContracts} contracts (+${o.qesWarmup} warm-up), batchSize ${o.qesBatch} vs 1; Konnektor latency ${o.latencyMs} ms per ` +
        `SignDocument call + ${o.perDocumentLatencyMs} ms/document, other calls ${o.otherLatencyMs} ms`
    );

    progress('bundling workflows');
    let t = Date.now();
    const bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-bench-'));
    cleanup.add('workflow bundle', async () => fs.rmSync(bundleDir, { recursive: true, force: true }));
    const bundle = await bundleWorkflowsToFile(require.resolve('../workflows'), bundleDir);
    const bundleMs = Date.now() - t;

    progress('starting the Temporal dev server');
    t = Date.now();
    const server: DevServerHandle = await startDevServer();
    cleanup.add('Temporal dev server', () => server.stop());
    out(
      `- setup: workflows bundled in ${(bundleMs / 1000).toFixed(1)} s, dev server ready in ${((Date.now() - t) / 1000).toFixed(1)} s`
    );

    let stackNo = 0;
    const stackFor = async (
      kind: BenchDb,
      extra: { config?: unknown; konnektor?: ReturnType<typeof clientFor> } = {}
    ) => {
      const stack: BenchStack = await startBenchStack({
        kind,
        client: server.env.client,
        connection: server.env.nativeConnection,
        namespace: server.namespace,
        bundle,
        taskQueue: `signflow-bench-${process.pid}-${++stackNo}`,
        ...extra,
      });
      cleanup.add(`${kind} stack`, () => stack.stop());
      return stack;
    };

    if (o.scenarios.includes('throughput')) {
      progress(`rendering ${o.renders} contract documents alone`);
      const render = await runRender(o.renders);
      progress('bundling the bare floor workflow');
      const floorBundle = await bundleWorkflowsToFile(require.resolve('./floor/floor.workflow'), bundleDir);
      const results = new Map<BenchDb, Pair>();
      const versions: string[] = [];
      for (const kind of dbs) {
        progress(
          `throughput on ${kind}: ${o.contracts} contracts each for signflow and the floor, ${o.concurrency} in flight`
        );
        const stack = await stackFor(kind);
        const floor = await startFloorSubject({
          client: server.env.client,
          connection: server.env.nativeConnection,
          namespace: server.namespace,
          bundle: floorBundle,
          taskQueue: `signflow-bench-floor-${process.pid}-${++stackNo}`,
          tuning: stack.config.worker,
        });
        cleanup.add(`${kind} floor worker`, () => floor.stop());
        versions.push(await databaseVersion(stack.db, kind));
        const both = await runThroughput([signflowSubject(stack), floor], {
          ...o,
          serverPid: server.server.pid,
          dbServerPid: kind === 'mariadb' ? databaseServerPid(stack.config.database.url) : undefined,
          cpuprofile: o.cpuprofileDir ? { dir: o.cpuprofileDir, prefix: `${kind}-` } : undefined,
        });
        results.set(kind, {
          signflow: both.get('signflow') as ThroughputResult,
          floor: both.get('floor') as ThroughputResult,
        });
        await floor.stop();
        await stack.stop();
      }
      const signflowOnly = new Map([...results].map(([d, p]) => [d, p.signflow]));
      out(`- databases: ${versions.join('; ')}`);
      out();
      out('## 1. Contract throughput end to end, beside the bare floor workflow');
      out();
      out(
        'signflow: start → invitation mail in the SMTP inbox → `sign` Update (click) → workflow completed (signature ' +
          'recorded, Prüfprotokoll, confirmation mail sent). Floor: a bare workflow of the same shape (three no-op ' +
          'activities, an Update whose handler runs one no-op activity, one more no-op activity) on the same server, ' +
          `same closed loop, same worker settings. ${o.rounds} rounds each, taking turns. Closed loop, no reminders, ` +
          'no countersignature. signflow / floor above 1 = signflow slower or costlier; for contracts/s it is the ' +
          "share of the floor's throughput reached. With the cores saturated it follows the inverse of the ratio of " +
          'all CPU per contract, the steadier figure of a single run. The CPU split comes from a separate profiled ' +
          `pass of ${o.profile} contracts each (V8 sampling profile of the main thread, idle excluded: each kind's share of ` +
          "the samples times the main thread's CPU time from /proc)."
      );
      out();
      out(throughputTable(results, o));
      out();
      out('## 2. Per-activity latency (signflow)');
      out();
      out(
        'From the histories of the measured contracts: run = ActivityTaskStarted → Completed (worker execution plus one ' +
          'round trip to the server), queued = Scheduled → Started. Milliseconds.'
      );
      out();
      out(activityTable(signflowOnly));
      out();
      out(renderTable(render, signflowOnly));
      out();
    }

    if (o.scenarios.includes('countersign')) {
      progress(`countersign: ${o.qesContracts} contracts, batchSize ${o.qesBatch} vs 1`);
      const sim = await startKonnektorSimulator({
        adminPort: false,
        maxSessionsPerCard: 50,
        comfort: { max: 250 },
        // The card's signing is slow (per call and per document); the Konnektor's other answers are not.
        faults: {
          latencyMs: o.otherLatencyMs,
          operationLatencyMs: { SignDocument: o.latencyMs },
          perDocumentLatencyMs: o.perDocumentLatencyMs,
        },
      });
      cleanup.add('Konnektor simulator', () => sim.close());
      const konnektor = clientFor(sim, { maxRequestsPerCall: 50 });
      cleanup.add('Konnektor client', async () => konnektor.close());
      const kind = dbs[0] as BenchDb;
      const stack = await stackFor(kind, {
        konnektor,
        config: {
          konnektor: {
            enabled: true,
            sdsUrl: sim.sdsUrl,
            serverFingerprint: sim.fingerprint,
            batchSize: o.qesBatch,
            recheckInterval: '5m',
          },
        },
      });
      const deps = { stack, sim, konnektor };
      if (o.qesWarmup > 0) await runCountersignVariant(deps, o.qesBatch, o.qesWarmup);
      const batched = await runCountersignVariant(deps, o.qesBatch, o.qesContracts);
      progress('countersign: batchSize 1');
      const single = await runCountersignVariant(deps, 1, o.qesContracts);
      await stack.stop();
      out('## 3. QES countersigning: batched vs one document per call');
      out();
      out(
        `${o.qesContracts} contracts signed at once with the comfort signature off: their countersignature requests ` +
          `queue at the eHBA's parked signing workflow (\`qesCountersigner\`). When every contract has been told why it ` +
          `waits and the signer is idle (as when the card holder enters the PIN after the staff mail), a comfort ` +
          `session is activated and the signer told; the card-bound span runs from there to the last contract ` +
          `completed (countersignature stored, confirmation mail sent). Konnektor simulator: ${o.latencyMs} ms per SignDocument call + ` +
          `${o.perDocumentLatencyMs} ms per document, the card signing one call at a time; other SOAP calls ` +
          `${o.otherLatencyMs} ms (${kind}).`
      );
      out();
      out(countersignTable(batched, single, o));
      out();
    }
    out(`Run took ${((Date.now() - t0) / 1000).toFixed(0)} s; load average at the end: ${loadAverage()}.`);
  } finally {
    clearTimeout(deadline);
    if (!stopping) {
      stopping = true;
      progress('stopping everything');
    }
    // After an abort too: the process must not exit on the run's own failure before everything is stopped.
    await cleanup.run();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  }
);
