/**
 * `npm run test:cluster`: signflow on a production-style Temporal cluster instead of the dev server.
 *
 * 1. The Temporal server from the Go module proxy (build-server.sh, cached in the user's cache), PostgreSQL from
 *    Debian's packages, schemas by `temporal-sql-tool`, frontend/history/matching/worker as four processes.
 * 2. `scripts/prepare-cluster.ts` against it (search attributes on SQL visibility, outbox poller workflow), as a production
 *    install runs it.
 * 3. Two signflow worker processes (`worker/main.ts`), a CRM database (MariaDB when SIGNFLOW_CLUSTER_DATABASE_URL or
 *    SIGNFLOW_TEST_MYSQL_URL points at a server, else SQLite) and an SMTP inbox.
 * 4. 50 contracts started and signed; the history service is restarted when half of them are signed.
 * 5. Passes when all 50 complete and each got exactly one invitation and one confirmation mail. Exit code 0/1.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { contractHandle, startContractWorkflow } from '../../client/contract-client';
import { createDb } from '../../db/connection';
import { migrateCrm, migrateSignflow } from '../../db/migrate';
import { seedDemo } from '../../db/seed';
import { getFreePort } from '../../dev-stack/temporal-dev-server';
import { startDevInbox } from '../../mail/dev-inbox';
import { loadConfig } from '../../temporal.config';
import { statusQuery, type ContractResult } from '../../workflows/definitions';
import { startPostgres } from './postgres';
import { startTemporalCluster } from './temporal-cluster';

const ROOT = path.resolve(__dirname, '../..');
const CONTRACTS = Number(process.env.SIGNFLOW_CLUSTER_CONTRACTS ?? 50);
const t0 = Date.now();
const log = (line: string) => console.log(`[cluster ${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A fresh CRM database: a MariaDB/MySQL schema of its own, or a SQLite file. */
async function crmDatabaseUrl(dir: string): Promise<string> {
  const server = process.env.SIGNFLOW_CLUSTER_DATABASE_URL ?? process.env.SIGNFLOW_TEST_MYSQL_URL;
  if (!server) return path.join(dir, 'crm.sqlite');
  const name = `signflow_cluster_${process.pid}`;
  const admin = createDb(server);
  try {
    await admin.raw(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await admin.destroy();
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

async function main(): Promise<void> {
  const stops: { what: string; stop: () => Promise<void> }[] = [];
  const workers: ChildProcess[] = [];
  try {
    const bin = execFileSync('bash', [path.join(__dirname, 'build-server.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
      .trim()
      .split('\n')
      .pop() as string;
    let version = 'version unknown';
    try {
      version = execFileSync(path.join(bin, 'temporal-server'), ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      // An older build without --version: the folder names the version.
    }
    log(`Temporal server: ${version} (${bin})`);

    const pg = await startPostgres(await getFreePort());
    stops.push({ what: 'PostgreSQL', stop: () => pg.stop() });
    log(`PostgreSQL on ${pg.host}:${pg.port}`);

    const cluster = await startTemporalCluster(bin, pg, log);
    stops.push({ what: 'Temporal cluster', stop: () => cluster.stop() });

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-cluster-'));
    const inbox = await startDevInbox({ port: 0 });
    stops.push({ what: 'SMTP inbox', stop: () => inbox.close() });
    const databaseUrl = await crmDatabaseUrl(dir);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: cluster.address,
      TEMPORAL_NAMESPACE: cluster.namespace,
      SIGNFLOW_DATABASE_URL: databaseUrl,
      SIGNFLOW_SMTP_URL: `smtp://127.0.0.1:${inbox.port}`,
      SIGNFLOW_REMINDERS_ENABLED: 'false',
      SIGNFLOW_LOG_LEVEL: 'warn',
    };
    const config = loadConfig({}, env);
    const db = createDb(databaseUrl);
    stops.push({ what: 'CRM database', stop: () => db.destroy() });
    await migrateCrm(db, config.crm);
    await migrateSignflow(db);
    const seed = await seedDemo(db, config.crm);
    log(`CRM database ${databaseUrl.startsWith('mysql') ? 'MariaDB' : 'SQLite'}, migrated and seeded`);

    // 2. As a production install does once per namespace.
    const prepare = execFileSync(path.join(ROOT, 'node_modules/.bin/tsx'), ['scripts/prepare-cluster.ts'], {
      cwd: ROOT,
      env,
      encoding: 'utf8',
    });
    for (const line of prepare.trim().split('\n')) log(`prepare-cluster: ${line}`);

    // 3. Two workers.
    for (let i = 1; i <= 2; i++) {
      const w = spawn(path.join(ROOT, 'node_modules/.bin/tsx'), ['worker/main.ts'], {
        cwd: ROOT,
        env: {
          ...env,
          SIGNFLOW_WORKER_METRICS_PORT: String(await getFreePort()),
          SIGNFLOW_WORKER_SDK_METRICS_PORT: String(await getFreePort()),
        },
        stdio: [
          'ignore',
          fs.openSync(path.join(dir, `worker-${i}.log`), 'a'),
          fs.openSync(path.join(dir, `worker-${i}.log`), 'a'),
        ],
      });
      workers.push(w);
    }
    log(`two signflow workers started (pids ${workers.map((w) => w.pid).join(', ')}; logs in ${dir})`);

    // 4. 50 contracts.
    const connection = await Connection.connect({ address: cluster.address });
    stops.push({ what: 'client', stop: () => connection.close() });
    const client = new Client({ connection, namespace: cluster.namespace });
    const c = config.crm.contracts;
    const ids: number[] = [];
    for (let i = 0; i < CONTRACTS; i++) {
      const inserted: unknown[] = await db(c.table).insert(
        {
          [c.contactId]: seed.contactIds[i % seed.contactIds.length],
          [c.title]: `Honorarvertrag Cluster ${i + 1}`,
          [c.status]: config.crm.values.contractSendableStatuses[0],
          [c.start]: '2027-01-01',
          [c.end]: '2027-12-31',
          [c.feeCents]: 100_000 + i,
          [c.description]: 'Cluster-Test',
        },
        [c.id]
      );
      const first = inserted[0] as number | Record<string, number>;
      ids.push(typeof first === 'number' ? first : Number(first[c.id]));
    }
    await Promise.all(ids.map((id) => startContractWorkflow(client, config, id)));
    log(`${ids.length} contracts started`);

    let restarted = false;
    const signOne = async (id: number) => {
      const handle = contractHandle(client, id);
      const state = await until(
        `contract ${id} awaiting its signature`,
        async () => {
          const s = await handle.query(statusQuery);
          return s.phase === 'awaiting-signature' ? s : undefined;
        },
        600_000
      );
      await until(
        `signature of contract ${id}`,
        async () => {
          await handle.executeUpdate('sign', { args: [{ contactId: state.contactId as number, method: 'click' }] });
          return true;
        },
        600_000
      ).catch(async (err: unknown) => {
        // An update retried after the history restart may find it already signed: that is success.
        if ((await handle.query(statusQuery)).outcome) return true;
        throw err;
      });
    };
    let signed = 0;
    const half = Math.floor(ids.length / 2);
    await Promise.all(
      ids.map(async (id) => {
        await signOne(id);
        signed++;
        if (signed === half && !restarted) {
          restarted = true;
          log(`${signed} signed: restarting the history service`);
          await cluster.restart('history');
          log('history service restarted');
        }
      })
    );
    log(`all ${ids.length} signed`);

    const results = await Promise.all(
      ids.map((id) =>
        until(
          `contract ${id} completed`,
          async () => (await contractHandle(client, id).result()) as ContractResult,
          600_000
        )
      )
    );
    const completed = results.filter((r) => r.outcome === 'signed').length;

    // 5. One invitation and one confirmation per contract, no more.
    const mailCount = new Map<string, number>();
    for (const m of inbox.messages()) {
      const key = String(m.headers['x-signflow-mail-key'] ?? '');
      mailCount.set(key, (mailCount.get(key) ?? 0) + 1);
    }
    const wrong = ids.filter(
      (id) =>
        mailCount.get(`honorarvertrag-${id}:invitation`) !== 1 ||
        mailCount.get(`honorarvertrag-${id}:confirmation`) !== 1
    );
    log(`completed: ${completed}/${ids.length}; mails: ${inbox.messages().length} (invitation + confirmation each)`);
    if (completed !== ids.length || wrong.length > 0) {
      throw new Error(
        `FAILED: ${ids.length - completed} not completed; contracts with a wrong mail count: ${wrong.join(', ') || 'none'}`
      );
    }
    log(
      `PASSED: ${ids.length} contracts on frontend/history/matching/worker + PostgreSQL, two workers, history restarted mid-run`
    );
  } finally {
    for (const w of workers) {
      if (w.exitCode === null) {
        const exited = new Promise((r) => w.once('exit', r));
        w.kill('SIGTERM');
        await exited;
      }
    }
    for (const s of stops.reverse()) await s.stop().catch((err: unknown) => log(`stopping ${s.what}: ${String(err)}`));
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
);
