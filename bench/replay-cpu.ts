/**
 * CPU of the workflow sandbox alone: one stored history replayed many times (the contract's activations, without
 * server, database or activities), for quick before/after comparisons of workflow code or bundle settings. The SDK
 * replays in debug mode, on this process's main thread, so the main thread's CPU is the sandbox's plus the replay's
 * own bookkeeping (the same on both sides of a comparison).
 *
 *   node_modules/.bin/tsx bench/replay-cpu.ts [history.json] [copies] [bundle.js]
 *
 * Defaults: test/histories/lean-click-signed.generation-5.json, 200 copies (after an unmeasured 100), `workflows/`
 * bundled as the tests bundle it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { bundleWorkflowsToFile } from '../harness/temporal';
import { threadTicks } from './threads';

async function main(): Promise<void> {
  const file = process.argv[2] ?? 'test/histories/lean-click-signed.generation-5.json';
  const copies = Number(process.argv[3] ?? 200);
  const history = JSON.parse(fs.readFileSync(file, 'utf8'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-replay-cpu-'));
  try {
    const bundle = process.argv[4]
      ? { codePath: process.argv[4] }
      : await bundleWorkflowsToFile(require.resolve('../workflows'), dir);
    const replay = async (n: number, tag: string): Promise<number> => {
      const hs = Array.from({ length: n }, (_, i) => ({ workflowId: `${tag}-${i}`, history }));
      let failed = 0;
      for await (const r of Worker.runReplayHistories({ workflowBundle: bundle, replayName: tag }, hs as never)) {
        if (r.error) failed++;
      }
      return failed;
    };
    await replay(Math.min(copies, 100), 'warm');
    const t0 = threadTicks();
    const c0 = process.cpuUsage();
    const failed = await replay(copies, 'measure');
    const c = process.cpuUsage(c0);
    const rows = [...threadTicks()]
      .map(([tid, t]) => ({ tid, ms: (t - (t0.get(tid) ?? 0)) / copies }))
      .filter((r) => r.ms > 0)
      .sort((a, b) => b.ms - a.ms);
    console.log(
      `${path.basename(file)} x${copies}, ${failed} failed: process ${((c.user + c.system) / 1000 / copies).toFixed(2)} ` +
        `ms CPU per replay; threads: ` +
        rows.map((r) => `${r.tid === process.pid ? 'main' : r.tid}=${r.ms.toFixed(2)}`).join(' ')
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
void main().then(() => process.exit(0));
