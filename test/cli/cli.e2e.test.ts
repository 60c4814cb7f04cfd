/**
 * `signflow` as a subprocess against the real parts: `temporal server start-dev`, a real worker with the real
 * activities, a SQLite CRM database, an SMTP server on loopback, and payload encryption switched on (the worker and
 * the CLI share SIGNFLOW_CODEC_KEYS, the workflow bundle carries the encrypting failure converter).
 *
 * Each test owns its contracts (added to the seeded database), so the order of the tests matters only where a test says
 * so in its name.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PNG } from 'pngjs';
import { contractStatus } from '../../client/contract-client';
import { createDataConverter, FAILURE_CONVERTER_PATH } from '../../codec/data-converter';
import { startDevInbox, type DevInbox } from '../../mail/dev-inbox';
import { startCodecServer, type RunningCodecServer } from '../../codec/codec-server';
import { temporalCliPath } from '../../dev-stack/tool-paths';
import { ErrorCode } from '../../domain/errors';
import { deepMerge, loadConfig, type SignflowConfig } from '../../temporal.config';
import { createWorker, type RunningWorker } from '../../worker/run-worker';
import type { ContractPhase } from '../../workflows/definitions';
import { KEY_2025, KEY_2026, keysEnv } from '../codec/codec-keys';
import { createTestDb, type TestDb } from '../../harness/databases';
import { startDevServer, type DevServerHandle } from '../../harness/temporal';
import { eventually } from '../helpers/waits';
import { runCli } from './run-cli';

const CODEC_TOKEN = 'cli-e2e-codec-token-0123456789';

let server: DevServerHandle;
let smtp: DevInbox;
let t: TestDb;
let config: SignflowConfig;
let worker: RunningWorker;
let client: Client;
let env: Record<string, string>;
let tmp: string;
let contractCounter = 0;

/** A fresh sendable contract of `contactId` (default: the first seeded freelancer). */
async function newContract(contactId = t.seed.contactIds[0] as number): Promise<number> {
  const c = config.crm.contracts;
  const inserted: unknown[] = await t.db(c.table).insert(
    {
      [c.contactId]: contactId,
      [c.title]: `Honorarvertrag CLI-Test ${++contractCounter}`,
      [c.status]: config.crm.values.contractSendableStatuses[0],
      [c.start]: '2027-01-01',
      [c.end]: '2027-06-30',
      [c.feeCents]: 98765,
      [c.description]: 'Vertrag für die CLI-Tests',
    },
    [c.id]
  );
  const first = inserted[0] as number | Record<string, number>;
  return typeof first === 'number' ? first : Number(first[c.id]);
}

/** Polls the workflow's query (through the encrypting client) until `phase`; bounded. */
async function waitForPhase(contractId: number, phase: ContractPhase, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: string | undefined;
  while (Date.now() < until) {
    try {
      last = (await contractStatus(client, contractId)).phase;
      if (last === phase) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`contract ${contractId} did not reach phase ${phase} within ${timeoutMs} ms (last: ${last})`);
}

async function startAndAwaitSignature(contactId?: number): Promise<number> {
  const id = await newContract(contactId);
  const run = await runCli(['start', String(id), '--json'], env);
  expect(run.code).toBe(0);
  await waitForPhase(id, 'awaiting-signature');
  return id;
}

function whitePng(): Buffer {
  const png = new PNG({ width: 24, height: 12 });
  png.data.fill(0xff);
  return PNG.sync.write(png);
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-cli-e2e-'));
  server = await startDevServer();
  smtp = await startDevInbox({ port: 0 });
  const overrides = {
    temporal: { address: server.address, namespace: server.namespace, taskQueue: `signflow-cli-${process.pid}` },
    mail: { smtpUrl: `smtp://127.0.0.1:${smtp.port}` },
    codec: { keys: [KEY_2026], server: { host: '127.0.0.1', port: 0, tokens: [CODEC_TOKEN] } },
  };
  t = await createTestDb('sqlite', { config: overrides });
  config = loadConfig(deepMerge(overrides, { database: { url: t.url } }), {});
  const dataConverter = createDataConverter(config);
  // The bundle must carry the failure converter itself: the sandbox ignores the worker's failureConverterPath.
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: { trace() {}, debug() {}, info() {}, log() {}, warn: console.warn, error: console.error },
  });
  const codePath = path.join(tmp, 'workflows-bundle.js');
  fs.writeFileSync(codePath, code);
  worker = await createWorker(config, {
    connection: server.env.nativeConnection,
    workflowBundle: { codePath },
    db: t.db,
    dataConverter,
  });
  client = new Client({ connection: server.env.connection, namespace: server.namespace, dataConverter });
  env = {
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: server.namespace,
    SIGNFLOW_TASK_QUEUE: config.temporal.taskQueue,
    SIGNFLOW_DATABASE_URL: t.url,
    SIGNFLOW_CODEC_KEYS: keysEnv(KEY_2026),
  };
}, 180_000);

