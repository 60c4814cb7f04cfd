/**
 * `signflow konnektor …` as a subprocess against the Konnektor simulator over real mutual TLS: the CLI reads the
 * client-system ZIP and the pinned server fingerprint from the environment, exactly as a practice would configure it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import { createTestDb, type TestDb } from '../../harness/databases';
import { runCli } from './run-cli';

let sim: RunningKonnektorSimulator;
let t: TestDb;
let tmp: string;
let env: Record<string, string>;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-cli-konnektor-'));
  [sim, t] = await Promise.all([
    startKonnektorSimulator({ adminPort: false, comfort: { max: 250 } }),
    createTestDb('sqlite', { seed: false }),
  ]);
  const zip = path.join(tmp, 'Z1.zip');
  fs.writeFileSync(zip, sim.clientZip);
  env = {
    SIGNFLOW_DATABASE_URL: t.url,
    SIGNFLOW_KONNEKTOR_SDS_URL: sim.sdsUrl,
    SIGNFLOW_KONNEKTOR_CLIENT_ZIP: zip,
    SIGNFLOW_KONNEKTOR_SERVER_FINGERPRINT: sim.fingerprint,
    SIGNFLOW_KONNEKTOR_CLIENT_SYSTEM: sim.clientSystemId,
    // Nothing listens here: `activate` must still succeed and say that it could not tell the parked contracts.
    TEMPORAL_ADDRESS: '127.0.0.1:1',
  };
}, 60_000);

afterAll(async () => {
  await Promise.all([sim?.close(), t?.destroy()]);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('status, activate, status, deactivate: the comfort signature as staff drive it', async () => {
  const before = await runCli(['konnektor', 'status', '--json'], env);
  expect(before.code).toBe(0);
  expect(before.json()).toMatchObject({
    action: 'status',
    comfortSupported: true,
    comfortEnabled: true,
    active: false,
  });

  const activated = await runCli(['konnektor', 'activate', '--staff', '4', '--json'], env);
  expect(activated.code).toBe(0);
  const a = activated.json();
  expect(a).toMatchObject({ action: 'activate', active: true, countRemaining: 250 });
  expect(a.iccsn).toBe(sim.hbaIccsn);
  // The activation counts; telling the parked contracts is best effort.
  expect(a.notified).toBeUndefined();
  expect(a.notifyError.code).toBe('TEMPORAL_UNAVAILABLE');

  const human = await runCli(['konnektor', 'status'], env);
  expect(human.code).toBe(0);
  expect(human.stdout).toContain(`eHBA ${sim.hbaIccsn}: comfort signature active, 250 of 250 signatures`);

  const off = await runCli(['konnektor', 'deactivate', '--json'], env);
  expect(off.code).toBe(0);
  expect(off.json()).toMatchObject({ action: 'deactivate', iccsn: sim.hbaIccsn });
  const after = await runCli(['konnektor', 'status', '--json'], env);
  expect(after.json().active).toBe(false);
});

test('a wrong PIN at the card terminal is a refusal (exit 1) that says what to do', async () => {
  sim.admin.setPin({ outcome: 'wrong' });
  try {
    const run = await runCli(['konnektor', 'activate', '--no-notify', '--json'], env);
    expect(run.code).toBe(1);
    expect(run.json().error.code).toBe('PIN_WRONG');
    expect(run.json().error.details.gematikCode).toBe(4276);
  } finally {
    sim.admin.setPin({ outcome: 'ok' });
  }
});

test('a Konnektor that is not configured, or not the pinned one, is a configuration error (exit 5)', async () => {
  const noUrl = { ...env };
  delete noUrl.SIGNFLOW_KONNEKTOR_SDS_URL;
  const missing = await runCli(['konnektor', 'status', '--json'], noUrl);
  expect(missing.code).toBe(5);
  expect(missing.json().error.code).toBe('KONNEKTOR_CONFIGURATION');

  const wrongPin = await runCli(['konnektor', 'status', '--json'], {
    ...env,
    SIGNFLOW_KONNEKTOR_SERVER_FINGERPRINT: Array.from({ length: 32 }, () => 'AB').join(':'),
  });
  expect(wrongPin.code).toBe(5);
  expect(wrongPin.json().error.code).toBe('KONNEKTOR_SERVER_UNTRUSTED');
});
