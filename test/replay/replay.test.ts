/**
 * Replays every stored workflow history (recorded from end-to-end runs, see test/histories/README.md) against the
 * current workflow code. A change to the workflow that is not guarded by `patched()` makes this fail with a
 * non-determinism error before it can break a contract that is waiting in production.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../harness/temporal';

const HISTORY_DIR = path.resolve(__dirname, '..', 'histories');

function storedHistories(): Array<{ workflowId: string; history: unknown }> {
  return fs
    .readdirSync(HISTORY_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({
      workflowId: f.replace(/\.json$/, ''),
      history: JSON.parse(fs.readFileSync(path.join(HISTORY_DIR, f), 'utf8')),
    }));
}

test('the repo holds recorded histories to replay', () => {
  expect(storedHistories().length).toBeGreaterThan(0);
});

test('every stored history replays without non-determinism', async () => {
  const histories = storedHistories();
  const results = [];
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: await workflowBundle(), replayName: 'signflow-replay' },
    histories as Array<{ workflowId: string; history: never }>
  )) {
    results.push(result);
  }
  expect(results.map((r) => r.workflowId).sort()).toEqual(histories.map((h) => h.workflowId).sort());
  // Every failing history at once (file name → error), not only the first.
  const failures = Object.fromEntries(
    results.filter((r) => r.error).map((r) => [r.workflowId, String(r.error).slice(0, 400)])
  );
  expect(failures).toEqual({});
}, 120_000);
