/**
 * Where a process's resident memory is, from /proc (Linux): smaps_rollup (anonymous vs file-backed), the mappings of
 * smaps grouped by what they are, and the process's threads. Used by the waiting bench (bench/waiting.ts) to say which
 * part of the worker grows while thousands of contracts wait.
 *
 * glibc's thread arenas are recognisable: each is a 64 MiB-aligned anonymous reservation (HEAP_MAX_SIZE on 64-bit)
 * whose used part is read-write and whose rest is `---p`. Every other anonymous mapping is V8's heaps (every isolate:
 * main thread, workflow thread, PDF threads), large malloc blocks (mmap'd above M_MMAP_THRESHOLD) and thread stacks.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface MemoryParts {
  rss: number;
  anonymous: number;
  fileBacked: number;
  /** glibc main arena (`[heap]`, brk). */
  brkHeap: number;
  /** glibc thread arenas (64 MiB reservations), and how many. */
  arenas: number;
  arenaCount: number;
  /** Other anonymous mappings: V8 heaps of all isolates, mmap'd malloc blocks, stacks. */
  otherAnonymous: number;
  /** RSS of file-backed mappings by file (the largest few), e.g. the node binary, Temporal's core bridge. */
  files: Array<[string, number]>;
  threads: number;
  /** Thread names (comm) and how many of each. */
  threadNames: Array<[string, number]>;
}

const ARENA = 64 * 1024 * 1024;

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  name: string;
  rss: number;
  anonymous: number;
}

function parseSmaps(text: string): Mapping[] {
  const maps: Mapping[] = [];
  let cur: Mapping | undefined;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      cur = {
        start: BigInt(`0x${head[1]}`),
        end: BigInt(`0x${head[2]}`),
        perms: head[3]!,
        name: head[4]!.trim(),
        rss: 0,
        anonymous: 0,
      };
      maps.push(cur);
      continue;
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (field && cur) {
      if (field[1] === 'Rss') cur.rss = Number(field[2]) * 1024;
      else cur.anonymous = Number(field[2]) * 1024;
    }
  }
  return maps;
}

/** The memory of `pid` by part; undefined where /proc cannot tell (not Linux). */
export function memoryParts(pid: number = process.pid): MemoryParts | undefined {
  let smaps: string;
  try {
    smaps = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return undefined;
  }
  const maps = parseSmaps(smaps);
  const parts: MemoryParts = {
    rss: 0,
    anonymous: 0,
    fileBacked: 0,
    brkHeap: 0,
    arenas: 0,
    arenaCount: 0,
    otherAnonymous: 0,
    files: [],
    threads: 0,
    threadNames: [],
  };
  const files = new Map<string, number>();
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i]!;
    parts.rss += m.rss;
    parts.anonymous += m.anonymous;
    if (m.name.startsWith('/')) {
      parts.fileBacked += m.rss - m.anonymous;
      const file = path.basename(m.name);
      files.set(file, (files.get(file) ?? 0) + m.rss);
      continue;
    }
    if (m.name === '[heap]') {
      parts.brkHeap += m.rss;
      continue;
    }
    const next = maps[i + 1];
    const isArena =
      m.name === '' &&
      m.perms.startsWith('rw') &&
      m.start % BigInt(ARENA) === 0n &&
      (m.end - m.start === BigInt(ARENA) ||
        (next !== undefined &&
          next.name === '' &&
          next.perms.startsWith('---') &&
          next.start === m.end &&
          next.end - m.start === BigInt(ARENA)));
    if (isArena) {
      parts.arenas += m.rss;
      parts.arenaCount++;
    } else if (m.name === '' || m.name.startsWith('[anon') || m.name.startsWith('[stack')) {
      parts.otherAnonymous += m.rss;
    }
  }
  parts.files = [...files.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
  try {
    const names = new Map<string, number>();
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const comm = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      names.set(comm, (names.get(comm) ?? 0) + 1);
      parts.threads++;
    }
    parts.threadNames = [...names.entries()].sort((a, b) => b[1] - a[1]);
  } catch {
    // The process ended meanwhile: no thread figures.
  }
  return parts;
}
