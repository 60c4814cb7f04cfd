/**
 * `npm run dev` as a user meets it, on free ports and a temporary data folder:
 * - the stack starts with payload encryption (dev key kept in the data folder), the codec server the Web UI is wired
 *   to, the Konnektor simulator and countersigning on;
 * - a demo contract started and signed over the API waits for the comfort signature, continues after
 *   `signflow konnektor activate` (the CLI, run with the printed `dev.env`), and ends `in Durchführung` with a QES
 *   document that verifies against the simulator's CA;
 * - the raw history holds only encrypted payloads, which the codec server decodes for the UI's origin;
 * - stop releases every port, and a restart on the same folder keeps the key, the workflows and the mail.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { redactUrl, startDevStack, type DevStack, type DevStackSummary } from '../../dev-stack/stack';
import { banner } from '../../dev-stack/main';
import { startDevInbox } from '../../mail/dev-inbox';
import { parseEnvFile } from '../../dev-stack/tool-paths';
import { createDb } from '../../db/connection';
import { verifyPdf } from '../../konnektor-simulator/cms';
import { DEV_API_CREDENTIALS } from '../../temporal.config';
import { runCli } from '../cli/run-cli';
import { verapdf, withJava } from '../helpers/verapdf';
import { stablePorts } from '../helpers/stable-ports';
import { LOCAL_ACTIVITY_MARKER } from '../../bench/actions';

const ENCRYPTED = 'binary/encrypted';
const tokens = DEV_API_CREDENTIALS.tokens;

async function portIsOpen(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function until<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

async function call(s: DevStackSummary, method: string, route: string, token: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${s.api?.url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** Payloads as the history holds them (bytes). */
interface RawPayload {
  path: string;
  metadata: Record<string, Uint8Array>;
  data: Uint8Array;
}
function collectPayloads(node: unknown, at: string, out: RawPayload[]): RawPayload[] {
  if (node === null || typeof node !== 'object' || node instanceof Uint8Array) return out;
  const o = node as Record<string, unknown>;
  if (o.metadata && typeof o.metadata === 'object' && o.data instanceof Uint8Array) {
    out.push({ path: at, metadata: o.metadata as Record<string, Uint8Array>, data: o.data });
    return out;
  }
  // A local activity's marker (the recording, generation 3 on): its `result` is the activity's encoded result; its
  // `data` is the SDK core's own bookkeeping (sequence number, attempt, activity id and type, times), written by core
  // and never given to a codec. `localActivityBookkeeping` checks that it holds nothing else.
  const localMarker = o.markerName === LOCAL_ACTIVITY_MARKER;
  for (const [k, v] of Object.entries(o)) {
    // Search attributes are indexed by Temporal, and a patch marker's data (the patch id) is written by the SDK core:
    // neither goes through a codec, by Temporal's design, and neither carries personal data.
    if (k === 'searchAttributes' || k === 'indexedFields' || k === 'patch-data') continue;
    if (localMarker && k === 'details') {
      const details = v as Record<string, unknown>;
      collectPayloads(details.result, `${at}.details.result`, out);
      continue;
    }
    collectPayloads(v, `${at}.${k}`, out);
  }
  return out;
}
const text = (b: Uint8Array | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('utf8');

/**
 * The keys of every local-activity marker's `data` (the SDK core's bookkeeping, not encrypted): only core's own fields,
 * so nothing of the contract can hide there.
 */
function localActivityBookkeeping(events: { markerRecordedEventAttributes?: unknown }[]): string[][] {
  return events.flatMap((e) => {
    const m = e.markerRecordedEventAttributes as
      { markerName?: string; details?: Record<string, { payloads?: { data?: Uint8Array }[] }> } | undefined;
    if (m?.markerName !== LOCAL_ACTIVITY_MARKER) return [];
    return (m.details?.data?.payloads ?? []).map((p) => Object.keys(JSON.parse(text(p.data)) as object).sort());
  });
}

describe('dev stack', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let ports: number[];
  let stack: DevStack | undefined;
  let firstKeyFile = '';

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-devstack-'));
    ports = await stablePorts(9);
    const [temporal, ui, smtp, inbox, api, codec, sim, simAdmin, webhooks] = ports.map(String);
    env = {
      ...process.env,
      SIGNFLOW_DATA_DIR: dir,
      SIGNFLOW_DATABASE_URL: '',
      SIGNFLOW_PORTAL_BASE_URL: '',
      SIGNFLOW_CODEC_KEYS: '',
      SIGNFLOW_CODEC_KEY_ID: '',
      SIGNFLOW_CODEC_SERVER_TOKENS: '',
      SIGNFLOW_DEV_CODEC: '',
      SIGNFLOW_DEV_KONNEKTOR: '',
      SIGNFLOW_DEV_TEMPORAL_PORT: temporal,
      SIGNFLOW_DEV_TEMPORAL_UI_PORT: ui,
      SIGNFLOW_DEV_SMTP_PORT: smtp,
      SIGNFLOW_DEV_INBOX_PORT: inbox,
      SIGNFLOW_API_PORT: api,
      SIGNFLOW_CODEC_SERVER_PORT: codec,
      SIGNFLOW_KONNEKTOR_SIM_PORT: sim,
      SIGNFLOW_KONNEKTOR_SIM_ADMIN_PORT: simAdmin,
      SIGNFLOW_DEV_WEBHOOKS_PORT: webhooks,
    };
  });
  afterAll(async () => {
    await stack?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a contract started and signed over the API is countersigned (QES) after activation, with encrypted payloads', async () => {
    stack = await startDevStack({ env, log: () => undefined, quiet: true });
    const s = stack.summary;
    expect(s.database).toMatchObject({ url: path.join(dir, 'crm.sqlite'), seeded: true });
    expect(s.temporal).toMatchObject({ reused: false, dbFile: path.join(dir, 'temporal.sqlite') });
    expect(s.codec).toMatchObject({ keysFile: path.join(dir, 'codec-keys.json'), keysCreated: true });
    expect(fs.statSync(path.join(dir, 'codec-keys.json')).mode & 0o777).toBe(0o600);
    firstKeyFile = fs.readFileSync(path.join(dir, 'codec-keys.json'), 'utf8');
    expect(s.konnektor).toMatchObject({
      simulated: true,
      clientZipPath: path.join(dir, 'konnektor-sim', 'client.zip'),
    });
    expect(stack.config.konnektor.enabled).toBe(true);
    const demo = s.database.seed?.contractIds[0] as number;
    const contactId = s.database.seed?.contactIds[0] as number;
    const printed = banner(s);
    for (const line of [
      `npx signflow start ${demo}`,
      'npx signflow konnektor activate',
      `${s.codec?.loginUrl}  token ${s.codec?.token}`,
      `Bearer ${tokens.crm}`,
      // The staff id for `confirm --staff` is named, with the seeded person.
      `Petra Schäfer, Kontakt ${s.database.seed?.staffContactId}`,
      `npx signflow confirm ${demo} --staff ${s.database.seed?.staffContactId}`,
    ]) {
      expect(printed).toContain(line);
    }

    // Every URL the banner prints answers something useful (an index page, a route listing, a short help), never 404.
    // Left out: the command lines (the curl POST is made below, as the banner says) and the Konnektor simulator's
    // https endpoint, which answers only with the client certificate (mutual TLS).
    const urls = printed
      .split('\n')
      .filter((l) => !/^\s+(curl|npx|set -a)/.test(l))
      .flatMap((l) => l.match(/http:\/\/[^\s)"]+/g) ?? []);
    expect(urls).toEqual(expect.arrayContaining([s.api?.url, s.codec?.endpoint, s.temporal.uiUrl]));
    expect(urls.some((u) => /\/portal\//.test(u))).toBe(true);
    for (const url of new Set(urls)) {
      const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
      const body = await res.text();
      expect([url, res.status]).not.toEqual([url, 404]);
      expect([url, body.trim().length > 0]).toEqual([url, true]);
    }
    // The README's links without an id: the portal's and the API's index.
    const apiOrigin = (s.api?.url ?? '').replace(/\/api\/v1$/, '');
    for (const pathOnly of ['/portal', '/api/v1', '/api/v1/']) {
      const res = await fetch(apiOrigin + pathOnly, { signal: AbortSignal.timeout(30_000) });
      expect([pathOnly, res.status]).toEqual([pathOnly, 200]);
    }
    const index = (await (await fetch(`${apiOrigin}/api/v1`)).json()) as { routes: { method: string; path: string }[] };
    expect(index.routes).toEqual(
      expect.arrayContaining([{ method: 'POST', path: '/api/v1/contracts/:id/signature-request' }])
    );

    // The Web UI answers and decodes through our codec server.
    const settings = (await (await fetch(`${s.temporal.uiUrl}/api/v1/settings`)).json()) as {
      Codec: { Endpoint: string };
    };
    expect(settings.Codec.Endpoint).toBe(s.codec?.endpoint);

    // Start over the API, as the banner says; the invitation arrives in the inbox.
    const started = await call(s, 'POST', `/contracts/${demo}/signature-request`, tokens.crm);
    expect([started.status, started.json.workflowId]).toEqual([202, `honorarvertrag-${demo}`]);
    await until('the invitation .eml', () => {
      const dir = s.mail.dir ?? '';
      const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.eml')) : [];
      return files[0];
    });

    // Sign over the API as the portal; the document may still be in preparation for a moment.
    const signed = await until('the signature', async () => {
      const a = await call(s, 'POST', `/contracts/${demo}/signature`, tokens.portal, { contactId, method: 'click' });
      if (a.status === 409 && a.json.code === 'SIGNATURE_NOT_READY') return undefined;
      return a;
    });
    expect([signed.status, signed.json.kind]).toEqual([200, 'signed']);

    // No comfort signature yet: the contract waits for it, visibly.
    const waiting = await until('the comfort-signature wait', async () => {
      const a = await call(s, 'GET', `/contracts/${demo}`, tokens.ops);
      return a.json?.state?.phase === 'waiting-for-comfort-signature' ? a : undefined;
    });
    expect(waiting.json.state.waitingDetail).toContain('COMFORT_SIGNATURE_NOT_ACTIVE');

    // Staff activate it with the CLI, configured only by the printed env file.
    const cliEnv = parseEnvFile(fs.readFileSync(s.envFile, 'utf8'));
    const activated = await runCli(['konnektor', 'activate', '--json'], cliEnv, 30_000);
    expect(activated.code).toBe(0);
    expect(activated.json()).toMatchObject({ action: 'activate', active: true, notified: 1 });

    const done = await until('the completed workflow', async () => {
      const a = await call(s, 'GET', `/contracts/${demo}`, tokens.ops);
      return a.json?.workflow?.status === 'COMPLETED' ? a : undefined;
    });
    const qesDocumentId = done.json.state.qesDocumentId as number;
    expect(qesDocumentId).toBeGreaterThan(0);

    // The CRM: contract in Durchführung, the QES document linked to it and valid against the simulator's CA.
    const db = createDb(s.database.url, { poolMax: 1 });
    try {
      const crm = stack.config.crm;
      const contract = await db(crm.contracts.table).where(crm.contracts.id, demo).first();
      expect(contract[crm.contracts.status]).toBe('in Durchführung');
      const qes = await db(crm.documents.table).where(crm.documents.id, qesDocumentId).first();
      expect(qes[crm.documents.templateKind]).toBe(crm.values.qesTemplateKind);
      expect(Number(qes[crm.documents.linkedObjectId])).toBe(demo);
      const pdf = Buffer.from(qes[crm.documents.content] as Uint8Array);
      const sim = stack.konnektorSimulator;
      expect(verifyPdf(pdf, sim?.caPem ?? '', new Date())).toMatchObject({ valid: true });

      // The Prüfprotokoll is among the contract's documents; it and the contract document are PDF/A for veraPDF.
      const certificate = await db(crm.documents.table)
        .where(crm.documents.linkedObjectId, demo)
        .andWhere(crm.documents.templateKind, crm.values.certificateTemplateKind)
        .first();
      expect(certificate[crm.documents.title]).toBe(`Prüfprotokoll zu Honorarvertrag ${demo}`);
      const contractDocument = await db(crm.documents.table)
        .where(crm.documents.linkedObjectId, demo)
        .andWhere(crm.documents.templateKind, crm.values.contractTemplateKind)
        .first();
      if (withJava) {
        const files = [certificate, contractDocument].map((row, i) => {
          const file = path.join(os.tmpdir(), `signflow-dev-stack-${process.pid}-${i}.pdf`);
          fs.writeFileSync(file, Buffer.from(row[crm.documents.content] as Uint8Array));
          return file;
        });
        const results = await verapdf(files);
        for (const file of files) expect(results.get(file)).toEqual({ compliant: true, failedRules: [] });
      }
    } finally {
      await db.destroy();
    }

    // `signflow verify`, configured only by dev.env: signature MD5, the Prüfprotokoll's hash and the QES (chain to the
    // simulator's CA, which dev.env names as the trust anchor).
    const verified = await runCli(['verify', String(demo), '--json'], cliEnv, 60_000);
    expect(verified.code).toBe(0);
    expect(verified.json()).toMatchObject({
      match: true,
      certificate: { match: true },
      qes: { valid: true, variant: 'PAdES', qesDocumentId },
    });

    // The raw history, read without the codec: every payload is encrypted.
    const connection = await Connection.connect({ address: s.temporal.address });
    let payloads: RawPayload[];
    try {
      const { history } = await connection.workflowService.getWorkflowExecutionHistory({
        namespace: s.temporal.namespace,
        execution: { workflowId: `honorarvertrag-${demo}` },
      });
      payloads = collectPayloads(history, 'history', []);
      // The preparation (generation 5), the recording (generation 3) and the confirmation mail (generation 4) ran as
      // local activities: their results are among the payloads above, encrypted.
      const bookkeeping = localActivityBookkeeping(history?.events ?? []);
      expect(bookkeeping).toHaveLength(3);
      const coreFields = [
        'activity_id',
        'activity_type',
        'attempt',
        'backoff',
        'complete_time',
        'original_schedule_time',
        'seq',
      ];
      for (const keys of bookkeeping) expect(coreFields).toEqual(expect.arrayContaining(keys));
    } finally {
      await connection.close();
    }
    expect(payloads.length).toBeGreaterThan(10);
    const clear = payloads.filter((p) => text(p.metadata.encoding) !== ENCRYPTED).map((p) => p.path);
    expect(clear).toEqual([]);
    expect(payloads.every((p) => text(p.metadata['encryption-key-id']) === s.codec?.keyId)).toBe(true);
    expect(payloads.some((p) => text(p.data).includes('example.org'))).toBe(false);

    // The codec server decodes them for the dev UI's own origin (trusted without a token, so the UI needs no clicks)
    // and with the dev token; another origin is refused, and a request without origin needs the token.
    const asJson = payloads.map((p) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      data: Buffer.from(p.data).toString('base64'),
    }));
    const origin = `http://localhost:${env.SIGNFLOW_DEV_TEMPORAL_UI_PORT}`;
    const decode = (headers: Record<string, string>) =>
      fetch(`${s.codec?.endpoint}/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin, 'x-namespace': s.temporal.namespace, ...headers },
        body: JSON.stringify({ payloads: asJson }),
      });
    expect((await decode({ origin: 'http://localhost:1' })).status).toBe(403);
    const withoutOrigin = await fetch(`${s.codec?.endpoint}/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-namespace': s.temporal.namespace },
      body: JSON.stringify({ payloads: asJson }),
    });
    expect(withoutOrigin.status).toBe(401);
    expect((await decode({})).status).toBe(200);
    const res = await decode({ authorization: `Bearer ${s.codec?.token}` });
    expect([res.status, res.headers.get('access-control-allow-origin')]).toEqual([200, origin]);
    const decoded = ((await res.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> })
      .payloads;
    expect(decoded).toHaveLength(payloads.length);
    const plain = decoded.map((p) => Buffer.from(p.data, 'base64').toString('utf8'));
    expect(decoded.every((p) => Buffer.from(p.metadata.encoding ?? '', 'base64').toString() !== ENCRYPTED)).toBe(true);
    expect(plain).toContain('"Honorarvertrag ' + demo + ': Unterschrift einholen"'); // the static summary
    expect(plain.some((p) => p.includes(`"contractId":${demo}`))).toBe(true); // the workflow input
    // The signature's outcome as the API answered it, and the countersignature stored for the contract.
    expect(plain.some((p) => p.includes(`"md5Hash":"${signed.json.md5Hash}"`))).toBe(true);
    expect(plain.some((p) => p.includes(`"qesDocumentId":${qesDocumentId}`))).toBe(true);

    // A second contract stays waiting for its signature, for the restart below.
    const second = s.database.seed?.contractIds[1] as number;
    expect((await call(s, 'POST', `/contracts/${second}/signature-request`, tokens.crm)).status).toBe(202);
    await until('the second contract waiting', async () => {
      const a = await call(s, 'GET', `/contracts/${second}`, tokens.ops);
      return a.json?.state?.phase === 'awaiting-signature' ? true : undefined;
    });

    await stack.stop();
    stack = undefined;
    for (const port of ports) expect(await portIsOpen(port)).toBe(false);
  }, 300_000);

  test('a restart on the same data folder keeps the codec key, the workflows and the mail', async () => {
    await stack?.stop(); // left running only when the test above failed
    stack = await startDevStack({ env, log: () => undefined, quiet: true });
    const s = stack.summary;
    expect(s.codec?.keysCreated).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'codec-keys.json'), 'utf8')).toBe(firstKeyFile);
    const [first, second] = s.database.seed?.contractIds as [number, number];

    // Answering the query means replaying the history written before the restart: it decrypts with the kept key.
    const waiting = await call(s, 'GET', `/contracts/${second}`, tokens.ops);
    expect([waiting.json.workflow.status, waiting.json.state.phase]).toEqual(['RUNNING', 'awaiting-signature']);
    const done = await call(s, 'GET', `/contracts/${first}`, tokens.ops);
    expect(done.json.workflow.status).toBe('COMPLETED');

    // Invitation and confirmation of the first contract, invitation of the second.
    const mails = (await (await fetch(`${s.mail.inboxUrl}api/messages`)).json()) as Array<{ id: number }>;
    expect(mails.map((m) => m.id).sort()).toEqual([1, 2, 3]);
  });

  test('with SIGNFLOW_SMTP_URL the stack sends there, starts no inbox of its own and says so in the banner', async () => {
    await stack?.stop();
    stack = undefined;
    const external = await startDevInbox({ port: 0 });
    try {
      const smtpUrl = `smtp://127.0.0.1:${external.port}`;
      stack = await startDevStack({ env: { ...env, SIGNFLOW_SMTP_URL: smtpUrl }, log: () => undefined, quiet: true });
      const s = stack.summary;
      expect(s.mail).toMatchObject({ external: true, smtpUrl: `${smtpUrl}` });
      expect(s.mail.inboxUrl).toBeUndefined();
      expect(banner(s)).toContain(`SMTP server     ${smtpUrl}  (SIGNFLOW_SMTP_URL`);
      expect(banner(s)).not.toContain('Inbox page');
      expect(await portIsOpen(Number(env.SIGNFLOW_DEV_SMTP_PORT))).toBe(false);
      const contractId = s.database.seed?.contractIds.at(-1) as number;
      const started = await call(s, 'POST', `/contracts/${contractId}/signature-request`, tokens.crm);
      expect(started.status).toBe(202);
      const mail = await external.waitFor(
        (m) => m.headers['x-signflow-mail-key'] === `honorarvertrag-${contractId}:invitation`,
        60_000
      );
      expect(mail.subject).toBeTruthy();
    } finally {
      await stack?.stop();
      stack = undefined;
      await external.close();
    }
  });

  test('the banner never shows an SMTP password', () => {
    expect(redactUrl('smtps://praxis:geheim@relay.example:465')).toBe('smtps://praxis:***@relay.example:465');
    expect(redactUrl('smtp://127.0.0.1:25')).toBe('smtp://127.0.0.1:25');
  });
});
