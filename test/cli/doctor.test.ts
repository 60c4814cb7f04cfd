/**
 * `signflow doctor` against real parts: a SQLite CRM, the Temporal dev server, a local SMTP server. A healthy
 * installation passes (exit 0); a missing column, a mapping typo, unregistered search attributes and a missing outbox
 * poller are each named with what to do (exit 1, or 5 for an invalid configuration); on MariaDB also a wrong column
 * type and a missing grant. The Konnektor lines are in doctor-konnektor.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { ensureOutboxPoller } from '../../outbox/poller';
import { loadConfig } from '../../temporal.config';
import { createTestDb, testDatabases, type TestDb } from '../helpers/databases';
import { getFreePort, startDevServer, type DevServerHandle } from '../helpers/temporal';
import { runCli } from './run-cli';

interface Check {
  name: string;
  ok: boolean;
  message: string;
}

describe('signflow doctor', () => {
  let t: TestDb;
  let temporal: DevServerHandle;
  let smtp: SMTPServer;
  let smtpPort: number;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-doctor-'));
    t = await createTestDb('sqlite');
    temporal = await startDevServer();
    smtpPort = await getFreePort();
    smtp = new SMTPServer({ authOptional: true, disabledCommands: ['STARTTLS'] });
    await new Promise<void>((resolve) => smtp.listen(smtpPort, '127.0.0.1', resolve));
    const config = loadConfig(
      { database: { url: t.url }, temporal: { address: temporal.address, namespace: temporal.namespace } },
      {}
    );
    await ensureOutboxPoller(temporal.env.client, config);
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => smtp?.close(() => resolve()));
    await temporal?.stop();
    await t?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string> = {}) => ({
    SIGNFLOW_DATABASE_URL: t.url,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    SIGNFLOW_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    ...extra,
  });
  const failed = (checks: Check[]) => checks.filter((c) => !c.ok);

  test('a healthy installation: every check OK, exit 0', async () => {
    const run = await runCli(['doctor', '--json'], env());
    const checks: Check[] = run.json().checks;
    expect(failed(checks)).toEqual([]);
    expect(run.code).toBe(0);
    expect(checks.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'database reachable',
        'CRM mapping',
        'signflow tables migrated',
        'Temporal reachable',
        'search attributes registered',
        'outbox poller',
        'codec keys',
        'SMTP reachable',
      ])
    );
    const human = await runCli(['doctor'], env());
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^OK {2}\s*database reachable/m);
  });

  test('a missing column is named with the mapping key and what to do, exit 1', async () => {
    const mapping = path.join(dir, 'missing-column.json');
    fs.writeFileSync(mapping, JSON.stringify({ signatures: { md5Hash: 'pruefsumme' } }));
    const run = await runCli(['doctor', '--json'], env({ SIGNFLOW_CRM_MAPPING: mapping }));
    expect(run.code).toBe(1);
    expect(failed(run.json().checks)).toEqual([
      {
        name: 'CRM mapping signatures.md5Hash',
        ok: false,
        message: expect.stringContaining('column "unterschriften.pruefsumme" (signatures.md5Hash) does not exist'),
      },
    ]);
  });

  test('a mapping typo is a configuration error naming SIGNFLOW_CRM_MAPPING, exit 5', async () => {
    const mapping = path.join(dir, 'typo.json');
    fs.writeFileSync(mapping, JSON.stringify({ signatures: { md5hash: 'md5_hash' } }));
    const run = await runCli(['doctor', '--json'], env({ SIGNFLOW_CRM_MAPPING: mapping }));
    expect(run.code).toBe(5);
    expect(run.json().error.message).toContain(
      'SIGNFLOW_CRM_MAPPING (' + mapping + '): unknown key "signatures.md5hash": did you mean "signatures.md5Hash"?'
    );
  });

  test('a namespace without the search attributes and the outbox poller: both named, exit 1', async () => {
    const namespace = `doctor-${process.pid}`;
    await temporal.env.client.workflowService.registerNamespace({
      namespace,
      // protobufjs types seconds as Long; a number is what it accepts on the wire.
      workflowExecutionRetentionPeriod: { seconds: 86_400 } as never,
    });
    const run = await runCli(['doctor', '--json'], env({ TEMPORAL_NAMESPACE: namespace }));
    expect(run.code).toBe(1);
    const byName = Object.fromEntries((failed(run.json().checks) as Check[]).map((c) => [c.name, c.message]));
    expect(Object.keys(byName).sort()).toEqual(['outbox poller', 'search attributes registered']);
    expect(byName['search attributes registered']).toContain(
      'CrmContractId, ContractStatus, SignatureStatus, WaitingReason; run `npx tsx scripts/prepare-cluster.ts`'
    );
  });

  test('an unreachable SMTP server is named, exit 1', async () => {
    const closedPort = await getFreePort();
    const run = await runCli(['doctor', '--json'], env({ SIGNFLOW_SMTP_URL: `smtp://127.0.0.1:${closedPort}` }));
    expect(run.code).toBe(1);
    expect(failed(run.json().checks)).toEqual([
      expect.objectContaining({ name: 'SMTP reachable', message: expect.stringContaining('SIGNFLOW_SMTP_URL') }),
    ]);
  });
});

const mariadb = testDatabases().find((d) => d.name === 'mariadb');
(mariadb ? describe : describe.skip)('signflow doctor on MariaDB: types and grants', () => {
  let t: TestDb;
  const user = `sf_doctor_${process.pid}`;
  const password = 'doctor-test-password-1';

  beforeAll(async () => {
    t = await createTestDb('mariadb');
    const dbName = new URL(t.url).pathname.slice(1);
    await t.db.raw(`CREATE USER ?@'%' IDENTIFIED BY ?`, [user, password]);
    // Everything signflow needs, except UPDATE on the signatures table.
    await t.db.raw(`GRANT SELECT, INSERT, UPDATE, DELETE ON ??.* TO ?@'%'`, [dbName, user]);
    await t.db.raw(`REVOKE UPDATE ON ??.* FROM ?@'%'`, [dbName, user]);
    for (const table of ['honorarvertraege', 'dokumente']) {
      await t.db.raw(`GRANT UPDATE ON ??.?? TO ?@'%'`, [dbName, table, user]);
    }
    const own = (await t
      .db('information_schema.TABLES')
      .where('TABLE_SCHEMA', dbName)
      .andWhere('TABLE_NAME', 'like', 'signflow\\_%')
      .select({ n: 'TABLE_NAME' })) as { n: string }[];
    for (const { n } of own) await t.db.raw(`GRANT UPDATE ON ??.?? TO ?@'%'`, [dbName, n, user]);
  });
  afterAll(async () => {
    await t?.db.raw(`DROP USER IF EXISTS ?@'%'`, [user]);
    await t?.destroy();
  });

  test('a wrong column type (document bytes in a BLOB of 64 KiB) is named with the type to use, exit 1', async () => {
    const d = t.config.crm.documents;
    await t.db.raw('ALTER TABLE ?? MODIFY ?? BLOB', [d.table, d.content]);
    try {
      const run = await runCli(['doctor', '--json'], {
        SIGNFLOW_DATABASE_URL: t.url,
        TEMPORAL_ADDRESS: '127.0.0.1:1',
        SIGNFLOW_SMTP_URL: 'smtp://127.0.0.1:1',
      });
      expect(run.code).toBe(1);
      const mapping = (run.json().checks as Check[]).filter((c) => c.name.startsWith('CRM mapping'));
      expect(mapping).toEqual([
        {
          name: 'CRM mapping documents.content',
          ok: false,
          message: expect.stringContaining(`column "${d.table}.${d.content}" (documents.content) is blob`),
        },
      ]);
      expect(mapping[0]?.message).toContain('use LONGBLOB');
    } finally {
      await t.db.raw('ALTER TABLE ?? MODIFY ?? LONGBLOB', [d.table, d.content]);
    }
  });

  test('a missing UPDATE grant on the signatures table is named, exit 1', async () => {
    const url = new URL(t.url);
    url.username = user;
    url.password = password;
    const run = await runCli(['doctor', '--json'], {
      SIGNFLOW_DATABASE_URL: url.toString(),
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      SIGNFLOW_SMTP_URL: 'smtp://127.0.0.1:1',
    });
    expect(run.code).toBe(1);
    const grants = (run.json().checks as Check[]).find((c) => c.name === 'database grants');
    expect(grants).toEqual({
      name: 'database grants',
      ok: false,
      message: expect.stringContaining('lacks UPDATE on unterschriften;'),
    });
    expect(grants?.message).not.toContain('honorarvertraege');
  });
});
