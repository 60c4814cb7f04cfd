/**
 * The dev stack's Temporal server outlives a stack that dies hard (`kill -9`): it runs in its own process group, so
 * that a Ctrl-C reaches only the stack, which stops it last. Its pid is kept in `<dataDir>/temporal.pid.json` with the
 * pid of the stack that owns it; the next start finds an orphan there and stops it before starting its own server.
 *
 * Stopping instead of reusing: an orphan has lost the process that started it (its Web UI may point at another codec
 * endpoint, and a server from before this file existed writes its log into a pipe nobody reads any more and dies on
 * the next line it logs). A fresh server on the same state file costs a few seconds and is ours.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const TEMPORAL_PID_FILE = 'temporal.pid.json';

export interface TemporalPidRecord {
  /** The Temporal CLI's process (leader of its own process group). */
  pid: number;
  /** The dev stack process that started it and stops it. */
  ownerPid: number;
  /** host:port of its frontend. */
  address: string;
  /** Its state file (`--db-filename`): how a process is recognised as this data folder's server. */
  dbFile: string;
  startedAt: string;
}

const pidFile = (dataDir: string): string => path.join(dataDir, TEMPORAL_PID_FILE);

export function writeTemporalPidFile(dataDir: string, record: TemporalPidRecord): void {
  fs.writeFileSync(pidFile(dataDir), `${JSON.stringify(record, null, 2)}\n`);
}

export function readTemporalPidFile(dataDir: string): TemporalPidRecord | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(pidFile(dataDir), 'utf8')) as Partial<TemporalPidRecord>;
    if (!Number.isSafeInteger(parsed.pid) || !Number.isSafeInteger(parsed.ownerPid) || !parsed.dbFile) return undefined;
    return parsed as TemporalPidRecord;
  } catch {
    return undefined;
  }
}

/** Removes the file, but only while it still names `pid` (a later stack may have written its own). */
export function removeTemporalPidFile(dataDir: string, pid: number): void {
  if (readTemporalPidFile(dataDir)?.pid === pid) fs.rmSync(pidFile(dataDir), { force: true });
}

/**
 * True while `pid` runs. A zombie (exited, not yet reaped) counts as gone: `kill(pid, 0)` still succeeds on one, and
 * where PID 1 does not reap orphans (many containers) a stack killed with `kill -9` stays a zombie for good, so the
 * next start would take it for a running stack and refuse, or wait forever for its server to go.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** The process state letter (`Z` zombie, `X` gone, …): `/proc/<pid>/stat` on Linux, `ps -o stat=` elsewhere (macOS). */
export function processState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ")".
    return stat.slice(stat.lastIndexOf(')') + 2).charAt(0) || undefined;
  } catch {
    // Gone since kill(pid, 0) on Linux ("X": dead); no /proc at all: ask ps.
    if (fs.existsSync('/proc/self/stat')) return 'X';
  }
  try {
    return (
      execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' })
        .trim()
        .charAt(0) || undefined
    );
  } catch {
    return undefined;
  }
}

function isZombie(pid: number): boolean {
  const state = processState(pid);
  return state === 'Z' || state === 'X';
}

/** The command line of a running process (`ps` works on Linux and macOS alike), or undefined when it is gone. */
function commandLine(pid: number): string | undefined {
  try {
    return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when `record.pid` still runs and is a Temporal dev server on this data folder's state file: a pid reused by an
 * unrelated process since is never touched.
 */
export function isOurTemporalServer(record: TemporalPidRecord): boolean {
  if (!isAlive(record.pid)) return false;
  const cmd = commandLine(record.pid);
  return cmd !== undefined && cmd.includes('start-dev') && cmd.includes(record.dbFile);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SIGTERM to the server's process group, SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopTemporalServer(pid: number, graceMs = 10_000): Promise<void> {
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  signal('SIGTERM');
  const killAt = Date.now() + graceMs;
  while (isAlive(pid)) {
    if (Date.now() > killAt) signal('SIGKILL');
    await sleep(100);
  }
}

export type OrphanCheck =
  | { kind: 'none' }
  | { kind: 'stopped'; pid: number }
  | { kind: 'owned-by-running-stack'; pid: number; ownerPid: number };

/**
 * Looks at the pid file before a start: an orphan of a dead stack on this data folder is stopped; a server whose
 * stack still runs is left alone (the caller refuses to start a second stack on the same folder).
 */
export async function stopOrphanedTemporalServer(dataDir: string): Promise<OrphanCheck> {
  const record = readTemporalPidFile(dataDir);
  if (!record) return { kind: 'none' };
  if (!isOurTemporalServer(record)) {
    fs.rmSync(pidFile(dataDir), { force: true });
    return { kind: 'none' };
  }
  if (record.ownerPid !== process.pid && isAlive(record.ownerPid)) {
    return { kind: 'owned-by-running-stack', pid: record.pid, ownerPid: record.ownerPid };
  }
  await stopTemporalServer(record.pid);
  removeTemporalPidFile(dataDir, record.pid);
  return { kind: 'stopped', pid: record.pid };
}
