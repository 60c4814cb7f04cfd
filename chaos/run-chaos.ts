/**
 * The chaos run (`npm run chaos`): N contracts through their whole life (invitation, signature or staff confirmation,
 * QES countersignature, confirmation) on real parts, while things break:
 * - the Temporal dev server with a persistent state file, restarted once;
 * - the worker as its own process, killed with SIGKILL at random moments and started again;
 * - a MariaDB server of the run's own, stopped for 30 s;
 * - the SMTP inbox (keeping its mails as files), stopped for 60 s;
 * - the Konnektor simulator failing 30 % of its calls transiently, and its comfort signature running out once (then
 *   activated again with `signflow konnektor activate`, as staff would).
 * At the end everything is counted from the real systems, not from the workflows: mails per contract and kind in the
 * inbox, signature rows, QES documents, audit rows, workflow states (see count.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { connectClient } from '../client/connect';
import { confirmContract, contractState, signContract, startContract } from '../commands/contract-commands';
import { createDb } from '../db/connection';
import { migrateCrm, migrateSignflow } from '../db/migrate';
import { seedDemo } from '../db/seed';
import { getFreePort, startTemporalDevServer, type RunningDevServer } from '../dev-stack/temporal-dev-server';
import { startKonnektorSimulator } from '../konnektor-simulator';
import { startDevInbox, type DevInbox } from '../mail/dev-inbox';
import { loadConfig } from '../temporal.config';
import { countOutcome, type ChaosCount } from './count';
import { explainContracts } from './explain';
import { startOwnMariaDb } from './own-mariadb';

export interface ChaosOptions {
  contracts: number;
  /** Folder for every state of the run (Temporal state file, MariaDB data, mails, simulator PKI). */
  dir: string;
  /** Share of contracts confirmed by staff instead of signed by the freelancer. @default 0.2 */
  staffShare?: number;
  /** Bound on the whole run after the last fault; contracts not completed then count as stuck. @default 15 min */
  settleTimeoutMs?: number;
  log?: (line: string) => void;
  /** Seed of the random moments (kills, signers). @default now */
  seed?: number;
}

export interface ChaosResult {
  count: ChaosCount;
  events: string[];
  workerKills: number;
  /** Activations by staff after a notice of the signer (the plan's own activations not counted). */
  staffActivations: number;
  durationMs: number;
  /**
   * For each contract counted lost, doubled or stuck: its mail rows, audit trail, recorded QES signatures and workflow
   * state (see explain.ts); its history is in `<dir>/bad-contracts/`. Empty when every contract is complete and single.
   */
  explanations: string[];
}

