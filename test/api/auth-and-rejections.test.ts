/**
 * Authentication, the role matrix and the rejections the API decides on its own (before any Temporal call), over real
 * HTTP on a listening port, with a real SQLite CRM database. The Temporal client points at a closed port: a route that
 * wrongly reached Temporal here would answer 503, not the expected code.
 *
 * The answers that need the workflow (404 of a missing request, 409/422 from the Update validator, idempotent start)
 * are in api-flow.test.ts against the dev server and a real worker.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { PNG } from 'pngjs';
import {
  Authenticator,
  DbReplayStore,
  hmacHeaders,
  hmacSignature,
  ReplayGuard,
  secretEquals,
  type Role,
} from '../../api/auth';
import { ApiError } from '../../api/errors';
import { buildApi } from '../../api/server';
import { createDb } from '../../db/connection';
import type { SignflowConfig } from '../../temporal.config';
import { createTestDb, testDatabases, type TestDb } from '../../harness/databases';
import { getFreePort } from '../../harness/temporal';
import { call, callHmac, TEST_HMAC_SECRET, TEST_TOKENS, type HttpAnswer } from './api-stack';

const ALL_ROLES: Role[] = ['crm', 'portal', 'staff', 'ops'];
const WINDOW_MS = 300_000;

function apiConfig(base: SignflowConfig, api: Partial<SignflowConfig['api']> = {}): SignflowConfig {
  return {
    ...base,
    api: { ...base.api, tokens: { ...TEST_TOKENS }, hmacSecretCrm: TEST_HMAC_SECRET, hmacWindow: WINDOW_MS, ...api },
    signature: { ...base.signature, maxImageBytes: 4096 },
  };
}

async function rejectionOf(fn: () => unknown): Promise<ApiError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

function png(width: number, height: number, draw = false): string {
  const image = new PNG({ width, height });
  image.data.fill(255);
  if (draw)
    for (let x = 2; x < width - 2; x++) image.data.writeUInt32BE(0x000000ff, (Math.floor(height / 2) * width + x) * 4);
  return PNG.sync.write(image).toString('base64');
}

describe('Authenticator (credentials in constant time, HMAC with replay window)', () => {
  const api = {
    tokens: { ...TEST_TOKENS },
    hmacSecretCrm: TEST_HMAC_SECRET,
    hmacWindow: WINDOW_MS,
  } as unknown as SignflowConfig['api'];
  const raw = Buffer.from('{"contractIds":[1,2]}');
  const request = { method: 'POST', url: '/api/v1/contracts/signature-requests', rawBody: raw };
  /** The credentials a signed call presents, for `request` or another one. */
  const signed = (
    now: number,
    req: { method: string; url: string; rawBody: Buffer } = request,
    secret = TEST_HMAC_SECRET
  ) => {
    const h = hmacHeaders(secret, req, now);
    return { ...req, hmacTimestamp: h['x-signflow-timestamp'], hmacSignature: h['x-signflow-signature'] };
  };

  test('each bearer token authenticates exactly its role', async () => {
    const auth = new Authenticator(api);
    for (const role of ALL_ROLES) {
      expect(await auth.authenticate({ authorization: `Bearer ${TEST_TOKENS[role]}`, rawBody: raw })).toBe(role);
    }
    expect(
      (await rejectionOf(() => auth.authenticate({ authorization: 'Bearer nope-nope-nope-nope', rawBody: raw }))).code
    ).toBe('INVALID_CREDENTIALS');
    expect((await rejectionOf(() => auth.authenticate({ authorization: 'Basic abc', rawBody: raw }))).statusCode).toBe(
      401
    );
    expect((await rejectionOf(() => auth.authenticate({ rawBody: raw }))).code).toBe('MISSING_CREDENTIALS');
  });

  test('HMAC over the documented canonical string (method, path with query, timestamp, body hash) authenticates the crm role', async () => {
    const auth = new Authenticator(api);
    const now = 1_800_000_000_000;
    expect(await auth.authenticate(signed(now), now)).toBe('crm');
    // The documented formula, computed independently of hmacHeaders.
    const ts = String(Math.floor(now / 1000) + 1);
    const bodyHash = createHash('sha256').update(raw).digest('hex');
    const canonical = `v1\nPOST\n/api/v1/contracts/signature-requests\n${ts}\n${bodyHash}`;
    const sig = createHmac('sha256', TEST_HMAC_SECRET).update(canonical).digest('hex');
    expect(hmacSignature(TEST_HMAC_SECRET, ts, request)).toBe(sig);
    expect(await auth.authenticate({ ...request, hmacTimestamp: ts, hmacSignature: sig }, now)).toBe('crm');
  });

  test.each([
    ['another method', { method: 'GET' }],
    ['another path', { url: '/api/v1/contracts/21/signature-request' }],
    ['another query', { url: '/api/v1/contracts/signature-requests?x=1' }],
    ['a path in other case', { url: '/API/v1/contracts/signature-requests' }],
    ['another body', { rawBody: Buffer.from('{"contractIds":[1,3]}') }],
    ['an empty body', { rawBody: Buffer.alloc(0) }],
  ])('a signature is refused for %s than it was made for', async (_what, change) => {
    const auth = new Authenticator(api);
    const now = Date.now();
    const presented = { ...signed(now), ...change };
    expect((await rejectionOf(() => auth.authenticate(presented, now))).code).toBe('INVALID_HMAC');
  });

  test("the headers of a signed GET do not start a contract (the probe's cross-route replay)", async () => {
    const auth = new Authenticator(api);
    const now = Date.now();
    const get = signed(now, { method: 'GET', url: '/api/v1/contracts/1', rawBody: Buffer.alloc(0) });
    expect(await auth.authenticate(get, now)).toBe('crm');
    const post = { ...get, method: 'POST', url: '/api/v1/contracts/21/signature-request' };
    expect((await rejectionOf(() => auth.authenticate(post, now))).code).toBe('INVALID_HMAC');
  });

  test('a wrong secret or a malformed signature is refused', async () => {
    const auth = new Authenticator(api);
    const now = Date.now();
    expect(
      (await rejectionOf(() => auth.authenticate(signed(now, request, 'another-secret-0123456789'), now))).code
    ).toBe('INVALID_HMAC');
    expect(
      (await rejectionOf(() => auth.authenticate({ ...signed(now), hmacSignature: 'sha256=xyz' }, now))).code
    ).toBe('INVALID_HMAC');
    const noSecret = new Authenticator({ ...api, hmacSecretCrm: undefined } as SignflowConfig['api']);
    expect((await rejectionOf(() => noSecret.authenticate(signed(now), now))).code).toBe('INVALID_HMAC');
  });

  test('the replay window: inside is accepted, outside (past or future) is refused, and each signature only once', async () => {
    const auth = new Authenticator(api);
    const now = 1_800_000_000_000;
    const at = (offsetMs: number) => signed(now + offsetMs);
    expect(await auth.authenticate(at(-(WINDOW_MS - 1000)), now)).toBe('crm');
    expect(await auth.authenticate(at(WINDOW_MS - 1000), now)).toBe('crm');
    expect((await rejectionOf(() => auth.authenticate(at(-(WINDOW_MS + 1000)), now))).code).toBe(
      'HMAC_TIMESTAMP_OUT_OF_WINDOW'
    );
    expect((await rejectionOf(() => auth.authenticate(at(WINDOW_MS + 1000), now))).code).toBe(
      'HMAC_TIMESTAMP_OUT_OF_WINDOW'
    );
    expect((await rejectionOf(() => auth.authenticate({ ...at(0), hmacTimestamp: 'yesterday' }, now))).code).toBe(
      'HMAC_TIMESTAMP_OUT_OF_WINDOW'
    );
    const once = at(5000);
    expect(await auth.authenticate(once, now)).toBe('crm');
    expect((await rejectionOf(() => auth.authenticate(once, now + 1000))).code).toBe('HMAC_REPLAYED');
  });

  test('the in-process replay guard forgets signatures only after they expired', async () => {
    const guard = new ReplayGuard();
    expect(await guard.accept('a', 2000, 0)).toBe(true);
    expect(await guard.accept('a', 3999, 1999)).toBe(false);
    expect(await guard.accept('a', 4001, 2001)).toBe(true);
  });

  test.each(testDatabases())(
    'the database replay memory ($name) holds across Authenticators (a restart, another API process)',
    async (database) => {
      const t = await createTestDb(database);
      try {
        const now = Date.now();
        const first = new Authenticator(api, new DbReplayStore(t.db));
        const credentials = signed(now);
        expect(await first.authenticate(credentials, now)).toBe('crm');
        const restarted = new Authenticator(api, new DbReplayStore(t.db));
        expect((await rejectionOf(() => restarted.authenticate(credentials, now + 1000))).code).toBe('HMAC_REPLAYED');
        // Two processes at the same moment: exactly one accepts.
        const fresh = signed(now + 2000);
        const answers = await Promise.allSettled([
          new Authenticator(api, new DbReplayStore(t.db)).authenticate(fresh, now),
          new Authenticator(api, new DbReplayStore(t.db)).authenticate(fresh, now),
        ]);
        expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
        // After the window, the memory is dropped and the row can go.
        const later = now + 3 * WINDOW_MS;
        expect((await rejectionOf(() => restarted.authenticate(credentials, later))).code).toBe(
          'HMAC_TIMESTAMP_OUT_OF_WINDOW'
        );
        expect(await new DbReplayStore(t.db).accept('other', later + 1000, later)).toBe(true);
        expect(await t.db('signflow_hmac_replay').count({ n: '*' })).toEqual([{ n: 1 }]);
      } finally {
        await t.destroy();
      }
    }
  );

  test('secretEquals compares values of any length', () => {
    expect(secretEquals('abc', 'abc')).toBe(true);
    expect(secretEquals('abc', 'abcd')).toBe(false);
    expect(secretEquals('', 'a')).toBe(false);
  });
});

