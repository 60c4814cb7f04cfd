/**
 * `npm run bench -- --scenarios bulk [--bulk 1000]`: `signflow bulk`'s progress against the truth (issue 9 target 6).
 * Runs the verb's own code (cli/bulk-run.ts, the progress the bar shows) for N fresh contracts against a real dev
 * server, worker, SQLite CRM and SMTP inbox, and records over time what the bar was given (invitations sent) and when
 * the database marked each invitation sent (`signflow_mails.sent_at`, right after the SMTP server accepted it). The lag
 * of the k-th invitation is the time from then until the bar first showed k or more; the bar is "never more than a second behind" when the largest lag is at most 1 s. It also
 * checks that every contract got exactly one workflow run and one invitation.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { runBulk } from '../cli/bulk-run';
import { createContext } from '../cli/context';
import { temporalCliPath } from '../dev-stack/tool-paths';
import { bundleWorkflowsToFile, startDevServer } from '../harness/temporal';
import { contractWorkflowId } from '../workflows/definitions';
import { loadAverage, machineLines } from './machine';
import { addContracts, startBenchStack, until } from './stack';
import { ms, percentile } from './stats';

const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const out = (text = '') => process.stdout.write(`${text}\n`);

async function orchestrate(o: { contracts: number; concurrency: number }): Promise<void> {
  const cleanup: (() => Promise<unknown>)[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-bench-bulk-'));
  cleanup.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  try {
    out('## `signflow bulk`: progress bar against the invitations actually sent');
    out();
    for (const line of machineLines(temporalCliPath())) out(`- ${line}`);
    progress('bundling the workflows, starting the dev server');
    const bundle = await bundleWorkflowsToFile(require.resolve('../workflows'), dir);
    const server = await startDevServer();
    cleanup.push(() => server.stop());
    const taskQueue = `signflow-bench-bulk-${process.pid}`;
    const stack = await startBenchStack({
      kind: 'sqlite',
      client: server.env.client,
      connection: server.env.nativeConnection,
      namespace: server.namespace,
      bundle,
      taskQueue,
    });
    cleanup.push(() => stack.stop());
    const contracts = await addContracts(stack, o.contracts);
    const ids = contracts.map((c) => c.contractId);
    const wanted = new Set(ids.map((id) => `${contractWorkflowId(id)}:invitation`));

    // Every invitation must reach the inbox exactly once (the inbox parses mails, so it may trail the database).
    const perKey = new Map<string, number>();
    stack.inbox.onMessage((m) => {
      const key = String(m.headers['x-signflow-mail-key'] ?? '');
      if (wanted.has(key)) perKey.set(key, (perKey.get(key) ?? 0) + 1);
      stack.inbox.clear();
    });
    // The bar: every value it was given, with the time.
    const shown: { at: number; sent: number }[] = [];
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const ctx = createContext(
      {
        stdout: sink,
        stderr: sink,
        env: {
          TEMPORAL_ADDRESS: server.address,
          TEMPORAL_NAMESPACE: server.namespace,
          SIGNFLOW_TASK_QUEUE: taskQueue,
          SIGNFLOW_DATABASE_URL: stack.t.url,
        },
      },
      true
    );
    progress(`signflow bulk of ${o.contracts} contracts (${o.concurrency} starts in flight)`);
    const t0 = Date.now();
    let result;
    try {
      result = await runBulk(ctx, ids, {
        concurrency: o.concurrency,
        waitMs: 3_600_000,
        onProgress: (p) => {
          const last = shown.at(-1);
          if (!last || last.sent !== p.invitations.sent) shown.push({ at: Date.now(), sent: p.invitations.sent });
        },
      });
    } finally {
      await ctx.close();
    }
    const seconds = (Date.now() - t0) / 1000;
    // The truth: when the database marked each invitation sent (the worker's clock, the same machine's as the bar's).
    const rows = (await stack.t
      .db('signflow_mails')
      .whereIn('mail_key', [...wanted])
      .andWhere('status', 'sent')
      .select('sent_at')) as { sent_at: number | string | Date }[];
    const arrivals = rows
      .map((r) => (typeof r.sent_at === 'number' ? r.sent_at : new Date(r.sent_at).getTime()))
      .sort((a, b) => a - b);
    await until('every invitation in the inbox', async () => perKey.size >= wanted.size, 300_000).catch(
      () => undefined
    );

    // Lag of the k-th invitation: from its arrival until the bar first showed at least k.
    const lags: number[] = [];
    let j = 0;
    for (let k = 1; k <= arrivals.length; k++) {
      while (j < shown.length && shown[j]!.sent < k) j++;
      const at = shown[j]?.at ?? Number.POSITIVE_INFINITY;
      lags.push(Math.max(0, at - arrivals[k - 1]!));
    }
    const runs = new Map<number, number>();
    for await (const w of server.env.client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) {
      const id = Number(w.workflowId.replace('honorarvertrag-', ''));
      runs.set(id, (runs.get(id) ?? 0) + 1);
    }
    const started = result.outcomes.filter((x) => x.ok).length;
    const oneRunEach = ids.every((id) => runs.get(id) === 1);
    const oneMailEach = ids.every((id) => perKey.get(`${contractWorkflowId(id)}:invitation`) === 1);
    out(`- ${o.contracts} contracts, SQLite, worker in this process, ${o.concurrency} starts in flight`);
    out();
    out('| figure | value |');
    out('|---|---|');
    out(`| contracts started (answered) | ${started} of ${o.contracts} |`);
    out(
      `| invitations sent (database) / in the inbox / shown by the bar at the end | ${arrivals.length} / ${perKey.size} / ${result.invitations.sent} |`
    );
    out(`| one workflow run and one invitation per contract | ${oneRunEach && oneMailEach ? 'yes' : 'NO'} |`);
    out(`| bar updates (distinct values) | ${shown.length} |`);
    out(
      `| lag of the bar behind the database, p50 / p99 / max | ${ms(percentile(lags, 50))} / ${ms(percentile(lags, 99))} / ${ms(Math.max(...lags))} ms |`
    );
    out(`| whole bulk (starts and all invitations) | ${seconds.toFixed(1)} s |`);
    out();
    out(`- load average at the end: ${loadAverage()}`);
  } finally {
    for (const stop of cleanup.reverse()) await stop().catch((err: unknown) => progress(`stop: ${String(err)}`));
  }
}

export async function runBulkBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: false,
    options: { bulk: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '8' } },
  });
  const int = (name: string, raw: unknown) => {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${String(raw)}`);
    return n;
  };
  await orchestrate({ contracts: int('bulk', values.bulk), concurrency: int('concurrency', values.concurrency) });
}
