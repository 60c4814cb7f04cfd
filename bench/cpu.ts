/**
 * CPU time spent during a measured window: this process (worker, activities, the benchmark's client and SMTP inbox
 * share it) and the Temporal dev server (from /proc, Linux only). CPU per contract against the wall clock tells
 * whether a run was CPU-bound on this machine.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let ticksPerSecond: number | undefined;

/** Clock ticks per second, the unit of /proc's CPU times. */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of `pid` in ms, or NaN when /proc cannot tell. */
function processCpuMs(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  return statCpuMs(`/proc/${pid}/stat`);
}

/**
 * CPU of this process's main thread alone (the event loop: activities, the SDK's JavaScript, the driver), ms; NaN when
 * /proc cannot tell. The main thread's task id is the process id. In clock ticks (10 ms each, usually).
 */
export function mainThreadCpuMs(): number {
  return statCpuMs(`/proc/self/task/${process.pid}/stat`);
}

function statCpuMs(file: string): number {
  try {
    // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
    const stat = fs.readFileSync(file, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / clockTicks()) * 1000;
  } catch {
    return Number.NaN;
  }
}

export interface CpuWindow {
  /** This process, ms of CPU. */
  selfMs: number;
  /** The Temporal server, ms of CPU (NaN off Linux). */
  serverMs: number;
  /** The database server (mariadbd) when it runs on this machine, ms of CPU; NaN for SQLite or a remote server. */
  dbServerMs: number;
}

/** Starts a window; the returned function ends it. */
export function cpuWindow(serverPid: number | undefined, dbServerPid?: number): () => CpuWindow {
  const self = process.cpuUsage();
  const server = processCpuMs(serverPid);
  const dbServer = processCpuMs(dbServerPid);
  return () => {
    const d = process.cpuUsage(self);
    return {
      selfMs: (d.user + d.system) / 1000,
      serverMs: processCpuMs(serverPid) - server,
      dbServerMs: processCpuMs(dbServerPid) - dbServer,
    };
  };
}

/**
 * The pid of the process on this machine that listens on TCP `port` of a loopback `host` (the database server of a
 * `mysql://127.0.0.1:3306/` URL): the socket's inode from /proc/net/tcp and tcp6, then the process holding it. Undefined
 * for another host, or when /proc does not tell (not Linux, another user's process without the right to look).
 */
export function loopbackListenerPid(host: string, port: number): number | undefined {
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) return undefined;
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    // sl local_address rem_address st … inode: local_address is HEXIP:HEXPORT, st 0A is LISTEN, the inode is field 10.
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length > 9 && c[3] === '0A' && parseInt(c[1]?.split(':')[1] ?? '', 16) === port) inodes.add(c[9] as string);
    }
  }
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1] as string)) return Number(pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}
