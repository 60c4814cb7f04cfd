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

export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (!RECORD) return;
  const history = await handle.fetchHistory();
  fs.mkdirSync(HISTORY_DIR, { recursive: true });
  fs.writeFileSync(path.join(HISTORY_DIR, `${name}.json`), historyToJSON(history));
}
