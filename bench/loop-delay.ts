/**
 * Event-loop delay over several separate windows (a subject's rounds). `monitorEventLoopDelay` cannot be paused: its
 * first sample after `enable()` again spans the whole time it was disabled (Node keeps the last sample's time), so a
 * subject's second round reported the other subject's round in between as one stall of seconds. This samples the
 * same way (a 10 ms timer, the lateness of each tick) only while a window is open, into one histogram.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

const RESOLUTION_MS = 10;

export interface LoopDelay {
  /** Opens a window; the first tick measures from here, not from the last window. */
  start(): void;
  stop(): void;
  /** Delays in ns, as `monitorEventLoopDelay` gives them. */
  readonly histogram: RecordableHistogram;
}

export function loopDelay(): LoopDelay {
  const histogram = createHistogram();
  let timer: NodeJS.Timeout | undefined;
  return {
    histogram,
    start() {
      if (timer) return;
      let last = performance.now();
      timer = setInterval(() => {
        const now = performance.now();
        histogram.record(Math.max(1, Math.round((now - last - RESOLUTION_MS) * 1e6)));
        last = now;
      }, RESOLUTION_MS);
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
