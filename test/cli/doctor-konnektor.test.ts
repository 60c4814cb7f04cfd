/**
 * The Konnektor lines of `signflow doctor` (QES on) as a subprocess against the Konnektor simulator over real mutual
 * TLS: a healthy Konnektor passes every line; an unreachable host, an untrusted server certificate, a client
 * certificate the Konnektor refuses and a pulled eHBA are each named with what to do; a Konnektor with SignatureService
 * 7.4 only is said to have no comfort signature. The other doctor lines (Temporal, SMTP) are not looked at here.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import { getFreePort, startDevServer, type DevServerHandle } from '../../harness/temporal';
import { createTestDb, type TestDb } from '../../harness/databases';
import { runCli } from './run-cli';

interface Check {
  name: string;
  ok: boolean;
  message: string;
}

let sim: RunningKonnektorSimulator;
/** An older Konnektor (SignatureService 7.4 only) with a PKI of its own. */
let old: RunningKonnektorSimulator;
let t: TestDb;
let tmp: string;
/** A real Temporal server, so that the doctor's Temporal lines answer at once instead of waiting for a timeout. */
let temporal: DevServerHandle;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-doctor-konnektor-'));
  [sim, old, t, temporal] = await Promise.all([
    startKonnektorSimulator({ adminPort: false }),
    startKonnektorSimulator({ adminPort: false, offer75: false, signatureVersions: ['7.4.0'] }),
    createTestDb('sqlite', { seed: false }),
    startDevServer(),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([sim?.close(), old?.close(), t?.destroy(), temporal?.stop()]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function zipOf(s: RunningKonnektorSimulator, name: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, s.clientZip);
  return file;
}

function envFor(s: RunningKonnektorSimulator, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SIGNFLOW_DATABASE_URL: t.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    SIGNFLOW_SMTP_URL: 'smtp://127.0.0.1:1',
    SIGNFLOW_QES_ENABLED: 'true',
    SIGNFLOW_KONNEKTOR_SDS_URL: s.sdsUrl,
    SIGNFLOW_KONNEKTOR_CLIENT_ZIP: zipOf(s, `${s === sim ? 'sim' : 'old'}.zip`),
    SIGNFLOW_KONNEKTOR_SERVER_FINGERPRINT: s.fingerprint,
    SIGNFLOW_KONNEKTOR_CLIENT_SYSTEM: s.clientSystemId,
    ...extra,
  };
}

/** The doctor's Konnektor lines, in their order. */
async function konnektorLines(env: Record<string, string>): Promise<Check[]> {
  const run = await runCli(['doctor', '--json'], env);
  // SMTP is unreachable on purpose here (and no outbox poller runs): the run as a whole fails.
  expect(run.code).toBe(1);
  return (run.json().checks as Check[]).filter((c) => c.name.startsWith('Konnektor'));
}

test('a healthy Konnektor: host, mutual TLS, connector.sds, SignatureService 7.5 and the eHBA are OK', async () => {
  const lines = await konnektorLines(envFor(sim));
  expect(lines.map((l) => [l.name, l.ok])).toEqual([
    ['Konnektor reachable', true],
    ['Konnektor TLS client certificate', true],
    ['Konnektor service directory', true],
    ['Konnektor SignatureService', true],
    ['Konnektor eHBA', true],
  ]);
  expect(lines[3]?.message).toMatch(/^version 7\.5\.\d+ offered \(comfort signature available\)/);
  expect(lines[4]?.message).toContain(`eHBA ${sim.hbaIccsn}`);
});

test('QES off: no Konnektor line at all', async () => {
  const run = await runCli(['doctor', '--json'], { ...envFor(sim), SIGNFLOW_QES_ENABLED: 'false' });
  expect((run.json().checks as Check[]).filter((c) => c.name.startsWith('Konnektor'))).toEqual([]);
});

test('a pulled eHBA is named with what to do; the lines before it stay OK', async () => {
  sim.admin.setHbaInserted(false);
  try {
    const lines = await konnektorLines(envFor(sim));
    expect(lines.slice(0, 4).every((l) => l.ok)).toBe(true);
    expect(lines[4]).toEqual({
      name: 'Konnektor eHBA',
      ok: false,
      message: expect.stringContaining("insert the practice's eHBA into a card terminal of workplace Arbeitsplatz1"),
    });
  } finally {
    sim.admin.setHbaInserted(true);
  }
});

test('a configured ICCSN that is not inserted names the variable', async () => {
  const lines = await konnektorLines(envFor(sim, { SIGNFLOW_KONNEKTOR_HBA_ICCSN: '80276001011699999999' }));
  expect(lines[4]).toMatchObject({ name: 'Konnektor eHBA', ok: false });
  expect(lines[4]?.message).toContain('SIGNFLOW_KONNEKTOR_HBA_ICCSN=80276001011699999999');
});

test('an unreachable Konnektor host: only the first line, with what to do', async () => {
  const closed = await getFreePort();
  const lines = await konnektorLines(
    envFor(sim, { SIGNFLOW_KONNEKTOR_SDS_URL: `https://127.0.0.1:${closed}/connector.sds` })
  );
  expect(lines).toEqual([
    {
      name: 'Konnektor reachable',
      ok: false,
      message: expect.stringMatching(
        /^127\.0\.0\.1:\d+ does not answer \(ECONNREFUSED\): check SIGNFLOW_KONNEKTOR_SDS_URL/
      ),
    },
  ]);
});

test('a server certificate that is not the pinned one fails the TLS line', async () => {
  const lines = await konnektorLines(envFor(sim, { SIGNFLOW_KONNEKTOR_SERVER_FINGERPRINT: old.fingerprint }));
  expect(lines.map((l) => [l.name, l.ok])).toEqual([
    ['Konnektor reachable', true],
    ['Konnektor TLS client certificate', false],
  ]);
  expect(lines[1]?.message).toContain('SIGNFLOW_KONNEKTOR_SERVER_FINGERPRINT');
});

test('a client certificate the Konnektor does not know fails the TLS line', async () => {
  const lines = await konnektorLines(envFor(sim, { SIGNFLOW_KONNEKTOR_CLIENT_ZIP: zipOf(old, 'foreign.zip') }));
  expect(lines.map((l) => [l.name, l.ok])).toEqual([
    ['Konnektor reachable', true],
    ['Konnektor TLS client certificate', false],
  ]);
  expect(lines[1]?.message).toContain(`register client system ${sim.clientSystemId} with this certificate`);
});

test('an unreadable client ZIP fails the TLS line and names the variables', async () => {
  const broken = path.join(tmp, 'broken.zip');
  fs.writeFileSync(broken, 'not a zip');
  const lines = await konnektorLines(envFor(sim, { SIGNFLOW_KONNEKTOR_CLIENT_ZIP: broken }));
  expect(lines[1]).toMatchObject({ name: 'Konnektor TLS client certificate', ok: false });
  expect(lines[1]?.message).toContain('SIGNFLOW_KONNEKTOR_CLIENT_ZIP');
});

test('a Konnektor with SignatureService 7.4 only: OK, and the line says there is no comfort signature', async () => {
  const lines = await konnektorLines(envFor(old));
  expect(lines.map((l) => l.ok)).toEqual([true, true, true, true, true]);
  expect(lines[3]?.message).toMatch(/^version 7\.4\.0 offered .*no comfort signature/);
});