afterAll(async () => {
  await worker?.shutdown();
  await smtp?.close();
  await t?.destroy();
  await server?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe('usage and lookups', () => {
  test('a usage error exits 2, with a JSON error under --json', async () => {
    const run = await runCli(['sign', '12', '--contact', 'abc', '--json'], env);
    expect(run.code).toBe(2);
    // A malformed id is VALIDATION_FAILED, as the API and the outbox answer it; still a usage error (exit 2).
    expect(run.json().error).toMatchObject({ code: 'VALIDATION_FAILED', exitCode: 2 });
    expect(run.json().error.message).toContain('must be a positive decimal integer');

    const unknownVerb = await runCli(['frobnicate'], env);
    expect(unknownVerb.code).toBe(2);
    const noSource = await runCli(['bulk', '--json'], env);
    expect(noSource.code).toBe(2);
    expect(noSource.json().error.message).toContain('--csv <file> or --ids <list>');
  });

  test('start of an unknown contract exits 3 and starts nothing', async () => {
    const run = await runCli(['start', '999999', '--json'], env);
    expect(run.code).toBe(3);
    expect(run.json()).toMatchObject({ contractId: 999999, ok: false, error: { code: ErrorCode.CONTRACT_NOT_FOUND } });
    const status = await runCli(['status', '999999', '--json'], env);
    expect(status.code).toBe(3);
    expect(status.json().error.code).toBe('SIGNATURE_REQUEST_NOT_FOUND');
  });

  test('an unreachable Temporal exits 4', async () => {
    const run = await runCli(['status', '1', '--json'], { ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(run.code).toBe(4);
    expect(run.json().error.code).toBe('TEMPORAL_UNAVAILABLE');
  });

  test('an invalid configuration exits 5 and names the variable', async () => {
    const run = await runCli(['status', '1', '--json'], { ...env, SIGNFLOW_CODEC_KEYS: 'k:tooshort' });
    expect(run.code).toBe(5);
    expect(run.json().error.message).toContain('codec.keys.0');
  });
});

describe('a contract from start to verify', () => {
  let contractId: number;
  let signatureId: number;

  test('start joins a running process instead of starting a second one', async () => {
    contractId = await newContract();
    const first = await runCli(['start', String(contractId), '--json'], env);
    expect(first.code).toBe(0);
    expect(first.json()).toMatchObject({ contractId, ok: true, workflowId: `honorarvertrag-${contractId}` });
    const second = await runCli(['start', String(contractId), '--json'], env);
    expect(second.code).toBe(0);
    expect(second.json().runId).toBe(first.json().runId);
  });

  test('status shows the process waiting for the signature', async () => {
    await waitForPhase(contractId, 'awaiting-signature');
    const run = await runCli(['status', String(contractId), '--json'], env);
    expect(run.code).toBe(0);
    const report = run.json();
    expect(report.execution.status).toBe('RUNNING');
    expect(report.state).toMatchObject({ contractId, phase: 'awaiting-signature', contactId: t.seed.contactIds[0] });
    expect(report.searchAttributes.CrmContractId).toBe(contractId);
    signatureId = report.state.signatureId;
    expect(signatureId).toBeGreaterThan(0);

    const human = await runCli(['status', String(contractId)], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`Honorarvertrag ${contractId}: RUNNING`);
    expect(human.stdout).toMatch(/phase:\s+awaiting-signature/);
    // The search attributes, as docs/cli.md promises for the human output too.
    expect(human.stdout).toMatch(/CrmContractId:\s+\d+/);
    expect(human.stdout).toMatch(/WaitingReason:\s+signature/);
    // The contract's mails, from signflow_mails (refused ones too, see test/cli/status-format.test.ts).
    expect(human.stdout).toMatch(/mail invitation:\s+sent \d{4}-/);
    expect(report.mails).toMatchObject([{ mail: 'invitation', status: 'sent' }]);

    // --verbose: JSON lines on stderr; the closing one names the contract, its workflow and the run it concerned, and
    // no line carries the freelancer's name or address.
    const verbose = await runCli(['status', String(contractId), '--verbose'], env);
    expect(verbose.code).toBe(0);
    const lines = verbose.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const done = lines.find((l) => l.msg === 'done');
    expect(done).toMatchObject({
      contractId,
      workflowId: `honorarvertrag-${contractId}`,
      runId: report.runId,
    });
    const k = config.crm.contacts;
    const contact = await t.db(k.table).where(k.id, t.seed.contactIds[0]).first();
    expect(verbose.stderr).not.toContain(contact[k.email]);
    expect(verbose.stderr).not.toContain(contact[k.lastName]);
  });

  test('the wrong signer is refused with exit 1 and the decrypted reason', async () => {
    const run = await runCli(['sign', String(contractId), '--contact', String(t.seed.staffContactId), '--json'], env);
    expect(run.code).toBe(1);
    // The message went through the encrypting failure converter: readable here only because the CLI has the key.
    expect(run.json().error).toEqual({
      code: ErrorCode.WRONG_SIGNER,
      message: `contact ${t.seed.staffContactId} may not sign contract ${contractId}`,
      exitCode: 1,
      details: { contractId },
    });
  });

  test('sign records the signature exactly as the workflow reports it', async () => {
    const contactId = t.seed.contactIds[0] as number;
    const run = await runCli(['sign', String(contractId), '--contact', String(contactId), '--json'], env);
    expect(run.code).toBe(0);
    const outcome = run.json();
    expect(outcome).toMatchObject({
      contractId,
      kind: 'signed',
      signatureId,
      userContactId: contactId,
      method: 'click',
    });
    const s = config.crm.signatures;
    const row = await t.db(s.table).where(s.id, signatureId).first();
    expect(row[s.status]).toBe('gültig');
    expect(row[s.md5Hash]).toBe(outcome.md5Hash);
  });

  test('a second signature is refused with exit 1', async () => {
    const run = await runCli(['sign', String(contractId), '--contact', String(t.seed.contactIds[0]), '--json'], env);
    expect(run.code).toBe(1);
    // Still running (confirmation mail) or already completed: both are a refusal, never a second signature.
    expect(run.json().error.code).toBe(ErrorCode.SIGNATURE_ALREADY_CONFIRMED);
  });

  test('verify recomputes the MD5 from the database: exit 0 on match', async () => {
    const run = await runCli(['verify', String(contractId), '--json'], env);
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({
      contractId,
      signatureId,
      match: true,
      inputs: { method: 'click' },
      documentDigestMatches: true,
    });
  });

  test('once completed, verify also checks the Prüfprotokoll; a changed certificate exits 1', async () => {
    await eventually(async () => expect((await contractStatus(client, contractId)).phase).toBe('completed'), 60_000);
    const ok = await runCli(['verify', String(contractId), '--json'], env);
    expect(ok.code).toBe(0);
    const certificate = ok.json().certificate;
    expect(certificate).toMatchObject({ match: true });
    expect(certificate.actualSha256).toBe(certificate.auditedSha256);
    const row = await t.db('dokumente').where('id', certificate.documentId).first();
    const original = Buffer.from(row.inhalt);
    const changed = Buffer.concat([original, Buffer.from('\n% appended\n')]);
    await t.db('dokumente').where('id', certificate.documentId).update({ inhalt: changed });
    const bad = await runCli(['verify', String(contractId)], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/Prüfprotokoll \(document \d+\): MISMATCH/);
    await t.db('dokumente').where('id', certificate.documentId).update({ inhalt: original });
  });

  test('webhooks list shows the log; replay of an unknown delivery exits 3', async () => {
    const list = await runCli(['webhooks', 'list', '--contract', String(contractId), '--json'], env);
    expect(list.code).toBe(0);
    expect(list.json()).toEqual([]); // no endpoint configured in this suite
    const replay = await runCli(['webhooks', 'replay', '999999', '--json'], env);
    expect(replay.code).toBe(3);
    expect(replay.json().error.code).toBe('WEBHOOK_DELIVERY_NOT_FOUND');
  });

  test('report lists the signature and the contract, as JSON and as a table', async () => {
    const sigs = await runCli(['report', 'signatures', '--contract', String(contractId), '--json'], env);
    expect(sigs.code).toBe(0);
    expect(sigs.json().rows).toEqual([
      expect.objectContaining({
        signatureId,
        status: 'gültig',
        byAuthenticatedClick: true,
        linkedObjectId: contractId,
      }),
    ]);
    const contracts = await runCli(['report', 'contracts', '--status', 'in Durchführung', '--json'], env);
    expect(contracts.code).toBe(0);
    expect(contracts.json().rows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ contractId, status: 'in Durchführung', confirmedByFreelancer: true }),
      ])
    );
    const table = await runCli(['report', 'signatures', '--contract', String(contractId)], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^Unterschriften zu Dokumenten\n\nUnterschrift-ID\s+Status/);
    expect(table.stdout).toMatch(new RegExp(`\\n${signatureId}\\s+gültig\\s`));
    expect(table.stdout).toContain('1 row');
  });
});

