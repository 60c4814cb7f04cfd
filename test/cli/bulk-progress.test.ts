/**
 * `signflow bulk` (cli/bulk-run.ts) against a real dev server, worker, CRM database and SMTP inbox: no start lost or
 * doubled when starts fail transiently mid-run (before the server saw them, or after it started the workflow and the
 * answer was lost), when some keep failing and the bulk is run again, and the progress reaches the true number of
 * invitations the inbox received. Faults are injected into the client's start calls only (a workflow interceptor);
 * everything else is real. No timing assertions.
 */
import { Writable } from 'node:stream';
import { Client, ServiceError, type WorkflowClientInterceptor } from '@temporalio/client';
import { Metadata } from '@grpc/grpc-js';
import { runBulk, type BulkProgress } from '../../cli/bulk-run';
import { CliContext } from '../../cli/context';
import { Output } from '../../cli/output';
import { startDevInbox, type DevInbox } from '../../mail/dev-inbox';
import { createTestDb, testDatabases, type TestDb, type TestDbKind } from '../../harness/databases';
import { startDevServer, workflowBundle, type DevServerHandle } from '../../harness/temporal';
import { deepMerge, loadConfig, type SignflowConfig } from '../../temporal.config';
import { createWorker, type RunningWorker } from '../../worker/run-worker';
import { withdrawContract } from '../../commands/contract-commands';
import { eventually } from '../helpers/waits';
import { contractWorkflowId } from '../../workflows/definitions';

/** gRPC UNAVAILABLE as the client reports a dropped connection. */
function unavailable(): ServiceError {
  const grpc = Object.assign(new Error('14 UNAVAILABLE: connection reset (injected)'), {
    code: 14,
    details: 'connection reset (injected)',
    metadata: new Metadata(),
  });
  return new ServiceError('Failed to start Workflow', { cause: grpc });
}

