import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  decodeFailure,
  encodeErrorToFailure,
  decodeOptionalFailureToOptionalError,
  decodeFromPayloadsAtIndex,
  encodeToPayload,
} from '@temporalio/common/lib/internal-non-workflow/codec-helpers';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow/data-converter-helpers';
import { temporal } from '@temporalio/proto';
import {
  type AesGcmPayloadCodec,
  CodecDecryptError,
  CodecKeyNotFoundError,
  ENCODING_ENCRYPTED,
  codecFromConfig,
} from '../../codec/aes-gcm-codec';
import { createDataConverter, FAILURE_CONVERTER_PATH } from '../../codec/data-converter';
import { loadConfig } from '../../temporal.config';
import { KEY_2025, KEY_2026, keysEnv } from './codec-keys';

const text = (b: Uint8Array | null | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('utf8');

function codecWith(current: string, ...keys: { id: string; key: string }[]): AesGcmPayloadCodec {
  const codec = codecFromConfig(loadConfig({ codec: { keys, currentKeyId: current } }, {}).codec);
  if (!codec) throw new Error('no codec');
  return codec;
}

// Personal data as the workflow carries it: a name with umlauts, an e-mail address, a PNG's bytes.
const PERSONAL = { contactId: 12, name: 'Jörg Müller', email: 'joerg.mueller@example.org' };
const PNG_BYTES = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

function samplePayloads(): Payload[] {
  return [
    defaultPayloadConverter.toPayload(PERSONAL),
    defaultPayloadConverter.toPayload(PNG_BYTES),
    defaultPayloadConverter.toPayload(undefined),
  ];
}

describe('AesGcmPayloadCodec', () => {
  const codec = codecWith('k2026', KEY_2025, KEY_2026);

  test('round trip: every payload is encrypted under the current key and decodes to the original', async () => {
    const original = samplePayloads();
    const encoded = await codec.encode(original);
    expect(encoded).toHaveLength(3);
    for (const p of encoded) {
      expect(text(p.metadata?.encoding)).toBe(ENCODING_ENCRYPTED);
      expect(text(p.metadata?.['encryption-key-id'])).toBe('k2026');
      // Neither the data nor the original metadata may be readable in what Temporal stores.
      expect(Buffer.from(p.data ?? []).includes('Müller')).toBe(false);
      expect(Buffer.from(p.data ?? []).includes('json/plain')).toBe(false);
      expect(Object.keys(p.metadata ?? {}).sort()).toEqual(['encoding', 'encryption-key-id']);
    }
    const decoded = await codec.decode(encoded);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([PERSONAL, PNG_BYTES, undefined]);
  });

  test('the same value encrypts differently each time (random IV)', async () => {
    const [a] = await codec.encode([defaultPayloadConverter.toPayload(PERSONAL)]);
    const [b] = await codec.encode([defaultPayloadConverter.toPayload(PERSONAL)]);
    expect(Buffer.from(a?.data ?? []).equals(Buffer.from(b?.data ?? []))).toBe(false);
  });

  test('a flipped ciphertext byte, a flipped tag byte or a truncated payload is rejected', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(PERSONAL)]);
    const data = Buffer.from(enc?.data ?? []);
    const flip = (index: number): Payload => {
      const copy = Buffer.from(data);
      copy[index] = (copy[index] as number) ^ 0x01;
      return { ...enc, data: copy };
    };
    await expect(codec.decode([flip(20)])).rejects.toThrow(CodecDecryptError);
    await expect(codec.decode([flip(data.length - 1)])).rejects.toThrow(/failed authentication with codec key "k2026"/);
    await expect(codec.decode([{ ...enc, data: data.subarray(0, 20) }])).rejects.toThrow(/too short/);
  });

  test('relabelling a payload with another configured key id fails authentication', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(PERSONAL)]);
    const relabelled = { ...enc, metadata: { ...enc?.metadata, 'encryption-key-id': Buffer.from('k2025') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(CodecDecryptError);
  });

  test('unencrypted payloads (written before encryption was on) pass through decode unchanged', async () => {
    const plain = defaultPayloadConverter.toPayload(PERSONAL);
    const [out] = await codec.decode([plain]);
    expect(defaultPayloadConverter.fromPayload(out as Payload)).toEqual(PERSONAL);
  });
});

