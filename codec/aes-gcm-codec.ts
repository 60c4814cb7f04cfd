/**
 * AES-256-GCM payload codec: names, e-mail addresses, signature images and document data never reach Temporal's
 * database in the clear.
 *
 * Each payload is serialised as a whole (metadata and data, as the `temporal.api.common.v1.Payload` protobuf, the same
 * shape as the Temporal samples in every SDK) and encrypted into a new payload:
 *
 *   metadata: encoding = `binary/encrypted`, encryption-key-id = <key id>
 *   data:     12-byte random IV ‖ ciphertext ‖ 16-byte GCM tag
 *
 * The key id and the codec version are bound to the ciphertext as additional authenticated data, so swapping the key
 * id header or the bytes fails authentication instead of decrypting to something else.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { decodeCodecKey, type CodecConfig } from './codec-config';

export const ENCODING_ENCRYPTED = 'binary/encrypted';
export const METADATA_ENCODING_KEY = 'encoding';
export const METADATA_KEY_ID_KEY = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const CIPHER = 'aes-256-gcm';
const AAD_PREFIX = 'signflow-codec-v1:';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A payload names a key this process does not have: add the key back to `SIGNFLOW_CODEC_KEYS`. */
export class CodecKeyNotFoundError extends Error {
  override readonly name = 'CodecKeyNotFoundError';
  constructor(
    readonly keyId: string,
    readonly configuredKeyIds: readonly string[]
  ) {
    super(
      `payload was encrypted with codec key "${keyId}", which is not configured ` +
        `(configured: ${configuredKeyIds.join(', ') || 'none'}); add it to SIGNFLOW_CODEC_KEYS to decrypt`
    );
  }
}

/** The payload is malformed, was tampered with, or the key under its id is not the key that encrypted it. */
export class CodecDecryptError extends Error {
  override readonly name = 'CodecDecryptError';
  constructor(
    message: string,
    readonly keyId?: string
  ) {
    super(message);
  }
}

export interface CodecKey {
  id: string;
  /** 32 bytes. */
  key: Uint8Array;
}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys: ReadonlyMap<string, Uint8Array>;

  constructor(
    keys: readonly CodecKey[],
    private readonly currentKeyId: string
  ) {
    const map = new Map<string, Uint8Array>();
    for (const k of keys) {
      if (k.key.length !== 32) throw new RangeError(`codec key "${k.id}" has ${k.key.length} bytes, AES-256 needs 32`);
      if (map.has(k.id)) throw new RangeError(`duplicate codec key id "${k.id}"`);
      map.set(k.id, k.key);
    }
    if (!map.has(currentKeyId)) throw new RangeError(`current codec key "${currentKeyId}" is not among the keys`);
    this.keys = map;
  }

  /** Key ids in configuration order; for error messages and ops output (never the keys). */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decrypt(payload));
  }

  private encrypt(payload: Payload): Payload {
    const key = this.keys.get(this.currentKeyId) as Uint8Array;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(CIPHER, key, iv);
    cipher.setAAD(aad(this.currentKeyId));
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: utf8.encode(ENCODING_ENCRYPTED),
        [METADATA_KEY_ID_KEY]: utf8.encode(this.currentKeyId),
      },
      data,
    };
  }

  private decrypt(payload: Payload): Payload {
    const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
    // Payloads written before encryption was switched on (or by a client without keys) pass through unchanged, so
    // turning encryption on does not break running workflows. Everything new is encrypted.
    if (!encoding || fromUtf8.decode(encoding) !== ENCODING_ENCRYPTED) return payload;
    const rawKeyId = payload.metadata?.[METADATA_KEY_ID_KEY];
    if (!rawKeyId) throw new CodecDecryptError(`encrypted payload has no "${METADATA_KEY_ID_KEY}" header`);
    const keyId = fromUtf8.decode(rawKeyId);
    const key = this.keys.get(keyId);
    if (!key) throw new CodecKeyNotFoundError(keyId, this.keyIds);
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new CodecDecryptError(`encrypted payload (key "${keyId}") is too short: ${data.length} bytes`, keyId);
    }
    const iv = data.subarray(0, IV_BYTES);
    const tag = data.subarray(data.length - TAG_BYTES);
    const ciphertext = data.subarray(IV_BYTES, data.length - TAG_BYTES);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv(CIPHER, key, iv);
      decipher.setAAD(aad(keyId));
      decipher.setAuthTag(tag);
      plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      throw new CodecDecryptError(
        `encrypted payload failed authentication with codec key "${keyId}": it was altered, or that id names a ` +
          'different key than the one that encrypted it',
        keyId
      );
    }
    return temporal.api.common.v1.Payload.decode(plain);
  }
}

function aad(keyId: string): Uint8Array {
  return utf8.encode(AAD_PREFIX + keyId);
}

/**
 * The codec of a process without keys: it writes payloads unencrypted and reads unencrypted ones, and an encrypted
 * payload (a history written by a worker that has keys) fails with `CodecKeyNotFoundError` naming the key id it needs,
 * instead of the SDK's "Unknown encoding" that names nothing.
 */
export class UnkeyedPayloadCodec implements PayloadCodec {
  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads;
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    for (const payload of payloads) {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      if (encoding && fromUtf8.decode(encoding) === ENCODING_ENCRYPTED) {
        const rawKeyId = payload.metadata?.[METADATA_KEY_ID_KEY];
        throw new CodecKeyNotFoundError(rawKeyId ? fromUtf8.decode(rawKeyId) : '(none named)', []);
      }
    }
    return payloads;
  }
}

/** The codec of a configuration, or `undefined` when no keys are configured (payloads stay unencrypted). */
export function codecFromConfig(codec: CodecConfig): AesGcmPayloadCodec | undefined {
  if (codec.keys.length === 0 || codec.currentKeyId === undefined) return undefined;
  return new AesGcmPayloadCodec(
    codec.keys.map((k) => ({ id: k.id, key: decodeCodecKey(k) })),
    codec.currentKeyId
  );
}
