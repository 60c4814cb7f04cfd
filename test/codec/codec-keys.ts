/** Test keys for the codec suites: fixed bytes, so a failing test prints the same ciphertext sizes every run. */
import type { CodecKeyConfig } from '../../codec/codec-config';

export function testKey(id: string, fill: number): CodecKeyConfig {
  return { id, key: Buffer.alloc(32, fill).toString('base64') };
}

export const KEY_2025 = testKey('k2025', 0x25);
export const KEY_2026 = testKey('k2026', 0x26);

/** `SIGNFLOW_CODEC_KEYS` text of the given keys. */
export function keysEnv(...keys: CodecKeyConfig[]): string {
  return keys.map((k) => `${k.id}:${k.key}`).join(',');
}
