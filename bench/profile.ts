/**
 * Where this process's CPU goes, by kind of work: a V8 sampling profile of the main thread while contracts run, each
 * sample charged to the innermost frame that belongs to a known part (so a knex call inside an activity counts as
 * database, a Handlebars call inside the mail activity as mail). Threads the profiler does not see (the workflow
 * sandbox threads, Temporal's Rust core, libuv's pool, GC helpers) are what the process used beyond the main thread.
 *
 * V8 takes a sample on a wall-clock timer whenever the thread is not idle, also while it waits inside a native call or
 * is not scheduled on a busy machine, and gives each sample the time to the next one. Weighted by that time, a sample
 * taken just before a stall carries the stall: on the shared 2-core machine the main thread's samples added up to more
 * than its CPU, and the stalls landed mostly in the Temporal bridge's native calls (perf's CPU clock put the SDK's
 * main-thread CPU at the floor's while the weighted samples said twice). So the kinds are shares of the sample count,
 * scaled to the main thread's CPU time that /proc reports; only where /proc cannot tell, the weighted time.
 */
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { mainThreadCpuMs } from './cpu';

export const CPU_KINDS = [
  'documents (PDF, fonts, HTML)',
  'mail (templates, SMTP client)',
  'database (knex, drivers)',
  'codec + payload conversion',
  'Temporal SDK (client, worker)',
  'signflow activities, other',
  'bench driver + SMTP inbox',
  'other JS (node internals, GC)',
] as const;
export type CpuKind = (typeof CPU_KINDS)[number];

/** The first rule that matches a frame's script URL names its kind; order matters (inbox before mail). */
const RULES: [RegExp, CpuKind][] = [
  [/\/bench\/|\/mail\/dev-inbox|smtp-server|mailparser|libmime|libqp|libbase64/, 'bench driver + SMTP inbox'],
  [
    /\/documents\/|pdfkit|fontkit|@signpdf|pngjs|node-forge|restructure|linebreak|unicode-/,
    'documents (PDF, fonts, HTML)',
  ],
  [/\/mail\/|\/templates\/|nodemailer|handlebars/, 'mail (templates, SMTP client)'],
  [/\/db\/|knex|better-sqlite3|mysql2|tarn|sqlstring|lru-cache|denque/, 'database (knex, drivers)'],
  [/\/codec\/|protobufjs|@temporalio\/common\/lib\/converter|@temporalio\/proto/, 'codec + payload conversion'],
  [/@temporalio\//, 'Temporal SDK (client, worker)'],
  [/\/activities\/|\/webhooks\/|\/domain\/|\/metrics\//, 'signflow activities, other'],
];

interface ProfileNode {
  id: number;
  callFrame: { url: string; functionName: string };
  children?: number[];
}

function kindOf(url: string): CpuKind | undefined {
  if (!url) return undefined;
  for (const [re, kind] of RULES) if (re.test(url)) return kind;
  return undefined;
}

export interface CpuProfileResult {
  /** ms of the main thread's CPU per kind (idle excluded). */
  perKind: Record<CpuKind, number>;
  /** The main thread's CPU over the profile, ms (NaN where /proc cannot tell: then `perKind` is weighted time). */
  mainThreadMs: number;
}

/**
 * Starts sampling the main thread; the returned function stops and gives ms of CPU per kind (idle excluded), and
 * writes the whole profile to `file` when given (open it in Chrome DevTools, or read it for the functions by name).
 */
export async function startCpuProfile(file?: string): Promise<() => Promise<CpuProfileResult>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 1000 });
  await session.post('Profiler.start');
  // After the start, which walks every compiled function of the process (tens of ms in the worker's process).
  const mainAtStart = mainThreadCpuMs();
  return async () => {
    const mainThreadMs = mainThreadCpuMs() - mainAtStart;
    const { profile } = (await session.post('Profiler.stop')) as unknown as {
      profile: { nodes: ProfileNode[]; samples?: number[]; timeDeltas?: number[] };
    };
    session.disconnect();
    if (file) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify(profile));
    }
    const parent = new Map<number, number>();
    const byId = new Map<number, ProfileNode>();
    for (const n of profile.nodes) {
      byId.set(n.id, n);
      for (const c of n.children ?? []) parent.set(c, n.id);
    }
    const kindCache = new Map<number, CpuKind | null>();
    const resolve = (id: number): CpuKind | null => {
      const cached = kindCache.get(id);
      if (cached !== undefined) return cached;
      const node = byId.get(id);
      const name = node?.callFrame.functionName ?? '';
      let kind: CpuKind | null;
      if (name === '(idle)') kind = null;
      else {
        const own = kindOf(node?.callFrame.url ?? '');
        const up = parent.get(id);
        kind = own ?? (up === undefined ? 'other JS (node internals, GC)' : resolve(up));
      }
      kindCache.set(id, kind);
      return kind;
    };
    const weighted = Object.fromEntries(CPU_KINDS.map((k) => [k, 0])) as Record<CpuKind, number>;
    const counted = Object.fromEntries(CPU_KINDS.map((k) => [k, 0])) as Record<CpuKind, number>;
    let busySamples = 0;
    const samples = profile.samples ?? [];
    const deltas = profile.timeDeltas ?? [];
    for (let i = 0; i < samples.length; i++) {
      const kind = resolve(samples[i] as number);
      if (!kind) continue;
      // A sample's time is the delta to the next sample.
      weighted[kind] += (deltas[i + 1] ?? 0) / 1000;
      counted[kind] += 1;
      busySamples += 1;
    }
    if (!(mainThreadMs > 0) || busySamples === 0) return { perKind: weighted, mainThreadMs: Number.NaN };
    for (const k of CPU_KINDS) counted[k] = (counted[k] / busySamples) * mainThreadMs;
    return { perKind: counted, mainThreadMs };
  };
}
