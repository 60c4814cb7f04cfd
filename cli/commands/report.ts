/**
 * `signflow report signatures|contracts`: the seed's two reports ("Unterschriften zu Dokumenten", "Honorarverträge
 * verwalten") as tables, from the same queries as the HTTP API (db/reports.ts).
 */
import { Argument, type Command } from 'commander';
import { CONTRACT_REPORT_COLUMNS, contractsReport, SIGNATURE_REPORT_COLUMNS, signaturesReport } from '../../db/reports';
import { parseId, parseNonNegativeInt, parsePositiveInt } from '../arguments';
import type { CliContext } from '../context';
import { usageError } from '../exit-codes';
import type { Runner } from '../runner';
import { renderTable } from '../table';

interface ReportOptions {
  status?: string;
  contact?: number;
  contract?: number;
  limit: number;
  offset: number;
}

const TITLES = { signatures: 'Unterschriften zu Dokumenten', contracts: 'Honorarverträge verwalten' } as const;

async function report(ctx: CliContext, kind: 'signatures' | 'contracts', opts: ReportOptions): Promise<void> {
  const { db, config } = ctx;
  const page = { limit: opts.limit, offset: opts.offset };
  const footer = (count: number) =>
    `${count} row${count === 1 ? '' : 's'}${count === opts.limit ? ` (limit ${opts.limit}; more with --offset ${opts.offset + opts.limit})` : ''}`;
  if (kind === 'signatures') {
    const rows = await signaturesReport(
      db,
      config.crm,
      { status: opts.status, contactId: opts.contact, contractId: opts.contract },
      page
    );
    ctx.out.result(
      { report: kind, title: TITLES[kind], rows },
      () => `${TITLES[kind]}\n\n${renderTable(SIGNATURE_REPORT_COLUMNS, rows)}\n\n${footer(rows.length)}`
    );
  } else {
    if (opts.contract !== undefined) throw usageError('--contract filters the signatures report only');
    const rows = await contractsReport(db, config.crm, { status: opts.status, contactId: opts.contact }, page);
    ctx.out.result(
      { report: kind, title: TITLES[kind], rows },
      () => `${TITLES[kind]}\n\n${renderTable(CONTRACT_REPORT_COLUMNS, rows)}\n\n${footer(rows.length)}`
    );
  }
}

export function registerReport(program: Command, run: Runner): void {
  program
    .command('report')
    .description('print a report from the CRM database as a table')
    .addArgument(
      new Argument(
        '<report>',
        '"signatures" (Unterschriften zu Dokumenten) or "contracts" (Honorarverträge verwalten)'
      ).choices(['signatures', 'contracts'])
    )
    .option('--status <status>', 'only rows with this status, e.g. "ausstehend", "gültig", "versendet"')
    .option('--contact <id>', 'only rows of this contact (Kontakt id)', parseId)
    .option('--contract <id>', 'only signatures of this contract (signatures report)', parseId)
    .option('--limit <n>', 'at most this many rows', parsePositiveInt, 100)
    .option('--offset <n>', 'skip this many rows', parseNonNegativeInt, 0)
    .option('--json', 'print one JSON document (for scripts)')
    .action((kind: 'signatures' | 'contracts', opts: ReportOptions & { json?: boolean }) =>
      run(opts, (ctx) => report(ctx, kind, opts))
    );
}