describe('drawn signatures, staff confirmation, tampering', () => {
  test('a drawn signature verifies; after its image is altered in the database, verify exits 1', async () => {
    const contactId = t.seed.contactIds[1] as number;
    const contractId = await startAndAwaitSignature(contactId);
    const pngFile = path.join(tmp, 'signature.png');
    fs.writeFileSync(pngFile, whitePng());
    const signed = await runCli(
      ['sign', String(contractId), '--contact', String(contactId), '--drawn', pngFile, '--json'],
      env
    );
    expect(signed.code).toBe(0);
    expect(signed.json()).toMatchObject({ kind: 'signed', method: 'drawn' });
    const signatureId: number = signed.json().signatureId;

    const ok = await runCli(['verify', '--signature', String(signatureId), '--json'], env);
    expect(ok.code).toBe(0);
    expect(ok.json()).toMatchObject({ match: true, inputs: { method: 'drawn' } });
    const imageDocumentId: number = ok.json().inputs.imageDocumentId;
    expect(imageDocumentId).toBeGreaterThan(0);

    // Somebody swaps the stored signature image for another one.
    const d = config.crm.documents;
    const other = new PNG({ width: 24, height: 12 });
    other.data.fill(0x00);
    await t
      .db(d.table)
      .where(d.id, imageDocumentId)
      .update({ [d.content]: PNG.sync.write(other) });

    const bad = await runCli(['verify', '--signature', String(signatureId), '--json'], env);
    expect(bad.code).toBe(1);
    const v = bad.json();
    expect(v.match).toBe(false);
    expect(v.computedMd5).not.toBe(v.storedMd5);
    const human = await runCli(['verify', '--signature', String(signatureId)], env);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain('MISMATCH');
  });

  test('a tampered signing time in the signature row is a mismatch', async () => {
    const contactId = t.seed.contactIds[2] as number;
    const contractId = await startAndAwaitSignature(contactId);
    const signed = await runCli(['sign', String(contractId), '--contact', String(contactId), '--json'], env);
    expect(signed.code).toBe(0);
    const signatureId: number = signed.json().signatureId;
    const s = config.crm.signatures;
    await t
      .db(s.table)
      .where(s.id, signatureId)
      .update({ [s.signedAt]: new Date(Date.parse(signed.json().confirmedAt) + 1) });
    const run = await runCli(['verify', '--signature', String(signatureId), '--json'], env);
    expect(run.code).toBe(1);
    expect(run.json().match).toBe(false);
  });

  test('confirm by staff records a staff confirmation that verifies', async () => {
    const contractId = await startAndAwaitSignature();
    const run = await runCli(['confirm', String(contractId), '--staff', String(t.seed.staffContactId), '--json'], env);
    expect(run.code).toBe(0);
    expect(run.json()).toMatchObject({ kind: 'confirmed', method: 'staff', userContactId: t.seed.staffContactId });
    const verify = await runCli(['verify', String(contractId), '--json'], env);
    expect(verify.code).toBe(0);
    expect(verify.json().inputs.method).toBe('staff');
  });
});

