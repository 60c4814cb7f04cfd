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
}

/** Starts a window; the returned function ends it. */
export function cpuWindow(serverPid: number | undefined): () => CpuWindow {
  const self = process.cpuUsage();
  const server = processCpuMs(serverPid);
  return () => {
    const d = process.cpuUsage(self);
    return { selfMs: (d.user + d.system) / 1000, serverMs: processCpuMs(serverPid) - server };
  };
}
