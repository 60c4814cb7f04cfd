/**
 * Recording workflow histories for the replay test (test/replay): with SIGNFLOW_RECORD_HISTORIES=1 the tests that
 * call this write the finished history to test/histories/<name>.json. Re-record only on purpose: the stored files are
 * what running workflows in production look like, and the replay test keeps new code compatible with them.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORY_DIR = path.resolve(__dirname, '..', 'histories');
const RECORD = process.env.SIGNFLOW_RECORD_HISTORIES === '1';

/**
 * Writes `<name>.json` unless it exists: a stored history is what a workflow started by an older version of the code
 * looks like, so recording again never replaces it (record a new branch or version under a new name instead). Running
 * a whole test file with the variable set therefore adds only the histories that are missing.
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (!RECORD) return;
  const file = path.join(HISTORY_DIR, `${name}.json`);
  if (fs.existsSync(file)) return;
  const history = await handle.fetchHistory();
  fs.mkdirSync(HISTORY_DIR, { recursive: true });
  fs.writeFileSync(file, historyToJSON(history), { flag: 'wx' });
}