const REPO = path.resolve(__dirname, '..');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A small seeded generator (mulberry32): the same seed gives the same kill moments and signer choices. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const t0 = Date.now();
  const log = o.log ?? ((l: string) => console.log(l));
  const events: string[] = [];
  const event = (what: string): void => {
    const line = `${((Date.now() - t0) / 1000).toFixed(0).padStart(5)} s  ${what}`;
    events.push(line);
    log(`[chaos] ${line}`);
  };
  const rnd = random(o.seed ?? Date.now());
  fs.mkdirSync(o.dir, { recursive: true });
  const cleanups: Array<() => Promise<void>> = [];

  try {
    // Real parts.
    const mariadb = await startOwnMariaDb(o.dir, await getFreePort());
    cleanups.push(() => mariadb.stop());
    const admin = createDb(mariadb.serverUrl, { poolMax: 1 });
    const dbName = `signflow_chaos_${Date.now().toString(36)}`;
    await admin.raw('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [dbName]);
    await admin.destroy();
    const databaseUrl = `${mariadb.serverUrl}${dbName}`;

    const sim = await startKonnektorSimulator({
      dataDir: path.join(o.dir, 'konnektor-sim'),
      host: '127.0.0.1',
      port: await getFreePort(),
      adminPort: await getFreePort(),
      log: false,
    });
    cleanups.push(() => sim.close());
    // A session allows 250 signatures, as on a real eHBA (the simulator caps it there): a run of more contracts
    // meets the count running out too, and staff activate again when the signer's notice reaches them (`staffDesk`).
    sim.admin.setComfort({ max: 250 });

    const smtpPort = await getFreePort();
    const mailDir = path.join(o.dir, 'mail');
    let inbox: DevInbox | undefined = await startDevInbox({ port: smtpPort, dir: mailDir });
    cleanups.push(async () => inbox?.close());

    const temporalPort = await getFreePort();
    const temporalOptions = {
      port: temporalPort,
      dbFilename: path.join(o.dir, 'temporal.sqlite'),
      logFile: path.join(o.dir, 'temporal.log'),
    };
    let temporal: RunningDevServer = await startTemporalDevServer(temporalOptions);
    cleanups.push(() => temporal.stop());

    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'production',
      TEMPORAL_ADDRESS: temporal.address,
      SIGNFLOW_TASK_QUEUE: 'signflow-chaos',
      SIGNFLOW_DATABASE_URL: databaseUrl,
      SIGNFLOW_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      SIGNFLOW_REMINDERS_ENABLED: 'false',
      SIGNFLOW_QES_ENABLED: 'true',
      SIGNFLOW_KONNEKTOR_SDS_URL: sim.sdsUrl,
      SIGNFLOW_KONNEKTOR_CLIENT_ZIP: path.join(o.dir, 'konnektor-sim', 'client.zip'),
      SIGNFLOW_KONNEKTOR_SERVER_FINGERPRINT: sim.fingerprint,
      SIGNFLOW_KONNEKTOR_CLIENT_SYSTEM: sim.clientSystemId,
      // Parked contracts look again every 20 s (not 5 min): the run is short.
      SIGNFLOW_KONNEKTOR_RECHECK_INTERVAL: '20s',
      SIGNFLOW_LOG_LEVEL: 'error',
      // Staff get the signer's "a person is needed" notices in the inbox, and act on them (see `staffDesk`).
      SIGNFLOW_STAFF_MAIL: 'praxis-team@chaos.invalid',
    };
    const config = loadConfig({}, env);
    const db = createDb(databaseUrl, { poolMax: 4 });
    cleanups.push(() => db.destroy());
    await migrateCrm(db, config.crm);
    await migrateSignflow(db);
    const seed = await seedDemo(db, config.crm);
    const contactIds = seed.contactIds.filter((id) => id !== seed.invalidEmailContactId);

    // The contracts, each for one of the seeded freelancers.
    const c = config.crm.contracts;
    const contractIds: number[] = [];
    const freelancerOf = new Map<number, number>();
    for (let i = 0; i < o.contracts; i++) {
      const contactId = contactIds[i % contactIds.length] as number;
      const [id] = (await db(c.table).insert({
        [c.contactId]: contactId,
        [c.title]: `Honorarvertrag Chaos ${i + 1}`,
        [c.status]: config.crm.values.contractSendableStatuses[0],
        [c.start]: '2027-01-01',
        [c.end]: '2027-12-31',
        [c.feeCents]: 100_000 + i,
        [c.description]: 'Chaos-Lauf',
      })) as number[];
      contractIds.push(Number(id));
      freelancerOf.set(Number(id), contactId);
    }
    event(`${o.contracts} contracts in MariaDB; Temporal ${temporal.address}`);

    // The worker: its own process, so that SIGKILL hits it alone.
    const workerLog = fs.openSync(path.join(o.dir, 'worker.log'), 'a');
    cleanups.push(async () => fs.closeSync(workerLog));
    let worker: ChildProcess | undefined;
    let stopping = false;
    const startWorker = async (): Promise<void> => {
      const ports = { m: String(await getFreePort()), s: String(await getFreePort()) };
      const w = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
        cwd: REPO,
        env: { ...env, SIGNFLOW_WORKER_METRICS_PORT: ports.m, SIGNFLOW_WORKER_SDK_METRICS_PORT: ports.s },
        stdio: ['ignore', workerLog, workerLog],
      });
      worker = w;
      // Like systemd's Restart=always: a worker that stops by itself (it refuses to start while MariaDB is down) is
      // started again; the ones we kill are restarted by the killer.
      w.once('exit', (code, signal) => {
        if (stopping || signal === 'SIGKILL' || worker !== w) return;
        event(`worker exited by itself (${signal ?? `code ${String(code)}`}); started again in 2 s`);
        setTimeout(() => {
          if (!stopping && worker === w) void startWorker();
        }, 2_000);
      });
    };
    const killWorker = async (signal: NodeJS.Signals): Promise<void> => {
      const w = worker;
      if (!w || w.exitCode !== null || w.signalCode !== null) return;
      const exited = new Promise((r) => w.once('exit', r));
      w.kill(signal);
      await exited;
    };
    cleanups.push(async () => {
      stopping = true;
      await killWorker('SIGTERM');
    });
    await startWorker();

    const connected = await connectClient(config);
    cleanups.push(() => connected.close());
    const deps = { config, db, client: connected.client };

    // Staff activate the comfort signature, as in the morning.
    /** Staff at the card terminal: the worker killer holds off meanwhile (see `killer`). */
    let activating = false;
    /** The run is counted and ends: staff stop trying (see `staffDesk`). */
    let deskClosed = false;
    /** Activates the comfort signature as staff do, until it works; false if the run ended first. */
    const activate = async (): Promise<boolean> => {
      activating = true;
      try {
        for (;;) {
          const run = await runCli(['konnektor', 'activate', '--json'], env);
          if (run.code === 0) return true;
          const code = cliErrorCode(run.stdout);
          event(`konnektor activate failed (exit ${run.code}${code ? `, ${code}` : ''}), again in 5 s`);
          // Activations that worked at the card but whose answer a fault lost hold sessions: once the eHBA has none
          // free, staff do what the CLI tells them (deactivate the old sessions, then activate again).
          if (code === 'COMFORT_SESSION_LIMIT') await runCli(['konnektor', 'deactivate', '--json'], env);
          // Without this a desk still trying when the run ends kept the run from ever ending.
          if (deskClosed) return false;
          await sleep(5_000);
        }
      } finally {
        activating = false;
      }
    };
    /** Staff look first (`signflow konnektor status`): an active session with signatures left needs no PIN. */
    const sessionUsable = async (): Promise<boolean> => {
      for (;;) {
        const run = await runCli(['konnektor', 'status', '--json'], env);
        if (run.code === 0) {
          const mode = JSON.parse(run.stdout) as { active?: boolean; countRemaining?: number };
          return mode.active === true && (mode.countRemaining ?? 0) > 0;
        }
        // The run has ended: nothing to look at any more.
        if (deskClosed) return true;
        await sleep(5_000);
      }
    };
    /**
     * Staff at their desk: each "Komfortsignatur … Handlung nötig" notice of the signer (a staff mail in the inbox)
     * makes them look at the card, and enter the PIN again when the session has run out (by time or by count).
     */
    let staffActivations = 0;
    const handledNotices = new Set<string>();
    const staffDesk = (async () => {
      while (!deskClosed) {
        await sleep(2_000);
        const notices = (inbox?.messages() ?? [])
          .map((m) => String(m.headers['x-signflow-mail-key'] ?? ''))
          .filter((key) => key.includes(':staff-parked:') && !handledNotices.has(key));
        if (notices.length === 0 || activating) continue;
        for (const key of notices) handledNotices.add(key);
        if (await sessionUsable()) continue;
        if (!(await activate())) break;
        staffActivations++;
        event(`staff got the signer's notice and activated the comfort signature again (#${staffActivations})`);
      }
    })();
    cleanups.push(async () => {
      deskClosed = true;
      await staffDesk;
    });
    await activate();
    sim.admin.faults.set({ transientErrorRate: 0.3 });
    event('comfort signature activated; from now on the simulator fails 30 % of its calls transiently');

    // The drivers: start every contract, then sign (or confirm) each once its invitation is out.
    const started = new Set<number>();
    const acted = new Set<number>();
    let chaosOver = false;
    let chaosOverAt = 0;
    const staffShare = o.staffShare ?? 0.2;
    const byStaff = new Set(contractIds.filter(() => rnd() < staffShare));
    const driver = (async () => {
      while (acted.size < contractIds.length) {
        for (const id of contractIds) {
          try {
            if (!started.has(id)) {
              await startContract(deps, id);
              started.add(id);
            } else if (!acted.has(id)) {
              const state = await contractState(deps, id);
              // Signed by an earlier call whose answer was lost in a fault: nothing more to do for it.
              if (state.outcome) acted.add(id);
              if (state.phase !== 'awaiting-signature' || state.outcome) continue;
              if (byStaff.has(id)) await confirmContract(deps, id, seed.staffContactId);
              else await signContract(deps, id, { contactId: freelancerOf.get(id), method: 'click' });
              acted.add(id);
            }
          } catch (err) {
            const code = (err as { code?: string }).code;
            // Already done by an earlier call whose answer was lost in a fault: the contract is acted upon.
            if (code === 'SIGNATURE_ALREADY_CONFIRMED') acted.add(id);
            if (code === 'CONTRACT_ALREADY_STARTED') started.add(id);
          }
        }
        await sleep(1_000);
        if (chaosOver && Date.now() - chaosOverAt > (o.settleTimeoutMs ?? 15 * 60_000)) return;
      }
    })();

    // The faults, on a fixed plan with random worker kills in between.
    let workerKills = 0;
    const killer = (async () => {
      while (!chaosOver) {
        await sleep(15_000 + rnd() * 30_000);
        if (chaosOver) return;
        // The activation is an Update answered by the worker (NO_WORKER after SIGNFLOW_WORKER_ANSWER_TIMEOUT): on a
        // slow machine a worker killed again before it finished bundling would never let staff activate.
        if (activating) continue;
        await killWorker('SIGKILL');
        workerKills++;
        event(`worker killed (SIGKILL #${workerKills})`);
        await sleep(1_000 + rnd() * 4_000);
        await startWorker();
        event('worker started again');
      }
    })();

    await sleep(20_000);
    event('Temporal server: stop');
    await temporal.stop();
    temporal = await startTemporalDevServer(temporalOptions);
    event('Temporal server: started again on the same state file');

    await sleep(15_000);
    event('MariaDB: stop for 30 s');
    await mariadb.stop();
    await sleep(30_000);
    await mariadb.start();
    event('MariaDB: started again');

    await sleep(15_000);
    event('Konnektor: the comfort signature runs out (clock + 7 h)');
    sim.admin.advanceClock(7 * 60 * 60_000);
    await sleep(20_000);
    while (activating) await sleep(1_000);
    if (await sessionUsable()) {
      event('comfort signature already activated again by staff (their notice came first)');
    } else {
      await activate();
      event('comfort signature activated again (signflow konnektor activate)');
    }

    await sleep(10_000);
    event('SMTP: stop for 60 s');
    await inbox.close();
    inbox = undefined;
    await sleep(60_000);
    inbox = await startDevInbox({ port: smtpPort, dir: mailDir });
    event('SMTP: started again');

    chaosOver = true;
    chaosOverAt = Date.now();
    await killer;
    const last = worker;
    if (!last || last.exitCode !== null || last.signalCode !== null) await startWorker();
    sim.admin.faults.set({ transientErrorRate: 0 });
    event('faults over; waiting for every contract to complete');

    await driver;
    const settleDeadline = chaosOverAt + (o.settleTimeoutMs ?? 15 * 60_000);
    let countedAt = new Date();
    let count = await countOutcome({ db, config, client: connected.client, inbox, contractIds });
    while (count.stuck.length > 0 && Date.now() < settleDeadline) {
      await sleep(5_000);
      countedAt = new Date();
      count = await countOutcome({ db, config, client: connected.client, inbox, contractIds });
    }
    event(`counted: ${count.ok} of ${contractIds.length} contracts complete and single`);
    const bad = [...new Set([...count.lost, ...count.duplicated, ...count.stuck])].sort((a, b) => a - b);
    const explanations =
      bad.length > 0
        ? await explainContracts({ db, client: connected.client, dir: o.dir, contractIds: bad, countedAt })
        : [];
    return { count, events, workerKills, staffActivations, durationMs: Date.now() - t0, explanations };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

/** The domain code of a CLI failure answered with `--json` (`{"error":{"code":…}}`), if any. */
function cliErrorCode(stdout: string): string | undefined {
  try {
    const code = (JSON.parse(stdout) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/** `node bin/signflow.js …` with the run's environment (how staff run the CLI). */
function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO, 'bin', 'signflow.js'), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.once('close', (code) => resolve({ code, stdout }));
  });
}
