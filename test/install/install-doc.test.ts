/**
 * docs/install.md followed as an administrator would, with the README's mapping example, on a MariaDB server whose
 * time zone is Europe/Berlin: the CRM's tables, signflow's user and its grants, the trigger and the first contract are
 * the SQL blocks of the page itself (so the page and this test cannot drift), the mapping is the page's JSON (equal to
 * the README's), then `db/migrate.ts`, `scripts/prepare-cluster.ts` with the codec keys, `signflow doctor` as the
 * restricted user (every line OK), a worker process, the trigger's send on `erstellt` → `geprüft`, `signflow sign` and
 * `signflow verify`. Times: written in UTC whatever the server's zone, for `DATETIME(3)`, plain `DATETIME` and
 * `TIMESTAMP(3)` columns, and the signature's hash verifies from what each keeps.
 *
 * Real parts only: MariaDB (a server of its own, started by the test), the Temporal dev server, an SMTP inbox.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knex, { type Knex } from 'knex';
import { startDevInbox, type DevInbox } from '../../mail/dev-inbox';
import { startDevServer, workflowBundle, type DevServerHandle } from '../../harness/temporal';
import { berlinMariaDbAvailable, startBerlinMariaDb, type BerlinMariaDb } from '../helpers/berlin-mariadb';
import { KEY_2026, keysEnv } from '../codec/codec-keys';
import { BIN, runCli } from '../cli/run-cli';
import { eventually } from '../helpers/waits';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '../..');
const INSTALL_MD = fs.readFileSync(path.join(ROOT, 'docs/install.md'), 'utf8');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The fenced block right after `<!-- install-test: name -->` in docs/install.md. */
function docBlock(name: string): string {
  const marker = `<!-- install-test: ${name} -->`;
  const at = INSTALL_MD.indexOf(marker);
  if (at < 0) throw new Error(`docs/install.md has no block ${marker}`);
  const fence = /```[a-z]*\n([\s\S]*?)\n```/.exec(INSTALL_MD.slice(at + marker.length));
  if (!fence?.[1]) throw new Error(`no fenced block after ${marker}`);
  return fence[1];
}

