/**
 * Scenario 1 (and the data for 2): contracts end to end, signflow beside the bare floor workflow. A closed loop
 * keeps `concurrency` contracts in flight. The subjects take turns in rounds (A B, B A, A B, …) so that the shared
 * machine's noise hits both; their figures are summed over their rounds and compared from the same run.
 */
import { meanCounts, type ActionCounts } from './actions';
import { threadLabels, threadTicks } from './threads';
import { cpuWindow, type CpuWindow } from './cpu';
import { stepTimings, type StepTiming } from './history';
import path from 'node:path';
import { startCpuProfile, type CpuKind } from './profile';
import { loopDelay, type LoopDelay } from './loop-delay';
import { mapLimit } from './stack';
import type { ContractTiming, Subject, SubjectItem } from './subject';

export type { ContractTiming } from './subject';

export interface ThroughputResult {
  contracts: ContractTiming[];
  /** Sum over the subject's rounds of first start → last completion, ms. */
  wallMs: number;
  contractsPerSecond: number;
  /** contracts/s of each round, in order. */
  perRound: number[];
  steps: StepTiming[];
  /** CPU used while the subject's measured rounds ran. */
  cpu: CpuWindow;
  /** SQL statements the subject's pool sent in its measured rounds (transaction begin/commit included); NaN = none. */
  sqlStatements: number;
  /** Event-loop delay of this process (activities run on its main thread) during the subject's rounds, ms. */
  eventLoopDelay: { p50: number; p99: number; max: number };
  /** History events and billable actions, mean per contract. */
  counts: ActionCounts;
  /** Largest resident set of this process sampled during the subject's rounds, MiB. */
  rssMaxMiB: number;
  /** Main-thread CPU by kind from a separate profiled pass, ms per contract; with the process's total in it. */
  cpuSplit?: { perKind: Record<CpuKind, number>; processMs: number; mainThreadMs: number; contracts: number };
  /** The same path one contract at a time before the loaded rounds: the latency without queueing. */
  alone: { contracts: ContractTiming[]; steps: StepTiming[] };
}

export interface ThroughputOptions {
  contracts: number;
  concurrency: number;
  warmup: number;
  alone: number;
  rounds: number;
  /** Contracts per subject in the profiled pass (0 = none). */
  profile: number;
  serverPid?: number;
  /** The database server's process when it runs on this machine (MariaDB), for its CPU per contract. */
  dbServerPid?: number;
  /** Write each subject's profile to `<dir>/<prefix><subject>.cpuprofile`. */
  cpuprofile?: { dir: string; prefix: string };
}

interface Acc {
  contracts: ContractTiming[];
  items: SubjectItem[];
  wallMs: number;
  perRound: number[];
  cpu: CpuWindow;
  sql: number;
  loop: LoopDelay;
  rss: number;
}