describe.each(testDatabases())('signflow bulk on $name', ({ name }) => {
  const kind: TestDbKind = name;
  let server: DevServerHandle;
  let smtp: DevInbox;
  let t: TestDb;
  let config: SignflowConfig;
  let worker: RunningWorker;
  let env: Record<string, string>;
  /** While true the inbox turns every recipient away for now (451), as during an SMTP outage. */
  let smtpDeferring = false;

  beforeAll(async () => {
    server = await startDevServer();
    smtp = await startDevInbox({
      port: 0,
      deferRecipient: () => smtpDeferring,
    });
    const overrides = {
      temporal: { address: server.address, namespace: server.namespace, taskQueue: `signflow-bulk-${process.pid}` },
      mail: { smtpUrl: `smtp://127.0.0.1:${smtp.port}` },
      signature: { remindersEnabled: false },
    };
    t = await createTestDb(kind, { config: overrides });
    config = loadConfig(deepMerge(overrides, { database: { url: t.url } }), {});
    worker = await createWorker(config, {
      connection: server.env.nativeConnection,
      workflowBundle: await workflowBundle(),
      db: t.db,
    });
    env = {
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
      SIGNFLOW_TASK_QUEUE: config.temporal.taskQueue,
      SIGNFLOW_DATABASE_URL: t.url,
    };
  }, 180_000);

  afterAll(async () => {
    await worker?.shutdown();
    await smtp?.close();
    await t?.destroy();
    await server?.stop();
  });

  /**
   * The CLI's context with a real client whose start calls fail as `fault` says: 'before' (the server never saw the
   * call), 'after' (the server started the workflow, the answer was lost), or nothing.
   */
  function contextWithFaults(fault: (contractId: number, attempt: number) => 'before' | 'after' | undefined): {
    ctx: CliContext;
    attempts: Map<number, number>;
  } {
    const attempts = new Map<number, number>();
    const interceptor: WorkflowClientInterceptor = {
      async start(input, next) {
        const contractId = Number(input.options.workflowId.replace('honorarvertrag-', ''));
        const attempt = (attempts.get(contractId) ?? 0) + 1;
        attempts.set(contractId, attempt);
        const f = fault(contractId, attempt);
        if (f === 'before') throw unavailable();
        const runId = await next(input);
        if (f === 'after') throw unavailable();
        return runId;
      },
    };
    const client = new Client({
      connection: server.env.connection,
      namespace: server.namespace,
      interceptors: { workflow: [interceptor] },
    });
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const io = { stdout: sink, stderr: sink, env };
    class FaultyContext extends CliContext {
      override async temporal(): Promise<Client> {
        return client;
      }
    }
    return { ctx: new FaultyContext(io, new Output(io, true)), attempts };
  }

  async function newContracts(n: number): Promise<number[]> {
    const c = config.crm.contracts;
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const inserted: unknown[] = await t.db(c.table).insert(
        {
          [c.contactId]: t.seed.contactIds[i % t.seed.contactIds.length],
          [c.title]: `Honorarvertrag Bulk-Test ${i}`,
          [c.status]: config.crm.values.contractSendableStatuses[0],
          [c.start]: '2027-01-01',
          [c.end]: '2027-06-30',
          [c.feeCents]: 50000,
          [c.description]: 'Vertrag für den Bulk-Test',
        },
        [c.id]
      );
      const first = inserted[0] as number | Record<string, number>;
      ids.push(typeof first === 'number' ? first : (first[c.id] as number));
    }
    return ids;
  }

  /** Runs of each contract's workflow id on the server (every execution ever started, closed ones too). */
  async function runsOf(contractId: number): Promise<number> {
    let n = 0;
    for await (const _ of server.env.client.workflow.list({
      query: `WorkflowId = '${contractWorkflowId(contractId)}'`,
    }))
      n++;
    return n;
  }

  function invitationsIn(inbox: DevInbox, contractId: number): number {
    return inbox
      .messages()
      .filter((m) => m.headers['x-signflow-mail-key'] === `${contractWorkflowId(contractId)}:invitation`).length;
  }

  /** Invitations the database has marked sent for these contracts. */
  async function sentInDatabase(ids: number[]): Promise<number> {
    const rows = await t
      .db('signflow_mails')
      .whereIn('contract_id', ids)
      .andWhere({ kind: 'invitation', status: 'sent' })
      .countDistinct({ n: 'contract_id' });
    return Number(rows[0]?.n ?? 0);
  }

  async function expectOneRequestAndOneInvitationEach(ids: number[]): Promise<void> {
    for (const id of ids) {
      expect([id, await runsOf(id)]).toEqual([id, 1]);
      // The database marks a mail sent once the SMTP server accepted it; the inbox parses it a moment later.
      await smtp.waitFor((m) => m.headers['x-signflow-mail-key'] === `${contractWorkflowId(id)}:invitation`, 60_000);
      expect([id, invitationsIn(smtp, id)]).toEqual([id, 1]);
    }
  }

  test('starts that fail transiently mid-run are retried without a second request; progress reaches every invitation', async () => {
    const ids = await newContracts(10);
    const [lostBefore1, lostBefore2, lostAnswer] = [ids[3]!, ids[4]!, ids[6]!];
    const { ctx, attempts } = contextWithFaults((id, attempt) => {
      if (attempt > 1) return undefined;
      if (id === lostBefore1 || id === lostBefore2) return 'before';
      if (id === lostAnswer) return 'after';
      return undefined;
    });
    const reports: BulkProgress[] = [];
    const truthChecks: Promise<number[]>[] = [];
    try {
      const result = await runBulk(ctx, ids, {
        concurrency: 3,
        pollMs: 100,
        retryDelayMs: 50,
        onProgress: (p) => {
          reports.push(p);
          // Never ahead of the truth: the database read after a report has at least as many invitations sent.
          truthChecks.push(sentInDatabase(ids).then((n) => [p.invitations.sent, n]));
        },
      });
      expect(result.outcomes.map((o) => [o.contractId, o.ok])).toEqual(ids.map((id) => [id, true]));
      // The contract whose first start reached the server is found running by the retry and joined, not started again.
      expect(attempts.get(lostAnswer)).toBe(1);
      expect(attempts.get(lostBefore1)).toBe(2);
      expect(result.outcomes.find((o) => o.contractId === lostAnswer)).toMatchObject({ ok: true, joined: true });
      expect(result.invitations).toEqual({ sent: 10, refused: 0, skipped: 0, pending: 0 });
    } finally {
      await ctx.close();
    }
    await expectOneRequestAndOneInvitationEach(ids);
    for (const [shown, truth] of await Promise.all(truthChecks)) expect(truth).toBeGreaterThanOrEqual(shown as number);
    // The bar only moves forward and ends at the truth.
    const sent = reports.map((r) => r.invitations.sent);
    expect(sent).toEqual([...sent].sort((a, b) => a - b));
    expect(reports.at(-1)).toMatchObject({
      total: 10,
      answered: 10,
      refused: 0,
      invitations: { sent: 10, refused: 0, skipped: 0 },
    });
  }, 240_000);

  test('starts that keep failing are reported; the bulk run again starts only those and doubles nothing', async () => {
    const ids = await newContracts(8);
    const down = new Set([ids[1]!, ids[5]!]);
    // The first run: two contracts fail on every attempt; a third one's first answer is lost after the server started it.
    const first = contextWithFaults((id, attempt) =>
      down.has(id) ? 'before' : id === ids[6] && attempt === 1 ? 'after' : undefined
    );
    let firstResult;
    try {
      firstResult = await runBulk(first.ctx, ids, { concurrency: 4, pollMs: 100, attempts: 2, retryDelayMs: 50 });
    } finally {
      await first.ctx.close();
    }
    expect(firstResult.outcomes.filter((o) => !o.ok).map((o) => o.contractId)).toEqual([ids[1], ids[5]]);
    expect(first.attempts.get(ids[1]!)).toBe(2);
    expect(firstResult.invitations).toEqual({ sent: 6, refused: 0, skipped: 0, pending: 0 });

    // Run again, all ids, nothing failing now.
    const second = contextWithFaults(() => undefined);
    const reports: BulkProgress[] = [];
    let secondResult;
    try {
      secondResult = await runBulk(second.ctx, [...ids, ids[2]!], {
        concurrency: 4,
        pollMs: 100,
        onProgress: (p) => reports.push(p),
      });
    } finally {
      await second.ctx.close();
    }
    expect(secondResult.outcomes).toHaveLength(8);
    expect(secondResult.outcomes.every((o) => o.ok)).toBe(true);
    const joined = secondResult.outcomes.filter((o) => o.ok && o.joined).map((o) => o.contractId);
    expect(joined.sort()).toEqual(ids.filter((id) => !down.has(id)).sort());
    expect(secondResult.invitations).toEqual({ sent: 8, refused: 0, skipped: 0, pending: 0 });
    expect(reports.at(-1)).toMatchObject({ total: 8, answered: 8, invitations: { sent: 8 } });
    await expectOneRequestAndOneInvitationEach(ids);
  }, 240_000);

  test('a request that ends before its invitation went out counts as skipped: the run does not wait for it', async () => {
    const ids = await newContracts(4);
    const [withdrawn1, withdrawn2] = [ids[0]!, ids[2]!];
    // The mail server turns every invitation away for now: none can go out before the two withdrawals.
    smtpDeferring = true;
    const run = contextWithFaults(() => undefined);
    let result;
    try {
      const bulk = runBulk(run.ctx, ids, { concurrency: 4, pollMs: 100, waitMs: 600_000 });
      // Withdrawal is accepted once the request is prepared (its row written).
      await eventually(async () => {
        const rows = await t.db('signflow_requests').whereIn('contract_id', ids).count({ n: '*' });
        expect(Number(rows[0]?.n ?? 0)).toBe(ids.length);
      }, 120_000);
      for (const id of [withdrawn1, withdrawn2]) {
        expect(await withdrawContract({ db: t.db, config, client: await run.ctx.temporal() }, id)).toMatchObject({
          result: 'withdrawn',
        });
      }
      smtpDeferring = false;
      result = await bulk;
    } finally {
      smtpDeferring = false;
      await run.ctx.close();
    }
    // Without the skipped count the run would follow the withdrawn two until --wait ran out and call them pending.
    expect(result.invitations).toEqual({ sent: 2, refused: 0, skipped: 2, pending: 0 });
    for (const id of [ids[1]!, ids[3]!]) {
      await smtp.waitFor((m) => m.headers['x-signflow-mail-key'] === `${contractWorkflowId(id)}:invitation`, 60_000);
    }
    expect(invitationsIn(smtp, withdrawn1) + invitationsIn(smtp, withdrawn2)).toBe(0);
  }, 240_000);
});