describe('key rotation', () => {
  test('old key still decrypts, the new key encrypts, a process without the new key says which key is missing', async () => {
    const before = codecWith('k2025', KEY_2025);
    const after = codecWith('k2026', KEY_2025, KEY_2026);

    const [old] = await before.encode([defaultPayloadConverter.toPayload(PERSONAL)]);
    expect(text(old?.metadata?.['encryption-key-id'])).toBe('k2025');
    const [oldDecoded] = await after.decode([old as Payload]);
    expect(defaultPayloadConverter.fromPayload(oldDecoded as Payload)).toEqual(PERSONAL);

    const [fresh] = await after.encode([defaultPayloadConverter.toPayload(PERSONAL)]);
    expect(text(fresh?.metadata?.['encryption-key-id'])).toBe('k2026');

    const err = await before.decode([fresh as Payload]).then(
      () => undefined,
      (e: unknown) => e
    );
    expect(err).toBeInstanceOf(CodecKeyNotFoundError);
    expect((err as CodecKeyNotFoundError).keyId).toBe('k2026');
    expect((err as Error).message).toBe(
      'payload was encrypted with codec key "k2026", which is not configured (configured: k2025); ' +
        'add it to SIGNFLOW_CODEC_KEYS to decrypt'
    );
  });

  test('the environment form configures the same rotation', () => {
    const config = loadConfig({}, { SIGNFLOW_CODEC_KEYS: keysEnv(KEY_2025, KEY_2026), SIGNFLOW_CODEC_KEY_ID: 'k2026' });
    expect(config.codec.keys.map((k) => k.id)).toEqual(['k2025', 'k2026']);
    expect(config.codec.currentKeyId).toBe('k2026');
    // One key needs no SIGNFLOW_CODEC_KEY_ID.
    expect(loadConfig({}, { SIGNFLOW_CODEC_KEYS: keysEnv(KEY_2025) }).codec.currentKeyId).toBe('k2025');
  });

  test.each([
    ['two keys, no current one', { SIGNFLOW_CODEC_KEYS: keysEnv(KEY_2025, KEY_2026) }, /set SIGNFLOW_CODEC_KEY_ID/],
    [
      'current key not configured',
      { SIGNFLOW_CODEC_KEYS: keysEnv(KEY_2025), SIGNFLOW_CODEC_KEY_ID: 'k2030' },
      /"k2030" is not among the configured keys \(k2025\)/,
    ],
    [
      'a 16-byte key',
      { SIGNFLOW_CODEC_KEYS: `short:${Buffer.alloc(16).toString('base64')}` },
      /"short" must be standard base64 of exactly 32 bytes/,
    ],
    [
      'a duplicate id',
      { SIGNFLOW_CODEC_KEYS: `${keysEnv(KEY_2025)},${keysEnv(KEY_2025)}` },
      /duplicate key id "k2025"/,
    ],
    ['an entry without id', { SIGNFLOW_CODEC_KEYS: 'no-colon-here' }, /codec\.keys\.0/],
  ])('invalid key configuration is refused at start: %s', (_label, env, message) => {
    expect(() => loadConfig({}, env)).toThrow(message);
  });
});

describe('createDataConverter', () => {
  test('without keys: nothing is encrypted, and an encrypted payload names the key id it needs', async () => {
    const unkeyed = loadDataConverter(createDataConverter(loadConfig({}, {})));
    const plain = await encodeToPayload(unkeyed, { name: 'Anna' });
    expect(text(plain.metadata?.encoding)).toBe('json/plain');

    const keyed = loadDataConverter(createDataConverter(loadConfig({ codec: { keys: [KEY_2026] } }, {})));
    const encrypted = await encodeToPayload(keyed, { name: 'Anna' });
    expect(text(encrypted.metadata?.encoding)).toBe(ENCODING_ENCRYPTED);
    const decoding = decodeFromPayloadsAtIndex(unkeyed, 0, [encrypted]);
    await expect(decoding).rejects.toThrow(CodecKeyNotFoundError);
    await expect(decoding).rejects.toThrow(/codec key "k2026".*SIGNFLOW_CODEC_KEYS/);
  });

  test('encrypts failure messages too (encodeCommonAttributes), and the same converter reads them back', async () => {
    const dataConverter = createDataConverter(loadConfig({ codec: { keys: [KEY_2026] } }, {}));
    expect(dataConverter?.failureConverterPath).toBe(FAILURE_CONVERTER_PATH);
    const loaded = loadDataConverter(dataConverter);

    const err = ApplicationFailure.create({
      type: 'WRONG_SIGNER',
      message: 'Kontakt 13 (eva.schmidt@example.org) darf Vertrag 42 nicht unterschreiben',
      nonRetryable: true,
    });
    const failure = await encodeErrorToFailure(loaded, err);
    // What the server stores: the wire form of the failure, searched as bytes.
    const stored = Buffer.from(temporal.api.failure.v1.Failure.encode(failure).finish());
    expect(stored.includes('eva.schmidt')).toBe(false);
    expect(failure.message).toBe('Encoded failure');
    expect(failure.applicationFailureInfo?.type).toBe('WRONG_SIGNER'); // the code stays readable for the doors

    const back = await decodeOptionalFailureToOptionalError(loaded, await decodeFailure(loaded.payloadCodecs, failure));
    expect(back).toBeInstanceOf(ApplicationFailure);
    expect((back as ApplicationFailure).message).toBe(err.message);
    expect((back as ApplicationFailure).type).toBe('WRONG_SIGNER');
  });
});