export async function runThroughput(
  subjects: Subject[],
  opts: ThroughputOptions
): Promise<Map<string, ThroughputResult>> {
  const run = (s: Subject, items: SubjectItem[], limit: number) => mapLimit(items, limit, (c) => s.one(c));
  for (const s of subjects) if (opts.warmup > 0) await run(s, await s.add(opts.warmup), opts.concurrency);
  const alone = new Map<string, { items: SubjectItem[]; contracts: ContractTiming[] }>();
  for (const s of subjects) {
    const items = await s.add(opts.alone);
    alone.set(s.name, { items, contracts: await run(s, items, 1) });
  }
  const acc = new Map<string, Acc>(
    subjects.map((s) => [
      s.name,
      {
        contracts: [],
        items: [],
        wallMs: 0,
        perRound: [],
        cpu: { selfMs: 0, serverMs: 0, dbServerMs: 0 },
        sql: s.sql ? 0 : Number.NaN,
        loop: loopDelay(),
        rss: 0,
      },
    ])
  );
  const threadAcc = new Map<string, number>();
  const perRound = Math.max(1, Math.floor(opts.contracts / opts.rounds));
  for (let r = 0; r < opts.rounds; r++) {
    const order = r % 2 === 0 ? subjects : [...subjects].reverse();
    for (const s of order) {
      const a = acc.get(s.name) as Acc;
      const items = await s.add(perRound);
      s.sql?.on();
      const rssTimer = setInterval(() => (a.rss = Math.max(a.rss, process.memoryUsage.rss())), 200);
      a.loop.start();
      const cpu = cpuWindow(opts.serverPid, opts.dbServerPid);
      const tt0 = threadTicks();
      const t0 = performance.now();
      const contracts = await run(s, items, opts.concurrency);
      const wall = performance.now() - t0;
      const used = cpu();
      for (const [tid, t] of threadTicks()) {
        const d = t - (tt0.get(tid) ?? 0);
        if (d > 0) threadAcc.set(`${s.name} ${tid}`, (threadAcc.get(`${s.name} ${tid}`) ?? 0) + d);
      }
      a.loop.stop();
      clearInterval(rssTimer);
      a.rss = Math.max(a.rss, process.memoryUsage.rss());
      if (s.sql) a.sql += s.sql.off();
      a.contracts.push(...contracts);
      a.items.push(...items);
      a.wallMs += wall;
      a.perRound.push((items.length / wall) * 1000);
      a.cpu.selfMs += used.selfMs;
      a.cpu.serverMs += used.serverMs;
      a.cpu.dbServerMs += used.dbServerMs;
    }
  }
  for (const s of subjects) {
    const n = (acc.get(s.name) as Acc).items.length;
    const rows = [...threadAcc]
      .filter(([k]) => k.startsWith(`${s.name} `))
      .map(([k, t]) => {
        const tid = Number(k.split(' ')[1]);
        return { tid, label: tid === process.pid ? 'main' : (threadLabels.get(tid) ?? '-'), ms: t / n };
      })
      .sort((x, y) => y.ms - x.ms);
    console.error(
      `[threads] ${s.name} ${n} contracts, ms/contract: ` +
        rows.map((r) => `${r.label}(${r.tid})=${r.ms.toFixed(2)}`).join(' ') +
        ` | total=${rows.reduce((x, r) => x + r.ms, 0).toFixed(1)}`
    );
  }
  const split = new Map<string, ThroughputResult['cpuSplit']>();
  if (opts.profile > 0) {
    for (const s of subjects) {
      const items = await s.add(opts.profile);
      const file = opts.cpuprofile && path.join(opts.cpuprofile.dir, `${opts.cpuprofile.prefix}${s.name}.cpuprofile`);
      const stop = await startCpuProfile(file);
      const cpu = cpuWindow(undefined);
      await run(s, items, opts.concurrency);
      const processMs = cpu().selfMs;
      const { perKind, mainThreadMs } = await stop();
      for (const k of Object.keys(perKind) as CpuKind[]) perKind[k] /= items.length;
      split.set(s.name, {
        perKind,
        processMs: processMs / items.length,
        mainThreadMs: mainThreadMs / items.length,
        contracts: items.length,
      });
    }
  }
  // After the clocks stopped: reading the histories costs nothing measured.
  const out = new Map<string, ThroughputResult>();
  for (const s of subjects) {
    const a = acc.get(s.name) as Acc;
    const histories = await mapLimit(a.items, 4, (i) => s.history(i));
    const al = alone.get(s.name) as { items: SubjectItem[]; contracts: ContractTiming[] };
    const aloneHistories = await mapLimit(al.items, 4, (i) => s.history(i));
    out.set(s.name, {
      contracts: a.contracts,
      wallMs: a.wallMs,
      contractsPerSecond: (a.contracts.length / a.wallMs) * 1000,
      perRound: a.perRound,
      steps: histories.flatMap(stepTimings),
      cpu: a.cpu,
      sqlStatements: a.sql,
      eventLoopDelay: {
        p50: a.loop.histogram.percentile(50) / 1e6,
        p99: a.loop.histogram.percentile(99) / 1e6,
        max: a.loop.histogram.max / 1e6,
      },
      counts: meanCounts(histories),
      rssMaxMiB: a.rss / 2 ** 20,
      cpuSplit: split.get(s.name),
      alone: { contracts: al.contracts, steps: aloneHistories.flatMap(stepTimings) },
    });
  }
  return out;
}
