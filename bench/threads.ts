/**
 * Per-thread CPU of this process from /proc/self/task (Linux): which threads a worker's creation started (its
 * workflow thread, `<subject>#0`), and their CPU during a window. Node names every thread `node`, so a thread is told
 * by when it was created, not by its name. Scenario 1 writes each subject's threads, ms CPU per contract over its
 * measured rounds, to stderr as a `[threads]` line (unlabelled: V8's helpers, the PDF threads, Temporal Core's).
 */
import fs from 'node:fs';
import { clockTicks } from './cpu';

/** utime + stime in ms by task id (in clock ticks: 10 ms steps, usually). */
export function threadTicks(): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[] = [];
  try {
    tids = fs.readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), ((Number(f[11]) + Number(f[12])) / clockTicks()) * 1000);
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** Threads started while `fn` ran, labelled `label` (kept in a process-wide registry). */
export const threadLabels = new Map<number, string>();
export async function labelNewThreads<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const before = new Set(threadTicks().keys());
  const r = await fn();
  let i = 0;
  for (const tid of threadTicks().keys()) if (!before.has(tid)) threadLabels.set(tid, `${label}#${i++}`);
  return r;
}