describe('withdraw, resend, bulk', () => {
  test('withdraw ends the process; a later withdraw or sign is refused as ended', async () => {
    const contractId = await startAndAwaitSignature();
    const resend = await runCli(['resend', String(contractId), '--json'], env);
    expect(resend.code).toBe(0);
    expect(resend.json()).toMatchObject({ contractId, signal: 'resend', accepted: true });

    const run = await runCli(
      ['withdraw', String(contractId), '--staff', String(t.seed.staffContactId), '--reason', 'Test', '--json'],
      env
    );
    expect([run.code, run.json()]).toEqual([
      0,
      { contractId, workflowId: `honorarvertrag-${contractId}`, result: 'withdrawn' },
    ]);
    await waitForPhase(contractId, 'withdrawn');
    // Wait for the close, bounded, then ask again.
    const until = Date.now() + 30_000;
    let status = await runCli(['status', String(contractId), '--json'], env);
    while (status.json().execution.status === 'RUNNING' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 500));
      status = await runCli(['status', String(contractId), '--json'], env);
    }
    expect(status.json()).toMatchObject({ execution: { status: 'COMPLETED' }, result: { outcome: 'withdrawn' } });

    const again = await runCli(['withdraw', String(contractId), '--json'], env);
    expect(again.code).toBe(1);
    expect(again.json().error.code).toBe('SIGNATURE_WITHDRAWN');
    const resendMissing = await runCli(['resend', '999998', '--json'], env);
    expect(resendMissing.code).toBe(3);
  });

  test('bulk starts the known contracts, reports the unknown one, exits 3', async () => {
    const a = await newContract();
    const b = await newContract();
    const run = await runCli(['bulk', '--ids', `${a},${b},999997`, '--concurrency', '2', '--json'], env);
    expect(run.code).toBe(3);
    const out = run.json();
    expect(out).toMatchObject({ total: 3, started: 2, failed: 1 });
    expect(out.results).toEqual([
      expect.objectContaining({ contractId: a, ok: true, workflowId: `honorarvertrag-${a}` }),
      expect.objectContaining({ contractId: b, ok: true }),
      expect.objectContaining({
        contractId: 999997,
        ok: false,
        error: expect.objectContaining({ code: 'CONTRACT_NOT_FOUND' }),
      }),
    ]);
  });

  test('bulk from a semicolon CSV with a header', async () => {
    const a = await newContract();
    const b = await newContract();
    const csv = path.join(tmp, 'vertraege.csv');
    fs.writeFileSync(csv, `Titel;honorarvertrag_id\nErster;${a}\nZweiter;${b}\n`);
    const run = await runCli(['bulk', '--csv', csv], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('2 of 2 contracts started, 0 refused');
  });
});

