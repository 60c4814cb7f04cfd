/**
 * Where this process's CPU goes, by kind of work: a V8 sampling profile of the main thread while contracts run, each
 * sample charged to the innermost frame that belongs to a known part (so a knex call inside an activity counts as
 * database, a Handlebars call inside the mail activity as mail). Threads the profiler does not see (the workflow
 * sandbox threads, Temporal's Rust core, libuv's pool, GC helpers) are what the process used beyond the profile.
 */
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';

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

/**
 * Starts sampling the main thread; the returned function stops and gives ms of CPU per kind (idle excluded), and
 * writes the whole profile to `file` when given (open it in Chrome DevTools, or read it for the functions by name).
 */
export async function startCpuProfile(file?: string): Promise<() => Promise<Record<CpuKind, number>>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 1000 });
  await session.post('Profiler.start');
  return async () => {
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
    const out = Object.fromEntries(CPU_KINDS.map((k) => [k, 0])) as Record<CpuKind, number>;
    const samples = profile.samples ?? [];
    const deltas = profile.timeDeltas ?? [];
    for (let i = 0; i < samples.length; i++) {
      // A sample's time is the delta to the next sample.
      const dt = (deltas[i + 1] ?? 0) / 1000;
      const kind = resolve(samples[i] as number);
      if (kind) out[kind] += dt;
    }
    return out;
  };
}
