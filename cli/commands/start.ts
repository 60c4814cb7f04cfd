/** `signflow start <id…>` and `signflow bulk --csv file | --ids 1,2,3`. */
import { type Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { parseId, parseIdList, parseNonNegativeInt, parsePositiveInt, readContractIdsFromCsv } from '../arguments';
import type { CliContext } from '../context';
import { usageError, type ExitCode } from '../exit-codes';
import type { Runner } from '../runner';
import { runBulk, type BulkRunResult } from '../bulk-run';
import { exitCodeOf, startContracts, type StartOutcome } from '../start-contracts';
import { renderTable } from '../table';

interface BulkOptions {
  csv?: string;
  ids?: number[];
  concurrency: number;
  /** Seconds to follow the invitations after the last start; 0 = return once started. */
  wait: number;
}

function describeOutcome(o: StartOutcome): string {
  return o.ok
    ? `contract ${o.contractId}: ${o.joined ? 'already running' : 'started'} ${o.workflowId} (run ${o.runId})`
    : `contract ${o.contractId}: ${o.error.message} [${o.error.code}]`;
}

async function start(ctx: CliContext, ids: number[]): Promise<ExitCode> {
  const outcomes = await startContracts(ctx, ids, { concurrency: 4 });
  ctx.out.result(ids.length === 1 ? outcomes[0] : outcomes, () => outcomes.map(describeOutcome).join('\n'));
  return exitCodeOf(outcomes);
}

async function bulk(ctx: CliContext, opts: BulkOptions): Promise<ExitCode> {
  if (opts.csv === undefined && opts.ids === undefined) throw usageError('bulk needs --csv <file> or --ids <list>');
  const ids = opts.ids ?? readContractIdsFromCsv(opts.csv as string);

  // A bar only where a person watches: on a terminal. Piped or under --json the run is silent until the result. It
  // shows invitations sent as the database has them (signflow_mails), counted at least every 250 ms.
  const stderr = ctx.io.stderr;
  const bar =
    stderr.isTTY && !ctx.out.json
      ? new SingleBar({
          stream: stderr,
          format:
            'Invitations |{bar}| {value}/{total} sent | {answered}/{total} started | {refused} refused | ' +
            '{mailRefused} mail refused | {mailSkipped} not needed | ETA {eta_formatted}',
          hideCursor: true,
          // Redraw on every update, not on cli-progress's own 100 ms throttle that can drop the last one.
          fps: 20,
        })
      : undefined;
  bar?.start(new Set(ids).size, 0, { answered: 0, refused: 0, mailRefused: 0, mailSkipped: 0 });
  let result: BulkRunResult;
  try {
    result = await runBulk(ctx, ids, {
      concurrency: opts.concurrency,
      waitMs: opts.wait * 1000,
      onProgress: (p) =>
        bar?.update(p.invitations.sent, {
          answered: p.answered,
          refused: p.refused,
          mailRefused: p.invitations.refused,
          mailSkipped: p.invitations.skipped,
        }),
    });
  } finally {
    bar?.stop();
  }
  const { outcomes, invitations } = result;

  const failed = outcomes.filter((o) => !o.ok);
  ctx.out.result(
    {
      total: outcomes.length,
      started: outcomes.length - failed.length,
      failed: failed.length,
      invitations,
      results: outcomes,
    },
    () => {
      const mails =
        opts.wait > 0
          ? `; invitations: ${invitations.sent} sent, ${invitations.refused} refused by the mail server` +
            (invitations.skipped > 0 ? `, ${invitations.skipped} not needed (request ended first)` : '') +
            (invitations.pending > 0 ? `, ${invitations.pending} not sent yet (see signflow status)` : '')
          : '';
      const summary = `${outcomes.length - failed.length} of ${outcomes.length} contracts started, ${failed.length} refused${mails}`;
      if (failed.length === 0) return summary;
      const rows = failed.map((o) => ({
        contractId: o.contractId,
        code: o.ok ? '' : o.error.code,
        message: o.ok ? '' : o.error.message,
      }));
      const table = renderTable(
        [
          { key: 'contractId', label: 'Honorarvertrag' },
          { key: 'code', label: 'Code' },
          { key: 'message', label: 'Reason' },
        ],
        rows,
        100
      );
      return `${summary}:\n\n${table}`;
    }
  );
  return exitCodeOf(outcomes);
}

export function registerStart(program: Command, run: Runner): void {
  program
    .command('start')
    .description('start the signature process for contracts (joins a process that is already running)')
    .argument('<contractId...>', 'Honorarvertrag id(s)', (value: string, previous: number[] = []) => [
      ...previous,
      parseId(value),
    ])
    .option('--json', 'print one JSON document (for scripts)')
    .action((ids: number[], opts: { json?: boolean }) => run(opts, (ctx) => start(ctx, [...new Set(ids)])));

  program
    .command('bulk')
    .description('start the signature process for many contracts, with a progress bar')
    .addOption(
      new Option('--csv <file>', 'CSV with a contract_id (or id) column, or ids in the first column').conflicts('ids')
    )
    .addOption(new Option('--ids <list>', 'comma-separated contract ids, e.g. 1,2,3').argParser(parseIdList))
    .option('--concurrency <n>', 'starts in flight at once', parsePositiveInt, 8)
    .option(
      '--wait <seconds>',
      'follow the invitations until all are sent, at most this long (0 = return once started)',
      parseNonNegativeInt,
      600
    )
    .option('--json', 'print one JSON document (for scripts)')
    .action((opts: BulkOptions & { json?: boolean }) => run(opts, (ctx) => bulk(ctx, opts)));
}
