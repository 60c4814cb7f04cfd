/**
 * Configuration of the payload codec (AES-256-GCM encryption of everything Temporal stores: inputs, results, signals,
 * updates, failure messages) and of the codec server the Temporal UI decodes through. Part of `temporal.config.ts`.
 *
 * Keys rotate without downtime: add the new key to `SIGNFLOW_CODEC_KEYS`, point `SIGNFLOW_CODEC_KEY_ID` at it, restart
 * workers and clients; payloads written with an older key still decode as long as that key stays in the list.
 */
import { z } from 'zod';

/** AES-256 needs exactly 32 key bytes. */
export const CODEC_KEY_BYTES = 32;

/** Key ids travel in every payload's metadata: short, printable, no separators of the env format. */
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

const ZCodecKey = z.object({
  /** Written into each encrypted payload's `encryption-key-id` header. */
  id: z.string().regex(KEY_ID_PATTERN, 'key id must be 1-64 characters of A-Z a-z 0-9 . _ -'),
  /** Standard base64 of 32 random bytes (`openssl rand -base64 32`). Never logged. */
  key: z.string(),
});

export type CodecKeyConfig = z.infer<typeof ZCodecKey>;

/** `id:base64key,id:base64key` → [{ id, key }]. Empty entries (a trailing comma) are ignored. */
export function parseCodecKeys(text: string): CodecKeyConfig[] {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const colon = entry.indexOf(':');
      // An entry without a colon becomes an invalid id/key pair, so the refinement below names it.
      return colon < 0
        ? { id: entry, key: '' }
        : { id: entry.slice(0, colon).trim(), key: entry.slice(colon + 1).trim() };
    });
}

/** Decodes a configured key; throws when it is not base64 of exactly 32 bytes. */
export function decodeCodecKey(key: CodecKeyConfig): Buffer {
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(key.key) ? Buffer.from(key.key, 'base64') : Buffer.alloc(0);
  if (bytes.length !== CODEC_KEY_BYTES) {
    throw new Error(`codec key "${key.id}" must be standard base64 of exactly ${CODEC_KEY_BYTES} bytes`);
  }
  return bytes;
}

/** A comma-separated env list or an array, as the other list settings. */
const ZStringList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s !== ''));

export const ZCodecConfig = z
  .object({
    /**
     * Encryption keys, `id:base64key,…` (env `SIGNFLOW_CODEC_KEYS`) or an array of `{ id, key }`. Each key is 32 random
     * bytes in standard base64. Empty = payloads are not encrypted (`createDataConverter` returns `undefined`).
     * @default [] (no encryption)
     */
    keys: z
      .union([z.string(), z.array(ZCodecKey)])
      .transform((v) => (typeof v === 'string' ? parseCodecKeys(v) : v))
      .pipe(z.array(ZCodecKey))
      .default([]),
    /**
     * Id of the key new payloads are encrypted with; every configured key still decrypts. Env `SIGNFLOW_CODEC_KEY_ID`.
     * Required when more than one key is configured.
     * @default the only key's id, when exactly one is configured
     */
    currentKeyId: z.string().optional(),
    server: z
      .object({
        /** Host the codec server binds to. Env `SIGNFLOW_CODEC_SERVER_HOST`. @default '127.0.0.1' */
        host: z.string().default('127.0.0.1'),
        /** Port of the codec server. Env `SIGNFLOW_CODEC_SERVER_PORT`. @default 8888 */
        port: z.coerce.number().int().min(0).max(65535).default(8888),
        /**
         * Bearer tokens accepted by the codec server (several, so a token can be rotated). At least 16 characters each.
         * Env `SIGNFLOW_CODEC_SERVER_TOKENS` (comma-separated). The server refuses to start without one. Never logged.
         * @default [] (server disabled)
         */
        tokens: ZStringList.pipe(
          z.array(z.string().min(16, 'codec server tokens need at least 16 characters'))
        ).default([]),
        /**
         * Browser origins allowed to call the codec server (CORS): the Temporal UI's. Requests carrying any other
         * `Origin` are refused. Env `SIGNFLOW_CODEC_CORS_ORIGINS` (comma-separated).
         * @default ['http://localhost:8233', 'http://127.0.0.1:8233'] (the dev server's UI under both loopback names)
         */
        corsOrigins: ZStringList.default(['http://localhost:8233', 'http://127.0.0.1:8233']),
        /**
         * Dev stack only: browser origins whose requests decode without a token or session (the dev Temporal UI, so
         * its codec needs no clicks; the dev token is public anyway). Never in production: any local process can send
         * an `Origin` header. Set by `npm run dev` for the UI it starts; no env variable on purpose.
         * @default [] (every request needs a token or a session)
         */
        trustedOrigins: z.array(z.string()).default([]),
        /**
         * Largest accepted request body, in bytes. The UI sends a whole history page's payloads at once, and a drawn
         * signature image alone may be 1 MiB before base64. Env `SIGNFLOW_CODEC_SERVER_MAX_BODY_BYTES`.
         * @default 8388608 (8 MiB)
         */
        maxBodyBytes: z.coerce
          .number()
          .int()
          .positive()
          .default(8 * 1024 * 1024),
      })
      .prefault({}),
  })
  .superRefine((codec, ctx) => {
    const seen = new Set<string>();
    codec.keys.forEach((key, index) => {
      if (seen.has(key.id))
        ctx.addIssue({ code: 'custom', path: ['keys', index], message: `duplicate key id "${key.id}"` });
      seen.add(key.id);
      try {
        decodeCodecKey(key);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['keys', index], message: (err as Error).message });
      }
    });
    if (codec.currentKeyId !== undefined && !seen.has(codec.currentKeyId)) {
      ctx.addIssue({
        code: 'custom',
        path: ['currentKeyId'],
        message: `SIGNFLOW_CODEC_KEY_ID "${codec.currentKeyId}" is not among the configured keys (${[...seen].join(', ') || 'none'})`,
      });
    }
    if (codec.currentKeyId === undefined && codec.keys.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['currentKeyId'],
        message: 'several codec keys are configured: set SIGNFLOW_CODEC_KEY_ID to the one that encrypts',
      });
    }
  })
  // With one key there is nothing to choose: resolve the default here, once, so consumers never guess.
  .transform((codec) => ({ ...codec, currentKeyId: codec.currentKeyId ?? codec.keys[0]?.id }))
  .prefault({});

export type CodecConfig = z.infer<typeof ZCodecConfig>;