/** SQL statements of a block, split at `;` line ends. */
function statements(sql: string): string[] {
  return sql
    .split(/;\s*\n|;\s*$/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** The README's mapping example: the first JSON block under "## CRM mapping". */
function readmeMapping(): unknown {
  const section = README.slice(README.indexOf('## CRM mapping'));
  const block = /```json\n([\s\S]*?)\n```/.exec(section);
  return JSON.parse(block?.[1] ?? 'null');
}

const enabled = process.env.SIGNFLOW_TEST_MYSQL !== 'off' && berlinMariaDbAvailable();
if (!enabled) {
  if (process.env.CI === 'true') throw new Error('mariadbd and mariadb-install-db are needed under CI=true');
  console.warn('install-doc test SKIPPED: no mariadbd/mariadb-install-db here (or SIGNFLOW_TEST_MYSQL=off)');
}

(enabled ? describe : describe.skip)('docs/install.md on a MariaDB in Europe/Berlin', () => {
  let mariadb: BerlinMariaDb;
  let temporal: DevServerHandle;
  let inbox: DevInbox;
  /** The CRM's own session: the server's zone (Europe/Berlin), one connection (LAST_INSERT_ID). */
  let crm: Knex;
  let dir: string;
  let env: Record<string, string>;
  let worker: ChildProcess | undefined;
  let workerLog = '';

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-install-'));
    [mariadb, temporal, inbox] = await Promise.all([
      startBerlinMariaDb(),
      startDevServer(),
      startDevInbox({ port: 0 }),
    ]);
    const root = knex({ client: 'mysql2', connection: mariadb.url });
    await root.raw('CREATE DATABASE crm CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');
    await root.destroy();
    crm = knex({
      client: 'mysql2',
      connection: { uri: `${mariadb.url}crm`, charset: 'utf8mb4' },
      pool: { min: 1, max: 1 },
    } as Knex.Config);
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((resolve) => worker?.once('exit', resolve));
      worker.kill('SIGTERM');
      await exited;
    }
    await crm?.destroy();
    await inbox?.close();
    await temporal?.stop();
    await mariadb?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const signflowUrl = () => {
    const password = /IDENTIFIED BY '([^']+)'/.exec(docBlock('crm-grants'))?.[1] ?? '';
    return `mysql://signflow:${encodeURIComponent(password)}@127.0.0.1:${mariadb.port}/crm`;
  };

  test('step 0: the server really is in Europe/Berlin (NOW() is an hour ahead of UTC in winter)', async () => {
    const [[row]] = (await crm.raw(
      'SELECT @@system_time_zone AS tz, TIMESTAMPDIFF(MINUTE, UTC_TIMESTAMP(), NOW()) AS ahead'
    )) as [[{ tz: string; ahead: number }]];
    expect(['CET', 'CEST']).toContain(row.tz);
    expect([60, 120]).toContain(Number(row.ahead));
  });

  test("steps 2-5: the page's tables, user, mapping and migration; its grants name every signflow table", async () => {
    for (const sql of statements(docBlock('crm-tables'))) await crm.raw(sql);
    for (const sql of statements(docBlock('crm-grants'))) await crm.raw(sql);

    const mapping = JSON.parse(docBlock('mapping')) as unknown;
    expect(mapping).toEqual(readmeMapping());
    const mappingFile = path.join(dir, 'crm-mapping.json');
    fs.writeFileSync(mappingFile, JSON.stringify(mapping));

    const migrate = spawnSync(path.join(ROOT, 'node_modules/.bin/tsx'), ['db/migrate.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SIGNFLOW_DATABASE_URL: `${mariadb.url}crm` },
      encoding: 'utf8',
    });
    expect({ code: migrate.status, stderr: migrate.stderr }).toEqual({ code: 0, stderr: '' });
    // Only signflow_* tables were added to the CRM's database.
    const tables = (
      (await crm('information_schema.TABLES').where('TABLE_SCHEMA', 'crm').pluck('TABLE_NAME')) as string[]
    )
      .map(String)
      .sort();
    expect(tables.filter((t) => !t.startsWith('signflow_'))).toEqual([
      'crm_dokument',
      'crm_honorarvertrag',
      'crm_kontakt',
      'crm_unterschrift',
    ]);

    const grants = statements(docBlock('signflow-grants'));
    for (const sql of grants) await crm.raw(sql);
    const granted = grants.map((g) => /ON crm\.(\w+) TO/.exec(g)?.[1]).sort();
    expect(granted).toEqual(tables.filter((t) => t.startsWith('signflow_') && t !== 'signflow_migrations_lock'));

    await crm.raw(docBlock('trigger'));

    env = {
      SIGNFLOW_DATABASE_URL: signflowUrl(),
      SIGNFLOW_CRM_MAPPING: mappingFile,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: temporal.namespace,
      SIGNFLOW_CODEC_KEYS: keysEnv(KEY_2026),
      SIGNFLOW_SMTP_URL: `smtp://127.0.0.1:${inbox.port}`,
      SIGNFLOW_OUTBOX_POLL_INTERVAL: '1s',
      SIGNFLOW_WORKER_METRICS_PORT: '0',
      SIGNFLOW_WORKER_SDK_METRICS_PORT: '0',
    };
  });

  test('steps 6 and 9: prepare-cluster with the codec keys, then doctor as the restricted user says OK on every line', async () => {
    const prepared = spawnSync(path.join(ROOT, 'node_modules/.bin/tsx'), ['scripts/prepare-cluster.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      encoding: 'utf8',
    });
    expect({ code: prepared.status, stderr: prepared.stderr }).toEqual({ code: 0, stderr: '' });

    const doctor = await runCli(['doctor', '--json'], env);
    const checks = doctor.json().checks as { name: string; ok: boolean; message: string }[];
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(doctor.code).toBe(0);
    expect(checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['CRM mapping', 'database grants', 'signflow tables migrated', 'outbox poller'])
    );
  });

  /** Adds a contract of a new contact, then checks it: the trigger sends it; answers the ids once it is sent. */
  async function firstContract(title: string): Promise<{ contractId: number; contactId: number }> {
    for (const sql of statements(docBlock('first-contract').replaceAll('Honorarvertrag Erika Muster 2027', title))) {
      await crm.raw(sql);
    }
    const row = (await crm('crm_honorarvertrag').where('titel', title).first()) as {
      id: number;
      honorarkraft_id: number;
    };
    const contractId = Number(row.id);
    await eventually(async () => {
      const outbox = (await crm('signflow_outbox').where('contract_id', contractId).first()) as
        { outcome: string | null; error: string | null } | undefined;
      if (outbox?.outcome !== 'started') throw new Error(`outbox row: ${JSON.stringify(outbox)}\n${workerLog}`);
      const contract = (await crm('crm_honorarvertrag').where('id', contractId).first()) as { vertragsstatus: string };
      if (contract.vertragsstatus !== 'versendet') throw new Error(`status ${contract.vertragsstatus}`);
    }, 90_000);
    await inbox.waitFor((m) => m.to.includes('erika.muster@example.org') && m.text.includes(title), 60_000);
    return { contractId, contactId: Number(row.honorarkraft_id) };
  }

  /** `2026-11-30 17:05:09.000` (DATETIME(3)) or without the fraction: the UTC wall time of an ISO instant. */
  const utcWall = (iso: string, fraction: boolean) =>
    iso
      .replace('T', ' ')
      .replace('Z', '')
      .slice(0, fraction ? 23 : 19);

  async function signAndVerify(contractId: number, contactId: number): Promise<string> {
    const signed = await runCli(['sign', String(contractId), '--contact', String(contactId), '--json'], env);
    expect(signed.code).toBe(0);
    const confirmedAt: string = signed.json().confirmedAt;
    const verified = await runCli(['verify', String(contractId), '--json'], env);
    expect({ code: verified.code, match: verified.json().match }).toEqual({ code: 0, match: true });
    return confirmedAt;
  }

  test('step 8-9: the trigger sends on geprüft, the contact signs, verify matches; DATETIME(3) holds UTC', async () => {
    worker = spawn(process.execPath, [BIN, 'worker', '--workflow-bundle', (await workflowBundle()).codePath], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout?.setEncoding('utf8').on('data', (s: string) => (workerLog += s));
    worker.stderr?.setEncoding('utf8').on('data', (s: string) => (workerLog += s));

    const { contractId, contactId } = await firstContract('Honorarvertrag Erika Muster 2027');
    const confirmedAt = await signAndVerify(contractId, contactId);

    // Read in the CRM's own session (Europe/Berlin): the stored text is the UTC time, not the local one.
    const [[sig]] = (await crm.raw(
      'SELECT CAST(unterschrieben_am AS CHAR) AS at, status FROM crm_unterschrift WHERE verknuepftes_objekt_id = ?',
      [contractId]
    )) as [[{ at: string; status: string }]];
    expect(sig).toEqual({ at: utcWall(confirmedAt, true), status: 'gültig' });
    const [[contract]] = (await crm.raw(
      'SELECT CAST(bestaetigt_am AS CHAR) AS at, vertragsstatus, bestaetigt_honorarkraft FROM crm_honorarvertrag WHERE id = ?',
      [contractId]
    )) as [[{ at: string; vertragsstatus: string; bestaetigt_honorarkraft: number }]];
    expect(contract).toEqual({
      at: utcWall(confirmedAt, true),
      vertragsstatus: 'in Durchführung',
      bestaetigt_honorarkraft: 1,
    });
    await inbox.waitFor((m) => m.to.includes('erika.muster@example.org') && /Bestätigung|bestätigt/i.test(m.subject));
  });

  test('TIMESTAMP(3) and plain DATETIME columns on the Berlin server: the right instant, UTC text, verify matches', async () => {
    await crm.raw('ALTER TABLE crm_unterschrift MODIFY unterschrieben_am TIMESTAMP(3) NULL DEFAULT NULL');
    await crm.raw('ALTER TABLE crm_honorarvertrag MODIFY bestaetigt_am DATETIME NULL');
    const { contractId, contactId } = await firstContract('Honorarvertrag Erika Muster 2028');
    const confirmedAt = await signAndVerify(contractId, contactId);

    // A TIMESTAMP holds an instant: the CRM's Berlin session must read back the very instant signflow recorded.
    const [[sig]] = (await crm.raw(
      'SELECT UNIX_TIMESTAMP(unterschrieben_am) AS epoch FROM crm_unterschrift WHERE verknuepftes_objekt_id = ?',
      [contractId]
    )) as [[{ epoch: string | number }]];
    expect(Math.round(Number(sig.epoch) * 1000)).toBe(Date.parse(confirmedAt));
    const [[contract]] = (await crm.raw(
      'SELECT CAST(bestaetigt_am AS CHAR) AS at FROM crm_honorarvertrag WHERE id = ?',
      [contractId]
    )) as [[{ at: string }]];
    expect(contract.at).toBe(utcWall(confirmedAt, false));
  });
});
