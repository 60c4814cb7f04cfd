/**
 * The outbox on real databases (SQLite and MariaDB) with the real Temporal dev server and a real worker:
 * - the claim is exactly-once when many pollers race (separate connections, as separate processes would have);
 * - two real pollers racing over rows that start real workflows process each row once, with the right outcome;
 * - the long-running poller workflow (one per namespace, its activity polling and heartbeating) confirms and
 *   withdraws running contracts and writes readable errors for rows it cannot act on.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import type { Knex } from 'knex';
import { contractStatus } from '../../client/contract-client';
import { createDb } from '../../db/connection';
import { claimOutboxRows, enqueueOutboxCommand, readOutboxRows } from '../../outbox/outbox-repository';
import { createOutboxActivities, pollOutboxOnce, type OutboxDeps } from '../../outbox/outbox.activities';
import { ensureOutboxPoller, OUTBOX_POLLER_WORKFLOW_ID, stopOutboxPoller } from '../../outbox/poller';
import { OUTBOX_TABLE, type OutboxRow } from '../../outbox/types';
import { startContract } from '../../commands/contract-commands';
import type { SignflowConfig } from '../../temporal.config';
import { testDatabases } from '../../harness/databases';
import { addSendableContract, startContractStack, type ContractStack } from '../helpers/contract-stack';
import { startDevServer, workflowBundle, type DevServerHandle } from '../../harness/temporal';

jest.setTimeout(120_000);

interface RacerResult {
  /** Every id one of its claims returned: what this poller would have run. */
  claimed: number[];
  /** The ids it finished (finishing succeeds only for the row's current claimer). */
  finished: number[];
}

/**
 * A claim-racer.ts process: `ready` once connected, `go()` starts it, `holding` once its first claim returned rows,
 * `release()` lets it go on, `result` is what it claimed and finished.
 */
