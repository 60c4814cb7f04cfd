/**
 * One measured stack: a fresh CRM database (SQLite file or a MariaDB database, migrated and seeded), the dev SMTP
 * inbox on loopback, and a real signflow worker on its own task queue against the shared Temporal dev server. The
 * worker gets its own knex pool sized like production (`database.poolMax`), not the small pool of the test helper.
 */
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { Knex } from 'knex';
import type { KonnektorClient } from '../activities/konnektor/konnektor-client';
import { createDb } from '../db/connection';
import { startDevInbox, type DevInbox } from '../mail/dev-inbox';
import { createMailer } from '../mail/mailer';
import { deepMerge, loadConfig, type SignflowConfig } from '../temporal.config';
import { createTestDb, type TestDb } from '../harness/databases';
import { getFreePort } from '../harness/temporal';
import { labelNewThreads } from './threads';
import { createWorker, type RunningWorker } from '../worker/run-worker';
import type { BenchDb } from './options';

export interface BenchStack {
  kind: BenchDb;
  t: TestDb;
  /** The worker's pool (production size). */
  db: Knex;
  config: SignflowConfig;
  inbox: DevInbox;
  /** Resolves once a mail with this `X-Signflow-Mail-Key` reached the inbox (also one that came before the call). */
  waitForMail(mailKey: string, timeoutMs: number): Promise<void>;
  client: Client;
  worker: RunningWorker;
  stop(): Promise<void>;
}

export interface BenchStackOptions {
  kind: BenchDb;
  client: Client;
  connection: NativeConnection;
  namespace: string;
  bundle: { codePath: string };
  /** Distinct per stack: the dev server is shared and workflow ids derive from contract ids. */
  taskQueue: string;
  config?: unknown;
  konnektor?: KonnektorClient;
}

export async function startBenchStack(o: BenchStackOptions): Promise<BenchStack> {
  // The driver finds mails by their X-Signflow-Mail-Key only: the inbox takes the header fields as sent, without
  // mailparser (the full parse of every mail was ~3 ms of this process's CPU per contract, the header block's alone
  // ~0.6 ms, charged to signflow against the floor, which sends no mail; a real mail server is not in the worker's
  // process).
  const inbox = await startDevInbox({ port: await getFreePort(), parse: false });
  const waitForMail = mailKeyWaiter(inbox);
  const stops: (() => Promise<void>)[] = [() => inbox.close()];
  let stopped: Promise<void> | undefined;
  // Idempotent: the run stops a stack when its scenario is done, the final cleanup once more.
  const stopAll = () =>
    (stopped ??= (async () => {
      for (const stop of stops.reverse()) await stop().catch((err: unknown) => console.error('[bench] stop:', err));
    })());
  try {
    const overrides = deepMerge(
      {
        temporal: { taskQueue: o.taskQueue, namespace: o.namespace },
        mail: { smtpUrl: `smtp://127.0.0.1:${inbox.port}` },
        // No timers fire during a run: the benchmark measures the straight path.
        signature: { remindersEnabled: false, expiry: '30d' },
      },
      o.config ?? {}
    );
    const t = await createTestDb(o.kind, { config: overrides });
    stops.push(() => t.destroy());
    const config = loadConfig(deepMerge(overrides, { database: { url: t.url } }), {});
    const db = createDb(t.url, { poolMax: config.database.poolMax });
    stops.push(() => db.destroy());
    const mailer = createMailer(config.mail.smtpUrl, config.mail.from);
    stops.push(async () => mailer.close());
    const worker = await labelNewThreads(`signflow-${o.kind}`, () =>
      createWorker(config, {
        connection: o.connection,
        workflowBundle: o.bundle,
        db,
        mailer,
        konnektor: o.konnektor,
        temporalClient: o.client,
      })
    );
    stops.push(() => worker.shutdown());
    return { kind: o.kind, t, db, config, inbox, waitForMail, client: o.client, worker, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * Waits for mails by key through one listener and a map, and lets the inbox forget every mail: `inbox.waitFor` looks
 * through every mail received so far and asks every waiter about every new mail, which at 50 in flight and thousands
 * of mails in a run was the driver's largest cost per contract. Keys that arrived unasked for are kept (a short
 * string each), so a mail that comes before its wait is found.
 */
function mailKeyWaiter(inbox: DevInbox): BenchStack['waitForMail'] {
  const arrived = new Set<string>();
  const waiting = new Map<string, () => void>();
  inbox.onMessage((m) => {
    const key = m.headers['x-signflow-mail-key'];
    inbox.clear();
    if (key === undefined) return;
    const resolve = waiting.get(key);
    if (resolve) resolve();
    else arrived.add(key);
  });
  return (mailKey, timeoutMs) => {
    if (arrived.delete(mailKey)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(mailKey);
        reject(new Error(`no mail ${mailKey} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(mailKey, () => {
        clearTimeout(timer);
        waiting.delete(mailKey);
        resolve();
      });
    });
  };
}

let nextContractId = 100_000;

/**
 * Inserts `count` sendable contracts for the seeded freelancers (round robin), with ids unique across the stacks of
 * this run: every stack has a fresh database, but they share one Temporal server, where the workflow id is
 * `honorarvertrag-<contract id>`.
 */
export async function addContracts(
  stack: Pick<BenchStack, 'config' | 't'>,
  count: number
): Promise<{ contractId: number; contactId: number }[]> {
  const c = stack.config.crm.contracts;
  const contacts = stack.t.seed.contactIds;
  const rows = Array.from({ length: count }, (_, i) => ({
    contractId: nextContractId++,
    contactId: contacts[i % contacts.length] as number,
  }));
  // In chunks: SQLite refuses one INSERT of more than 500 rows.
  await stack.t.db.batchInsert(
    c.table,
    rows.map((r) => ({
      [c.id]: r.contractId,
      [c.contactId]: r.contactId,
      [c.title]: `Honorarvertrag Benchmark ${r.contractId}`,
      [c.status]: stack.config.crm.values.contractSendableStatuses[0],
      [c.start]: '2027-01-01',
      [c.end]: '2027-06-30',
      [c.feeCents]: 123456,
      [c.description]: 'Kursleitung Rückenschule, 12 Termine à 90 Minuten; Unterlagen werden gestellt.',
    })),
    200
  );
  return rows;
}

/** Polls `check` every 50 ms until it returns true; throws after `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects on the first failure. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(lanes);
  return out;
}
