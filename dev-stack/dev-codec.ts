/**
 * Payload encryption in the dev stack: the dev codec key is made once and kept in `<dataDir>/codec-keys.json`, so
 * histories written before a restart still decrypt after it (a new key per start would make every old workflow
 * unreadable, and its replay fail). Keys from the environment (`SIGNFLOW_CODEC_KEYS`) win over the file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CODEC_KEY_BYTES, decodeCodecKey, type CodecKeyConfig } from '../codec/codec-config';

/** The codec server's bearer token in dev (public on purpose, like the API's dev tokens; loopback only). */
export const DEV_CODEC_TOKEN = 'dev-codec-token-000000000';

export const DEV_CODEC_KEYS_FILE = 'codec-keys.json';

export interface DevCodecKeys {
  keys: CodecKeyConfig[];
  currentKeyId: string;
  /** The file the keys live in. */
  file: string;
  /** True when this call made the key (first start on this data folder). */
  created: boolean;
}

function readKeysFile(file: string): DevCodecKeys {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not readable as JSON (${(err as Error).message}); delete it only together with the data`);
  }
  const p = parsed as { keys?: unknown; currentKeyId?: unknown };
  const keys = Array.isArray(p.keys) ? (p.keys as CodecKeyConfig[]) : [];
  const currentKeyId = typeof p.currentKeyId === 'string' ? p.currentKeyId : keys[0]?.id;
  if (keys.length === 0 || currentKeyId === undefined || !keys.some((k) => k.id === currentKeyId)) {
    throw new Error(`${file}: expected { "keys": [{ "id", "key" }], "currentKeyId" }`);
  }
  for (const key of keys) decodeCodecKey(key);
  return { keys, currentKeyId, file, created: false };
}

/**
 * The dev codec keys of this data folder: read from `<dataDir>/codec-keys.json`, or made (32 random bytes, id
 * `dev-<yyyymmdd>`) and written there with mode 0600 on the first start. To rotate in dev, add a key to the file and
 * point `currentKeyId` at it; keep the old one while old histories matter.
 */
export function loadOrCreateDevCodecKeys(dataDir: string, now: Date = new Date()): DevCodecKeys {
  const file = path.join(dataDir, DEV_CODEC_KEYS_FILE);
  if (fs.existsSync(file)) return readKeysFile(file);
  const id = `dev-${now.toISOString().slice(0, 10).replace(/-/g, '')}`;
  const keys = [{ id, key: randomBytes(CODEC_KEY_BYTES).toString('base64') }];
  fs.mkdirSync(dataDir, { recursive: true });
  // 'wx': two stacks starting on the same folder at once must not each write their own key.
  try {
    fs.writeFileSync(file, `${JSON.stringify({ keys, currentKeyId: id }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readKeysFile(file);
    throw err;
  }
  return { keys, currentKeyId: id, file, created: true };
}

/** `SIGNFLOW_CODEC_KEYS` text of the keys, for the CLI's environment file. */
export function codecKeysEnv(keys: CodecKeyConfig[]): string {
  return keys.map((k) => `${k.id}:${k.key}`).join(',');
}
