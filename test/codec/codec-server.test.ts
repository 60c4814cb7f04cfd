/**
 * The codec server over real HTTP on loopback, called the way the Temporal UI calls it: proto3-JSON payloads (every
 * bytes field base64), `X-Namespace`, `Authorization: Bearer …`, from the UI's origin with a CORS preflight first.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { codecFromConfig, type AesGcmPayloadCodec } from '../../codec/aes-gcm-codec';
import { buildCodecServer } from '../../codec/codec-server';
import { ConfigError, loadConfig, type SignflowConfig } from '../../temporal.config';
import { KEY_2025, KEY_2026, testKey } from './codec-keys';

const TOKEN = 'codec-test-token-0123456789abcdef';
const UI_ORIGIN = 'http://localhost:8233';
const PERSONAL = { name: 'Jörg Müller', email: 'joerg.mueller@example.org' };

interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** node:http instead of fetch: fetch would not let a test set `Origin` freely. Bounded by a 10 s timeout. */
function request(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** A payload in the UI's wire shape. */
function toUiJson(p: Payload): { metadata: Record<string, string>; data: string } {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? []).toString('base64') };
}

function fromUiJson(p: { metadata: Record<string, string>; data: string }): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata)) metadata[k] = Buffer.from(v, 'base64');
  return { metadata, data: Buffer.from(p.data, 'base64') };
}

const uiHeaders = (extra: Record<string, string> = {}): Record<string, string> => ({
  'Content-Type': 'application/json',
  'X-Namespace': 'default',
  Authorization: `Bearer ${TOKEN}`,
  Origin: UI_ORIGIN,
  ...extra,
});