function startRacer(url: string, claimer: string) {
  const child = spawn(
    path.join(__dirname, '../../node_modules/.bin/tsx'),
    [path.join(__dirname, 'claim-racer.ts'), url, claimer],
    { stdio: ['pipe', 'pipe', 'inherit'], timeout: 90_000 }
  );
  let out = '';
  const signals: Record<'ready' | 'claimed', () => void> = { ready: () => undefined, claimed: () => undefined };
  const lineSeen = (line: keyof typeof signals) => new Promise<void>((resolve) => (signals[line] = resolve));
  const ready = lineSeen('ready');
  const holding = lineSeen('claimed');
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    const lines = out.split('\n');
    for (const line of ['ready', 'claimed'] as const) if (lines.includes(line)) signals[line]();
  });
  const result = new Promise<RacerResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`racer ${claimer} exited with ${code}: ${out}`));
      const last = out.trim().split('\n').pop() ?? '{}';
      resolve(JSON.parse(last) as RacerResult);
    });
  });
  // A racer that dies early must not leave the test waiting for a line it will never print.
  const died = result.then(
    () => Promise.reject(new Error(`racer ${claimer} ended early: ${out}`)),
    (err: unknown) => Promise.reject(err)
  );
  void died.catch(() => undefined);
  return {
    ready: Promise.race([ready, died]),
    holding: Promise.race([holding, died]),
    go: () => child.stdin.write('go\n'),
    release: () => child.stdin.end('release\n'),
    result,
  };
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.each(testDatabases())('outbox on $name', (database) => {
  let server: DevServerHandle;
  let stack: ContractStack;
  let deps: OutboxDeps;
  const extraDbs: Knex[] = [];

  /** Another connection pool to the same database, as a second poller process would have. */
  function secondConnection(): Knex {
    const db = createDb(stack.t.url, { poolMax: 2 });
    extraDbs.push(db);
    return db;
  }

  beforeAll(async () => {
    server = await startDevServer();
    stack = await startContractStack(server.env, { db: database.name });
    deps = { config: stack.config, db: stack.t.db, client: stack.client };
  });

  afterAll(async () => {
    for (const db of extraDbs) await db.destroy();
    await stack?.stop();
    await server?.stop();
  });

  beforeEach(async () => {
    await stack.t.db(OUTBOX_TABLE).delete();
  });

  async function awaitingSignature(contractId: number): Promise<void> {
    await until(`contract ${contractId} awaiting signature`, 30_000, async () => {
      const state = await contractStatus(stack.client, contractId).catch(() => undefined);
      return state?.phase === 'awaiting-signature' ? true : undefined;
    });
  }

  test('the conditional claim: eight pollers on separate connections take each of 120 rows exactly once', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 120; i++)
      ids.push(await enqueueOutboxCommand(stack.t.db, { command: 'resend', contractId: 1 }));
    const pollers = Array.from({ length: 8 }, (_, i) => ({ claimer: `racer-${i}`, db: secondConnection() }));
    const claimed = await Promise.all(
      pollers.map(async ({ claimer, db }) => {
        const mine: number[] = [];
        // Small batches, many rounds: the pollers interleave.
        for (let round = 0; round < 60; round++) {
          const rows = await claimOutboxRows(db, { claimer, batchSize: 5 });
          const fresh = rows.map((r) => r.id).filter((id) => !mine.includes(id));
          if (fresh.length === 0 && rows.length === 0) break;
          mine.push(...fresh);
          // Finish them so the next round claims new ones.
          await db(OUTBOX_TABLE).whereIn('id', fresh).update({ processed_at: new Date(), outcome: 'resent' });
        }
        return mine;
      })
    );
    const all = claimed.flat().sort((a, b) => a - b);
    expect(all).toEqual(ids);
    expect(new Set(all).size).toBe(ids.length);
    const rows = await readOutboxRows(stack.t.db);
    for (const [i, mine] of claimed.entries()) {
      for (const id of mine) expect(rows.find((r) => r.id === id)?.claimedBy).toBe(`racer-${i}`);
    }
  });

  test('four poller processes racing for 150 rows: their claims are disjoint and every row is finished once', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 150; i++)
      ids.push(await enqueueOutboxCommand(stack.t.db, { command: 'resend', contractId: 1 }));
    // Separate processes, as separate workers would be; all get the start signal once all are connected.
    const racers = Array.from({ length: 4 }, (_, i) => startRacer(stack.t.url, `process-${i}`));
    await Promise.all(racers.map((r) => r.ready));
    for (const r of racers) r.go();
    // Every racer holds rows before any goes on: each takes part in the race, on a fast or a slow machine.
    await Promise.all(racers.map((r) => r.holding));
    for (const r of racers) r.release();
    const results = await Promise.all(racers.map((r) => r.result));
    const claimed = results.map((r) => r.claimed);
    // What each claim returned, the poller runs: no row may have been handed to two racers.
    for (const [i, mine] of claimed.entries()) {
      for (const [j, theirs] of claimed.entries()) {
        if (j > i)
          expect({ racers: [i, j], both: mine.filter((id) => theirs.includes(id)) }).toEqual({
            racers: [i, j],
            both: [],
          });
      }
    }
    expect(claimed.flat().sort((a, b) => a - b)).toEqual(ids);
    // Each finished exactly what it claimed.
    for (const r of results)
      expect([...r.finished].sort((a, b) => a - b)).toEqual([...r.claimed].sort((a, b) => a - b));
    for (const mine of claimed) expect(mine.length).toBeGreaterThan(0);
    const rows = await readOutboxRows(stack.t.db);
    for (const [i, mine] of claimed.entries()) {
      for (const id of mine)
        expect(rows.find((r) => r.id === id)).toEqual(
          expect.objectContaining({ claimedBy: `process-${i}`, outcome: 'resent' })
        );
    }
  });

  test('two pollers racing over real commands: each row once, outcomes and errors written', async () => {
    const contracts: number[] = [];
    for (let i = 0; i < 8; i++) contracts.push(await addSendableContract(stack.t));
    const rowIds: Record<string, number[]> = { send: [], duplicate: [], unknownContract: [], badCommand: [] };
    for (const contractId of contracts)
      rowIds.send!.push(await enqueueOutboxCommand(stack.t.db, { command: 'send', contractId }));
    for (const contractId of contracts.slice(0, 3)) {
      rowIds.duplicate!.push(await enqueueOutboxCommand(stack.t.db, { command: 'send', contractId }));
    }
    rowIds.unknownContract!.push(await enqueueOutboxCommand(stack.t.db, { command: 'send', contractId: 987_654 }));
    const [bad] = await stack.t.db(OUTBOX_TABLE).insert({ command: 'sendd', contract_id: contracts[0] });
    rowIds.badCommand!.push(Number(bad));

    const poller = async (claimer: string, db: Knex) => {
      const mine: number[] = [];
      for (let round = 0; round < 40; round++) {
        const result = await pollOutboxOnce({ ...deps, db }, claimer, { batchSize: 2 });
        expect(result.unexpected).toEqual([]);
        mine.push(...result.processed);
        if (!result.more && result.processed.length === 0) break;
      }
      return mine;
    };
    const [a, b] = await Promise.all([poller('poller-a', secondConnection()), poller('poller-b', secondConnection())]);

    const all = [...a, ...b].sort((x, y) => x - y);
    const expected = Object.values(rowIds)
      .flat()
      .sort((x, y) => x - y);
    expect(all).toEqual(expected);
    expect(a.filter((id) => b.includes(id))).toEqual([]);

    const rows = new Map((await readOutboxRows(stack.t.db)).map((r) => [r.id, r] as [number, OutboxRow]));
    for (const id of a) expect(rows.get(id)?.claimedBy).toBe('poller-a');
    for (const id of b) expect(rows.get(id)?.claimedBy).toBe('poller-b');
    for (const row of rows.values()) expect(row.processedAt).not.toBeNull();

    const runOf = new Map<number, string>();
    for (const [i, id] of rowIds.send!.entries()) {
      const row = rows.get(id)!;
      expect([row.outcome, row.error]).toEqual(['started', null]);
      expect(row.runId).toMatch(/^[0-9a-f-]{36}$/);
      runOf.set(contracts[i]!, row.runId!);
    }
    // A second "send" for the same contract joins the same run: the workflow was started once.
    for (const [i, id] of rowIds.duplicate!.entries()) {
      expect(rows.get(id)?.runId).toBe(runOf.get(contracts[i]!));
    }
    const unknown = rows.get(rowIds.unknownContract![0]!)!;
    expect(unknown.outcome).toBe('failed');
    expect(unknown.error).toMatch(/^CONTRACT_NOT_FOUND: contract 987654 does not exist/);
    const typo = rows.get(rowIds.badCommand![0]!)!;
    expect(typo.outcome).toBe('failed');
    expect(typo.error).toContain('unknown command "sendd"');

    for (const contractId of contracts) {
      const description = await stack.client.workflow.getHandle(`honorarvertrag-${contractId}`).describe();
      expect(description.runId).toBe(runOf.get(contractId));
    }
  });

  (database.name === 'mariadb' ? test : test.skip)('the MySQL trigger of docs/outbox.md feeds the outbox', async () => {
    const doc = fs.readFileSync(path.join(__dirname, '../../docs/outbox.md'), 'utf8');
    const sql = /```sql\n([\s\S]*?)```/.exec(doc)?.[1];
    if (!sql) throw new Error('docs/outbox.md has no sql block');
    // DELIMITER is a command of the mysql client, not SQL: send the CREATE TRIGGER statement alone.
    const statement = sql
      .split('\n')
      .filter((line) => !/^DELIMITER/.test(line))
      .join('\n')
      .replace(/END\/\/\s*$/, 'END');
    const c = stack.config.crm.contracts;
    // The field the CRM admin adds for "confirmed by hand", as the doc describes.
    await stack.t.db.schema.alterTable(c.table, (t) => t.integer('manuell_bestaetigt_durch').unsigned().nullable());
    await stack.t.db.raw(statement);
    try {
      const contractId = await addSendableContract(stack.t);
      await stack.t
        .db(c.table)
        .where(c.id, contractId)
        .update({ [c.status]: 'in Vorbereitung' });
      expect(await readOutboxRows(stack.t.db)).toEqual([]);
      await stack.t
        .db(c.table)
        .where(c.id, contractId)
        .update({ [c.status]: 'erstellt' });
      await stack.t
        .db(c.table)
        .where(c.id, contractId)
        .update({ manuell_bestaetigt_durch: stack.t.seed.staffContactId });
      const rows = await readOutboxRows(stack.t.db);
      expect(rows.map((r) => [r.command, r.contractId, r.staffContactId])).toEqual([
        ['send', contractId, null],
        ['confirm', contractId, stack.t.seed.staffContactId],
      ]);
      expect(rows[0]?.createdAt).not.toBeNull();
      // The poller takes the trigger's row like any other.
      const result = await pollOutboxOnce(deps, 'trigger-test', { batchSize: 1 });
      expect(result.processed).toEqual([rows[0]!.id]);
      expect((await readOutboxRows(stack.t.db, [rows[0]!.id]))[0]?.outcome).toBe('started');
    } finally {
      await stack.t.db.raw('DROP TRIGGER IF EXISTS honorarvertrag_signflow_outbox');
    }
  });

  test('one long-running poller workflow: confirm, withdraw and readable errors, no workflow per poll', async () => {
    const staff = stack.t.seed.staffContactId;
    const toConfirm = await addSendableContract(stack.t);
    const toWithdraw = await addSendableContract(stack.t);
    for (const id of [toConfirm, toWithdraw]) await startContract(deps, id);
    for (const id of [toConfirm, toWithdraw]) await awaitingSignature(id);

    const confirmRow = await enqueueOutboxCommand(stack.t.db, {
      command: 'confirm',
      contractId: toConfirm,
      staffContactId: staff,
    });
    const withdrawRow = await enqueueOutboxCommand(stack.t.db, {
      command: 'withdraw',
      contractId: toWithdraw,
      staffContactId: staff,
    });
    const noStaff = await enqueueOutboxCommand(stack.t.db, { command: 'confirm', contractId: toWithdraw });
    const notStarted = await enqueueOutboxCommand(stack.t.db, {
      command: 'resend',
      contractId: stack.t.seed.contractIds[0]!,
    });

    // A dedicated outbox worker on its own task queue; the commands go to the contract workers' queue (deps.config).
    const outboxQueue = `${stack.config.temporal.taskQueue}-outbox`;
    const scheduleConfig: SignflowConfig = {
      ...stack.config,
      temporal: { ...stack.config.temporal, taskQueue: outboxQueue },
      outbox: { pollInterval: 1000, batchSize: 10 },
    };
    const worker = await Worker.create({
      connection: server.env.nativeConnection,
      namespace: stack.config.temporal.namespace,
      taskQueue: outboxQueue,
      workflowBundle: await workflowBundle(),
      activities: createOutboxActivities(deps),
    });
    const running = worker.run();
    try {
      expect(await ensureOutboxPoller(stack.client, scheduleConfig)).toBe(OUTBOX_POLLER_WORKFLOW_ID);
      const { runId } = await stack.client.workflow.getHandle(OUTBOX_POLLER_WORKFLOW_ID).describe();
      // Idempotent: a second call with the same settings keeps the running poller.
      await ensureOutboxPoller(stack.client, scheduleConfig);
      expect((await stack.client.workflow.getHandle(OUTBOX_POLLER_WORKFLOW_ID).describe()).runId).toBe(runId);
      const ids = [confirmRow, withdrawRow, noStaff, notStarted];
      const rows = await until('the scheduled poller to process every row', 60_000, async () => {
        const r = await readOutboxRows(stack.t.db, ids);
        return r.every((x) => x.processedAt !== null) ? r : undefined;
      });
      const byId = new Map(rows.map((r) => [r.id, r]));
      expect(byId.get(confirmRow)).toEqual(expect.objectContaining({ outcome: 'confirmed', error: null }));
      expect(byId.get(withdrawRow)).toEqual(expect.objectContaining({ outcome: 'withdrawn', error: null }));
      expect(byId.get(noStaff)?.outcome).toBe('failed');
      expect(byId.get(noStaff)?.error).toMatch(/staff_contact_id/);
      expect(byId.get(notStarted)?.outcome).toBe('failed');
      expect(byId.get(notStarted)?.error).toMatch(/^SIGNATURE_REQUEST_NOT_FOUND: /);
      for (const row of rows) {
        expect(row.claimedBy).toBe(`${stack.config.temporal.namespace}/${OUTBOX_POLLER_WORKFLOW_ID}`);
      }

      const c = stack.config.crm.contracts;
      const confirmed = await stack.t.db(c.table).where(c.id, toConfirm).first();
      expect([confirmed[c.status], Number(confirmed[c.confirmedBy])]).toEqual([
        stack.config.crm.values.contractInProgress,
        staff,
      ]);
      const withdrawn = await until('the withdrawal to be recorded', 30_000, async () => {
        const state = await contractStatus(stack.client, toWithdraw);
        return state.phase === 'withdrawn' ? state : undefined;
      });
      const s = stack.config.crm.signatures;
      const sig = await stack.t.db(s.table).where(s.id, withdrawn.signatureId!).first();
      expect(sig[s.status]).toBe(stack.config.crm.values.signatureWithdrawn);

      // Rows added later are taken by the same poller's next poll; a second confirm is a readable rejection.
      const again = await enqueueOutboxCommand(stack.t.db, {
        command: 'confirm',
        contractId: toConfirm,
        staffContactId: staff,
      });
      const [late] = await until('the next poll', 30_000, async () => {
        const r = await readOutboxRows(stack.t.db, [again]);
        return r[0]?.processedAt ? r : undefined;
      });
      expect(late?.outcome).toBe('failed');
      expect(late?.error).toMatch(/^SIGNATURE_ALREADY_CONFIRMED: /);

      // All of that was one poller workflow (the same run), not a workflow per poll.
      const pollers = [];
      for await (const w of stack.client.workflow.list({ query: `WorkflowType = 'outboxPollerLoop'` })) pollers.push(w);
      expect(pollers.map((w) => [w.workflowId, w.runId])).toEqual([[OUTBOX_POLLER_WORKFLOW_ID, runId]]);
    } finally {
      await stopOutboxPoller(stack.client);
      worker.shutdown();
      await running;
    }
    expect(await stopOutboxPoller(stack.client)).toBe(false);
  });
});