describe('encryption as ops see it', () => {
  test('without the codec keys (no `. data/dev.env`), status exits 5 CODEC_KEY_UNKNOWN naming the key it needs', async () => {
    const contractId = await startAndAwaitSignature();
    const { SIGNFLOW_CODEC_KEYS: _keys, ...noKeys } = env;
    const json = await runCli(['status', String(contractId), '--json'], noKeys);
    expect(json.code).toBe(5);
    expect(json.json().stateError.code).toBe('CODEC_KEY_UNKNOWN');
    expect(json.json().stateError.message).toContain(`codec key "${KEY_2026.id}"`);
    expect(json.json().stateError.message).toContain('SIGNFLOW_CODEC_KEYS');
    expect(json.json().stateError.message).toContain('data/dev.env');

    const human = await runCli(['status', String(contractId)], noKeys);
    expect(human.code).toBe(5);
    expect(human.stdout + human.stderr).toMatch(/codec key "k2026".*\[CODEC_KEY_UNKNOWN\]/);
    expect(human.stdout + human.stderr).not.toMatch(/Unknown encoding|INTERNAL/);

    // Only another key: the same code, and the message lists what is configured.
    const otherKey = await runCli(['status', String(contractId), '--json'], {
      ...noKeys,
      SIGNFLOW_CODEC_KEYS: keysEnv(KEY_2025),
    });
    expect(otherKey.code).toBe(5);
    expect(otherKey.json().stateError.code).toBe('CODEC_KEY_UNKNOWN');
    expect(otherKey.json().stateError.message).toContain('configured: k2025');

    // A verb whose workflow answer is encrypted (an update's refusal): the same code, through the CLI's error line.
    const sign = await runCli(['sign', String(contractId), '--contact', '999', '--json'], noKeys);
    expect(sign.code).toBe(5);
    expect(sign.json().error).toMatchObject({ code: 'CODEC_KEY_UNKNOWN', details: { keyId: KEY_2026.id } });
  });

  test('Temporal stores ciphertext; `temporal workflow show` decodes it through the codec server', async () => {
    const contractId = await startAndAwaitSignature();
    const workflowId = `honorarvertrag-${contractId}`;
    // The raw history, read without keys: no payload is readable.
    const history = await server.env.client.workflow.getHandle(workflowId).fetchHistory();
    const raw = JSON.stringify(history);
    expect(raw).not.toContain('CLI-Test');
    // Every payload the workflow and its activities exchanged is ciphertext under the current key.
    const payloads = (history.events ?? []).flatMap((e) => [
      ...(e.workflowExecutionStartedEventAttributes?.input?.payloads ?? []),
      ...(e.activityTaskScheduledEventAttributes?.input?.payloads ?? []),
      ...(e.activityTaskCompletedEventAttributes?.result?.payloads ?? []),
    ]);
    expect(payloads.length).toBeGreaterThanOrEqual(3);
    for (const p of payloads) {
      expect(Buffer.from(p.metadata?.encoding ?? []).toString()).toBe('binary/encrypted');
      expect(Buffer.from(p.metadata?.['encryption-key-id'] ?? []).toString()).toBe(KEY_2026.id);
    }

    // The codec server's own request log (Fastify logs every answer with its status): what it said to the CLI.
    const answered: { status: number }[] = [];
    const log = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          const entry = JSON.parse(line) as { res?: { statusCode?: number } };
          if (entry.res?.statusCode) answered.push({ status: entry.res.statusCode });
        }
        done();
      },
    });
    const codec: RunningCodecServer = await startCodecServer(config, { logger: { level: 'info', stream: log } });
    try {
      const cli = temporalCliPath();
      const base = [
        'workflow',
        'show',
        '--workflow-id',
        workflowId,
        '--address',
        server.address,
        '--namespace',
        server.namespace,
        '--output',
        'json',
      ];
      const exec = promisify(execFile);
      const decoded = await exec(
        cli,
        [...base, '--codec-endpoint', codec.endpoint, '--codec-auth', `Bearer ${CODEC_TOKEN}`],
        {
          timeout: 30_000,
          maxBuffer: 16 * 1024 * 1024,
        }
      );
      // The Temporal CLI prints payloads as proto3 JSON (base64); decoded means: the codec server turned them back
      // into the worker's json/plain input.
      const shown = JSON.parse(decoded.stdout) as { events: Array<Record<string, any>> }; // eslint-disable-line @typescript-eslint/no-explicit-any
      const startedInput = shown.events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      expect(Buffer.from(startedInput?.metadata?.encoding ?? '', 'base64').toString()).toBe('json/plain');
      expect(JSON.parse(Buffer.from(startedInput?.data ?? '', 'base64').toString())).toMatchObject({ contractId });
      const answeredBefore = answered.length;
      const refused = await exec(
        cli,
        [...base, '--codec-endpoint', codec.endpoint, '--codec-auth', 'Bearer wrong-token-0000000000'],
        {
          timeout: 30_000,
          maxBuffer: 16 * 1024 * 1024,
        }
      ).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code?: unknown; stderr?: string }) => ({ code: err.code, stderr: err.stderr ?? '' })
      );
      // The CLI fails (it retries the refused decode until its deadline and says only that, so the reason is read
      // from the codec server's side): every answer it got was 401, none decoded anything.
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^Error: /);
      const toRefused = answered.slice(answeredBefore).map((a) => a.status);
      expect(toRefused.length).toBeGreaterThan(0);
      expect(new Set(toRefused)).toEqual(new Set([401]));
    } finally {
      await codec.close();
    }
  });
});