describe('API over HTTP without Temporal: roles, HMAC, rejections', () => {
  let t: TestDb;
  let app: FastifyInstance;
  let url: string;
  let connection: Connection;
  const logLines: string[] = [];
  const BODY_LIMIT = 16 * 1024;

  const http = (method: string, path: string, opts: Parameters<typeof call>[3] = {}) =>
    call(url, method, `/api/v1${path}`, opts);

  beforeAll(async () => {
    t = await createTestDb('sqlite');
    // A closed port: nothing here may need Temporal.
    connection = Connection.lazy({ address: `127.0.0.1:${await getFreePort()}`, connectTimeout: 1000 });
    app = await buildApi(
      {
        config: apiConfig(t.config, { bodyLimit: BODY_LIMIT }),
        client: new Client({ connection, namespace: 'default' }),
        db: t.db,
      },
      { logger: { level: 'trace', stream: { write: (line) => void logLines.push(line) } } }
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  afterAll(async () => {
    await app?.close();
    await connection?.close().catch(() => undefined);
    await t?.destroy();
  });

  const ROUTES: { method: string; path: string; roles: Role[]; body?: unknown }[] = [
    { method: 'POST', path: '/contracts/1/signature-request', roles: ['crm'] },
    { method: 'POST', path: '/contracts/signature-requests', roles: ['crm'], body: { contractIds: [1] } },
    { method: 'POST', path: '/contracts/1/signature', roles: ['portal'], body: { contactId: 1, method: 'click' } },
    { method: 'POST', path: '/contracts/1/confirmation', roles: ['staff'], body: { staffContactId: 4 } },
    { method: 'POST', path: '/contracts/1/withdrawal', roles: ['staff'], body: {} },
    { method: 'POST', path: '/contracts/1/reminder', roles: ['staff'] },
    { method: 'GET', path: '/contracts/1', roles: ['ops', 'staff', 'crm'] },
    { method: 'GET', path: '/contacts/1/pending-signatures', roles: ['portal', 'staff', 'ops', 'crm'] },
    { method: 'GET', path: '/reports/signatures', roles: ['ops', 'staff', 'crm'] },
    { method: 'GET', path: '/reports/contracts', roles: ['ops', 'staff', 'crm'] },
  ];

  test.each(ROUTES)('$method $path: 401 without credentials, 403 for every role but $roles', async (route) => {
    const anonymous = await http(route.method, route.path, { body: route.body });
    expect([anonymous.status, anonymous.json?.code]).toEqual([401, 'MISSING_CREDENTIALS']);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const forged = await http(route.method, route.path, {
      body: route.body,
      headers: { authorization: `Bearer ${TEST_TOKENS.staff}x` },
    });
    expect([forged.status, forged.json?.code]).toEqual([401, 'INVALID_CREDENTIALS']);
    for (const role of ALL_ROLES.filter((r) => !route.roles.includes(r))) {
      const answer = await http(route.method, route.path, { as: role, body: route.body });
      expect([role, answer.status, answer.json?.code]).toEqual([role, 403, 'ROLE_NOT_ALLOWED']);
      expect(answer.json.message).toContain(`the ${role} role may not`);
    }
  });

  test('the read routes answer their roles from the CRM tables', async () => {
    for (const role of ['ops', 'staff', 'crm'] as const) {
      const report = await http('GET', '/reports/contracts', { as: role });
      expect(report.status).toBe(200);
      expect(report.json.rows.map((r: { contractId: number }) => r.contractId)).toEqual(
        expect.arrayContaining(t.seed.contractIds)
      );
    }
    const pending = await http('GET', `/contacts/${t.seed.contactIds[0]}/pending-signatures`, { as: 'portal' });
    expect([pending.status, pending.json]).toEqual([200, { contactId: t.seed.contactIds[0], items: [] }]);
  });

  test('a signed call replayed against another API process on the same database is refused (the memory is the database)', async () => {
    // A second API with its own connection to the same database file: another process, or this one after a restart.
    const otherDb = createDb(t.url);
    const second = await buildApi(
      {
        config: apiConfig(t.config, { bodyLimit: BODY_LIMIT }),
        client: new Client({ connection, namespace: 'default' }),
        db: otherDb,
      },
      { logger: false }
    );
    try {
      await second.listen({ host: '127.0.0.1', port: 0 });
      const address = second.server.address();
      const secondUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      const body = JSON.stringify({ contractIds: [999_997] });
      const route = '/api/v1/contracts/signature-requests';
      const headers = {
        ...hmacHeaders(TEST_HMAC_SECRET, { method: 'POST', url: route, rawBody: body }, Date.now() + 2000),
        'content-type': 'application/json',
      };
      const first = await call(secondUrl, 'POST', route, { raw: body, headers });
      expect(first.status).toBe(200);
      const replayed = await call(url, 'POST', route, { raw: body, headers });
      expect([replayed.status, replayed.json.code]).toEqual([401, 'HMAC_REPLAYED']);
    } finally {
      await second.close();
      await otherDb.destroy();
    }
  });

  test('HMAC-signed CRM calls: accepted once inside the window, refused when replayed, stale or tampered', async () => {
    const body = JSON.stringify({ contractIds: [999_999] });
    const ok = await callHmac(url, 'POST', '/api/v1/contracts/signature-requests', body);
    // Authenticated as crm; the unknown contract is answered per contract without reaching Temporal.
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({
      started: 0,
      failed: 1,
      results: [expect.objectContaining({ contractId: 999_999, ok: false, status: 404, code: 'CONTRACT_NOT_FOUND' })],
    });

    // One second later than the call above: the same body in the same second would be the same signature (a replay).
    const now = Date.now() + 1000;
    const headers = hmacHeaders(
      TEST_HMAC_SECRET,
      { method: 'POST', url: '/api/v1/contracts/signature-requests', rawBody: body },
      now
    );
    const first = await call(url, 'POST', '/api/v1/contracts/signature-requests', {
      raw: body,
      headers: { ...headers, 'content-type': 'application/json' },
    });
    expect(first.status).toBe(200);
    const replay = await call(url, 'POST', '/api/v1/contracts/signature-requests', {
      raw: body,
      headers: { ...headers, 'content-type': 'application/json' },
    });
    expect([replay.status, replay.json.code]).toEqual([401, 'HMAC_REPLAYED']);

    const stale = await callHmac(url, 'POST', '/api/v1/contracts/signature-requests', body, {
      now: now - WINDOW_MS - 5000,
    });
    expect([stale.status, stale.json.code]).toEqual([401, 'HMAC_TIMESTAMP_OUT_OF_WINDOW']);

    const tampered = await call(url, 'POST', '/api/v1/contracts/signature-requests', {
      raw: JSON.stringify({ contractIds: [999_998] }),
      headers: {
        ...hmacHeaders(TEST_HMAC_SECRET, {
          method: 'POST',
          url: '/api/v1/contracts/signature-requests',
          rawBody: body,
        }),
        'content-type': 'application/json',
      },
    });
    expect([tampered.status, tampered.json.code]).toEqual([401, 'INVALID_HMAC']);

    const wrongSecret = await callHmac(url, 'POST', '/api/v1/contracts/signature-requests', body, {
      secret: 'not-the-secret-0123456789',
    });
    expect([wrongSecret.status, wrongSecret.json.code]).toEqual([401, 'INVALID_HMAC']);

    // HMAC makes the caller the crm role, nothing more: it may read reports but not sign.
    const read = await callHmac(url, 'GET', '/api/v1/reports/contracts', '');
    expect(read.status).toBe(200);
    const sign = await callHmac(
      url,
      'POST',
      '/api/v1/contracts/1/signature',
      JSON.stringify({ contactId: 1, method: 'click' })
    );
    expect([sign.status, sign.json.code]).toEqual([403, 'ROLE_NOT_ALLOWED']);
  });

  const expectRejection = (answer: HttpAnswer, status: number, code: string) => {
    expect([answer.status, answer.json?.code]).toEqual([status, code]);
    expect(typeof answer.json.message).toBe('string');
    expect(answer.json.message.length).toBeGreaterThan(10);
  };

  test('400: schema violations and invalid JSON name the problem', async () => {
    expectRejection(await http('GET', '/contracts/abc', { as: 'ops' }), 400, 'VALIDATION_FAILED');
    expectRejection(await http('GET', '/contracts/0', { as: 'ops' }), 400, 'VALIDATION_FAILED');
    const extra = await http('POST', '/contracts/1/signature', {
      as: 'portal',
      body: { contactId: 1, method: 'click', admin: true },
    });
    expectRejection(extra, 400, 'VALIDATION_FAILED');
    expect(extra.json.message).toContain('additional properties');
    const method = await http('POST', '/contracts/1/signature', {
      as: 'portal',
      body: { contactId: 1, method: 'fax' },
    });
    expectRejection(method, 400, 'VALIDATION_FAILED');
    expect(method.json.message).toContain('method');
    expectRejection(
      await http('POST', '/contracts/1/confirmation', { as: 'staff', body: {} }),
      400,
      'VALIDATION_FAILED'
    );
    expectRejection(
      await http('POST', '/contracts/signature-requests', { as: 'crm', body: { contractIds: [] } }),
      400,
      'VALIDATION_FAILED'
    );
    expectRejection(
      await http('POST', '/contracts/signature-requests', { as: 'crm', body: { contractIds: [1, 1] } }),
      400,
      'VALIDATION_FAILED'
    );
    expectRejection(
      await http('POST', '/contracts/1/withdrawal', { as: 'staff', raw: '{"reason":' }),
      400,
      'INVALID_JSON'
    );
    expectRejection(await http('GET', '/reports/signatures?limit=0', { as: 'ops' }), 400, 'VALIDATION_FAILED');
  });

  test('404: unknown routes and contacts; the portal page is not served outside dev mode', async () => {
    expectRejection(await http('GET', '/nothing-here', { as: 'ops' }), 404, 'ROUTE_NOT_FOUND');
    expectRejection(
      await http('GET', '/contacts/999999/pending-signatures', { as: 'portal' }),
      404,
      'CONTACT_NOT_FOUND'
    );
    expectRejection(await call(url, 'GET', '/portal/dokumente/1'), 404, 'ROUTE_NOT_FOUND');
    const start = await http('POST', '/contracts/999999/signature-request', { as: 'crm' });
    expectRejection(start, 404, 'CONTRACT_NOT_FOUND');
  });

  test('413: bodies over the limit and images over signature.maxImageBytes', async () => {
    const big = await http('POST', '/contracts/signature-requests', {
      as: 'crm',
      raw: JSON.stringify({ contractIds: [1], pad: 'x'.repeat(BODY_LIMIT) }),
    });
    expectRejection(big, 413, 'PAYLOAD_TOO_LARGE');
    // Random pixels do not compress: well over the 4096-byte limit of this test's config.
    const noisy = new PNG({ width: 40, height: 40 });
    randomBytes(noisy.data.length).copy(noisy.data);
    const image = PNG.sync.write(noisy).toString('base64');
    expect(Buffer.from(image, 'base64').length).toBeGreaterThan(4096);
    const tooBig = await http('POST', '/contracts/1/signature', {
      as: 'portal',
      body: { contactId: 1, method: 'drawn', imagePngBase64: image },
    });
    expectRejection(tooBig, 413, 'IMAGE_TOO_LARGE');
    // A few bytes that claim 100 000 × 100 000 pixels: refused from the header, never decoded.
    const header = Buffer.from(png(1, 1), 'base64');
    header.writeUInt32BE(100_000, 16);
    header.writeUInt32BE(100_000, 20);
    const bomb = await http('POST', '/contracts/1/signature', {
      as: 'portal',
      body: { contactId: 1, method: 'drawn', imagePngBase64: header.toString('base64') },
    });
    expectRejection(bomb, 413, 'IMAGE_TOO_LARGE');
  });

  test('415: a body that is not JSON', async () => {
    const answer = await http('POST', '/contracts/1/confirmation', {
      as: 'staff',
      raw: 'staffContactId=4',
      headers: { 'content-type': 'text/plain' },
    });
    expectRejection(answer, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('422: the drawn image is checked in the API before the Update', async () => {
    const sign = (body: unknown) => http('POST', '/contracts/1/signature', { as: 'portal', body });
    expectRejection(await sign({ contactId: 1, method: 'drawn' }), 422, 'INVALID_SIGNATURE_INPUT');
    expectRejection(
      await sign({ contactId: 1, method: 'drawn', imagePngBase64: 'not base64!' }),
      422,
      'INVALID_SIGNATURE_INPUT'
    );
    expectRejection(
      await sign({ contactId: 1, method: 'drawn', imagePngBase64: Buffer.from('GIF89a....').toString('base64') }),
      422,
      'INVALID_SIGNATURE_INPUT'
    );
    // A PNG signature and header with a broken body: only a real decode notices.
    const broken = Buffer.from(png(20, 10, true), 'base64');
    broken.fill(0, 40, broken.length - 12);
    expectRejection(
      await sign({ contactId: 1, method: 'drawn', imagePngBase64: broken.toString('base64') }),
      422,
      'INVALID_SIGNATURE_INPUT'
    );
    expectRejection(
      await sign({ contactId: 1, method: 'click', imagePngBase64: png(10, 10) }),
      422,
      'INVALID_SIGNATURE_INPUT'
    );
  });

  test('the OpenAPI document lists every route of the outer contract with schemas and security', async () => {
    const answer = await call(url, 'GET', '/api/v1/openapi.json');
    expect(answer.status).toBe(200);
    const doc = answer.json;
    expect(doc.openapi).toMatch(/^3\./);
    const expected: [string, string][] = [
      ['post', '/api/v1/contracts/{id}/signature-request'],
      ['post', '/api/v1/contracts/signature-requests'],
      ['post', '/api/v1/contracts/{id}/signature'],
      ['post', '/api/v1/contracts/{id}/views'],
      ['post', '/api/v1/contracts/{id}/confirmation'],
      ['post', '/api/v1/contracts/{id}/withdrawal'],
      ['post', '/api/v1/contracts/{id}/reminder'],
      ['get', '/api/v1/contracts/{id}'],
      ['get', '/api/v1/contacts/{id}/pending-signatures'],
      ['get', '/api/v1/reports/signatures'],
      ['get', '/api/v1/reports/contracts'],
    ];
    expect(Object.keys(doc.paths).sort()).toEqual([...new Set(expected.map(([, p]) => p))].sort());
    for (const [method, path] of expected) {
      const op = doc.paths[path][method];
      expect(op).toBeDefined();
      expect(op.security.length).toBeGreaterThan(0);
      expect(op.description).toMatch(/^Roles: /);
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['400', '401', '403']));
    }
    expect(doc.paths['/api/v1/reports/contracts'].get.responses['200'].content).toHaveProperty(['text/csv']);
    expect(
      doc.paths['/api/v1/contracts/{id}/signature'].post.requestBody.content['application/json'].schema.required
    ).toEqual(['contactId', 'method']);
    expect(doc.components.securitySchemes.bearer).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
  });

  test('secrets never reach the log', async () => {
    expect(logLines.length).toBeGreaterThan(20);
    const log = logLines.join('\n');
    for (const secret of [...Object.values(TEST_TOKENS), TEST_HMAC_SECRET]) expect(log).not.toContain(secret);
    // Neither do the HMAC signatures of the calls above.
    expect(log).not.toMatch(/sha256=[0-9a-f]{64}/);
  });
});