describe('codec server', () => {
  let config: SignflowConfig;
  let codec: AesGcmPayloadCodec;
  let app: FastifyInstance;
  let port: number;

  beforeAll(async () => {
    config = loadConfig(
      { codec: { keys: [KEY_2025, KEY_2026], currentKeyId: 'k2026', server: { tokens: [TOKEN] } } },
      {}
    );
    codec = codecFromConfig(config.codec) as AesGcmPayloadCodec;
    app = buildCodecServer(config);
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await app.close();
  });

  async function encryptedUiBody(): Promise<string> {
    const encrypted = await codec.encode([
      defaultPayloadConverter.toPayload(PERSONAL),
      defaultPayloadConverter.toPayload(7),
    ]);
    return JSON.stringify({ payloads: encrypted.map(toUiJson) });
  }

  test('POST /codec/decode answers the UI request shape with the decrypted payloads in the same shape', async () => {
    const res = await request(port, 'POST', '/codec/decode', uiHeaders(), await encryptedUiBody());
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    const payloads = res.json().payloads as { metadata: Record<string, string>; data: string }[];
    expect(payloads).toHaveLength(2);
    // Metadata values are base64 as in proto3 JSON: "json/plain", the default converter's encoding.
    expect(Buffer.from(payloads[0]?.metadata.encoding ?? '', 'base64').toString()).toBe('json/plain');
    expect(payloads.map((p) => defaultPayloadConverter.fromPayload(fromUiJson(p)))).toEqual([PERSONAL, 7]);
  });

  test('POST /codec/encode encrypts what the UI sends (e.g. a signal input typed in the UI)', async () => {
    const body = JSON.stringify({ payloads: [toUiJson(defaultPayloadConverter.toPayload(PERSONAL))] });
    const res = await request(port, 'POST', '/codec/encode', uiHeaders(), body);
    expect(res.status).toBe(200);
    const [p] = res.json().payloads as { metadata: Record<string, string>; data: string }[];
    expect(Buffer.from(p?.metadata.encoding ?? '', 'base64').toString()).toBe('binary/encrypted');
    expect(Buffer.from(p?.metadata['encryption-key-id'] ?? '', 'base64').toString()).toBe('k2026');
    expect(Buffer.from(p?.data ?? '', 'base64').includes('Müller')).toBe(false);
    const [decoded] = await codec.decode([fromUiJson(p as { metadata: Record<string, string>; data: string })]);
    expect(defaultPayloadConverter.fromPayload(decoded as Payload)).toEqual(PERSONAL);
  });

  test('CORS preflight from the UI origin is answered with the allowed method and headers', async () => {
    const res = await request(port, 'OPTIONS', '/codec/decode', {
      Origin: UI_ORIGIN,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization,content-type,x-namespace',
    });
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
    expect(res.headers['access-control-allow-methods']).toContain('POST');
    const allowed = String(res.headers['access-control-allow-headers']).toLowerCase().split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-namespace']));
    expect(res.headers['access-control-allow-credentials']).toBe('true');
  });

  test('CORS preflight and requests from another origin are refused without CORS headers', async () => {
    const preflight = await request(port, 'OPTIONS', '/codec/decode', {
      Origin: 'http://evil.example',
      'Access-Control-Request-Method': 'POST',
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    expect(preflight.json().code).toBe('CORS_ORIGIN_NOT_ALLOWED');

    // Even with a valid token: a foreign page must not read decrypted data.
    const post = await request(
      port,
      'POST',
      '/codec/decode',
      uiHeaders({ Origin: 'http://evil.example' }),
      await encryptedUiBody()
    );
    expect(post.status).toBe(403);
    expect(post.body).not.toContain('Müller');
  });

  test('a trusted origin (the dev stack own UI) decodes without a token; an allowed but untrusted one does not', async () => {
    const trusting = buildCodecServer(
      loadConfig(
        {
          codec: {
            keys: [KEY_2026],
            server: {
              tokens: [TOKEN],
              corsOrigins: [UI_ORIGIN, 'http://other.test:8233'],
              trustedOrigins: [UI_ORIGIN],
            },
          },
        },
        {}
      )
    );
    await trusting.listen({ host: '127.0.0.1', port: 0 });
    try {
      const p = (trusting.server.address() as AddressInfo).port;
      const body = await encryptedUiBody();
      const { Authorization: _token, ...noToken } = uiHeaders();
      const trusted = await request(p, 'POST', '/codec/decode', noToken, body);
      expect(trusted.status).toBe(200);
      const untrusted = await request(
        p,
        'POST',
        '/codec/decode',
        { ...noToken, Origin: 'http://other.test:8233' },
        body
      );
      expect(untrusted.status).toBe(401);
      const noOrigin = await request(p, 'POST', '/codec/decode', { 'Content-Type': 'application/json' }, body);
      expect(noOrigin.status).toBe(401);
    } finally {
      await trusting.close();
    }
    // The default (production): no origin is trusted.
    const { Authorization: _t, ...withoutToken } = uiHeaders();
    expect((await request(port, 'POST', '/codec/decode', withoutToken, await encryptedUiBody())).status).toBe(401);
  });

  test('no token → 401 with a Bearer challenge; a wrong token → 401', async () => {
    const body = await encryptedUiBody();
    const headers = uiHeaders();
    delete headers.Authorization;
    const none = await request(port, 'POST', '/codec/decode', headers, body);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(none.json().code).toBe('UNAUTHENTICATED');
    // The UI can still read the 401 (CORS headers present), so it shows the error instead of a network failure.
    expect(none.headers['access-control-allow-origin']).toBe(UI_ORIGIN);

    const wrong = await request(port, 'POST', '/codec/decode', uiHeaders({ Authorization: `Bearer ${TOKEN}x` }), body);
    expect(wrong.status).toBe(401);
    expect(wrong.body).not.toContain('Müller');
  });

  test('another namespace is refused', async () => {
    const res = await request(
      port,
      'POST',
      '/codec/decode',
      uiHeaders({ 'X-Namespace': 'payroll' }),
      await encryptedUiBody()
    );
    expect(res.status).toBe(403);
    expect(res.json().code).toBe('NAMESPACE_NOT_SERVED');
  });

  test('a tampered payload or an unknown key id is a 422 naming the cause', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload(PERSONAL)]);
    const json = toUiJson(enc as Payload);
    const bytes = Buffer.from(json.data, 'base64');
    bytes[15] = (bytes[15] as number) ^ 0xff;
    const tampered = await request(
      port,
      'POST',
      '/codec/decode',
      uiHeaders(),
      JSON.stringify({ payloads: [{ ...json, data: bytes.toString('base64') }] })
    );
    expect(tampered.status).toBe(422);
    expect(tampered.json().code).toBe('PAYLOAD_NOT_DECRYPTABLE');

    const foreign = codecFromConfig(
      loadConfig({ codec: { keys: [testKey('k1999', 0x99)] } }, {}).codec
    ) as AesGcmPayloadCodec;
    const [other] = await foreign.encode([defaultPayloadConverter.toPayload(PERSONAL)]);
    const unknown = await request(
      port,
      'POST',
      '/codec/decode',
      uiHeaders(),
      JSON.stringify({ payloads: [toUiJson(other as Payload)] })
    );
    expect(unknown.status).toBe(422);
    expect(unknown.json()).toEqual({
      code: 'CODEC_KEY_UNKNOWN',
      message: expect.stringContaining('codec key "k1999", which is not configured (configured: k2025, k2026)'),
    });
  });

  test('a body that is not the protocol shape is a 400', async () => {
    const missing = await request(port, 'POST', '/codec/decode', uiHeaders(), JSON.stringify({ payload: [] }));
    expect(missing.status).toBe(400);
    expect(missing.json().code).toBe('INVALID_REQUEST');
    const notBase64 = await request(
      port,
      'POST',
      '/codec/decode',
      uiHeaders(),
      JSON.stringify({ payloads: [{ data: 'not base64!' }] })
    );
    expect(notBase64.status).toBe(400);
  });

  test('a browser signed in at /codec/login decodes with its session cookie alone', async () => {
    const bad = await request(
      port,
      'POST',
      '/codec/login',
      { 'Content-Type': 'application/x-www-form-urlencoded' },
      'token=nope'
    );
    expect(bad.status).toBe(401);
    expect(bad.headers['set-cookie']).toBeUndefined();

    const login = await request(
      port,
      'POST',
      '/codec/login',
      { 'Content-Type': 'application/x-www-form-urlencoded', Origin: `http://127.0.0.1:${port}` },
      `token=${encodeURIComponent(TOKEN)}`
    );
    expect(login.status).toBe(200);
    const setCookie = String(login.headers['set-cookie']);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toContain(TOKEN);
    const sessionCookie = setCookie.split(';')[0] as string;

    const headers = uiHeaders({ Cookie: sessionCookie });
    delete headers.Authorization;
    const res = await request(port, 'POST', '/codec/decode', headers, await encryptedUiBody());
    expect(res.status).toBe(200);
    expect(defaultPayloadConverter.fromPayload(fromUiJson(res.json().payloads[0]))).toEqual(PERSONAL);

    const forged = await request(
      port,
      'POST',
      '/codec/decode',
      { ...headers, Cookie: 'signflow_codec_session=forged' },
      await encryptedUiBody()
    );
    expect(forged.status).toBe(401);
  });

  test('refuses to start without keys or without a token', () => {
    expect(() => buildCodecServer(loadConfig({ codec: { server: { tokens: [TOKEN] } } }, {}))).toThrow(ConfigError);
    expect(() => buildCodecServer(loadConfig({ codec: { keys: [KEY_2025] } }, {}))).toThrow(
      /SIGNFLOW_CODEC_SERVER_TOKENS/
    );
  });
});
