/**
 * Recording workflow histories for the replay test (test/replay): with SIGNFLOW_RECORD_HISTORIES=1 the tests that
 * call this write the finished history to test/histories/<name>.json. Re-record only on purpose: the stored files are
 * what running workflows in production look like, and the replay test keeps new code compatible with them.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORY_DIR = path.resolve(__dirname, '..', 'histories');
const RECORD = process.env.SIGNFLOW_RECORD_HISTORIES === '1';

/**
 * Writes `<name>.json` unless it exists: a stored history is what a workflow started by an older version of the code
 * looks like, so recording again never replaces it (record a new branch or version under a new name instead). Running
 * a whole test file with the variable set therefore adds only the histories that are missing.
 */
export async function recordHistory(handle: WorkflowHandle, name: string, codec?: PayloadCodec): Promise<void> {
  if (!RECORD) return;
  const file = path.join(HISTORY_DIR, `${name}.json`);
  if (fs.existsSync(file)) return;
  const history = await handle.fetchHistory();
  let json = historyToJSON(history);
  if (codec) json = JSON.stringify(await decodePayloads(JSON.parse(json) as unknown, codec), null, 2);
  fs.mkdirSync(HISTORY_DIR, { recursive: true });
  fs.writeFileSync(file, json, { flag: 'wx' });
}

/**
 * Every payload of a history in its JSON form (`{ metadata: { k: base64 }, data: base64 }`) through `codec.decode`:
 * a history recorded from a stack with payload encryption (the dev stack) replays without its key.
 */
async function decodePayloads(node: unknown, codec: PayloadCodec): Promise<unknown> {
  if (Array.isArray(node)) return Promise.all(node.map((n) => decodePayloads(n, codec)));
  if (typeof node !== 'object' || node === null) return node;
  const o = node as Record<string, unknown>;
  if (typeof o.metadata === 'object' && o.metadata !== null && 'encoding' in o.metadata) {
    const metadata = Object.fromEntries(
      Object.entries(o.metadata as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64')])
    );
    const payload: Payload = { metadata, data: Buffer.from(typeof o.data === 'string' ? o.data : '', 'base64') };
    const [decoded] = await codec.decode([payload]);
    return {
      metadata: Object.fromEntries(
        Object.entries(decoded?.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])
      ),
      data: Buffer.from(decoded?.data ?? new Uint8Array()).toString('base64'),
    };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = await decodePayloads(v, codec);
  return out;
}
