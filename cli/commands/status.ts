/** `signflow status <id>`: the workflow's execution state (Temporal) and the contract's state (the workflow's query). */
import type { Command } from 'commander';
import { contractResult, contractStatus } from '../../client/contract-client';
import type { ContractResult, ContractState } from '../../workflows/definitions';
import { parseId, parseSeconds } from '../arguments';
import { classifyError } from '../classify-error';
import type { CliContext } from '../context';
import { ExitCode } from '../exit-codes';
import type { Runner } from '../runner';
import { describeContract, notStarted } from '../../commands/temporal-answers';

const DEFAULT_TIMEOUT_MS = 15_000;

export interface StatusReport {
  contractId: number;
  workflowId: string;
  runId: string;
  execution: { status: string; startTime: string; closeTime: string | null };
  searchAttributes: Record<string, unknown>;
  /** The `status` query's answer; absent when no worker answered (see `stateError`). */
  state?: ContractState;
  stateError?: { code: string; message: string };
  /** For a completed workflow. */
  result?: ContractResult;
  /** For a failed one: the reason, as its error code. */
  failure?: { code: string; message: string };
  /** The contract's rows in `signflow_mails` (every request), oldest first; refused mails included. */
  mails?: MailLine[];
  /** Why the mails could not be read (no database configured, database down); the rest of the report stands. */
  mailsError?: string;
}

/** One row of `signflow_mails`, without the recipient address. */
export interface MailLine {
  /** `invitation`, `invitation:2`, `reminder:1`, `confirmation`, `withdrawal`; `<key>#<n>/…` for a later request. */
  mail: string;
  status: string;
  createdAt: string;
  sentAt: string | null;
}

/** Reads the contract's mail rows; ids, kinds and times only. */
async function mailLines(ctx: CliContext, contractId: number, workflowId: string): Promise<MailLine[]> {
  const rows = (await ctx
    .db('signflow_mails')
    .where('contract_id', contractId)
    .orderBy('id')
    .select('mail_key', 'status', 'created_at', 'sent_at')) as Array<{
    mail_key: string;
    status: string;
    created_at: unknown;
    sent_at: unknown;
  }>;
  const time = (v: unknown): string | null =>
    v === null || v === undefined ? null : new Date(v as string).toISOString();
  return rows.map((r) => {
    const colon = r.mail_key.indexOf(':');
    const request = r.mail_key.slice(0, colon);
    const mail = r.mail_key.slice(colon + 1);
    return {
      mail: request === workflowId ? mail : `${request.slice(workflowId.length)}/${mail}`,
      status: r.status,
      createdAt: time(r.created_at) ?? '',
      sentAt: time(r.sent_at),
    };
  });
}

/** The human-readable status (`--json` prints the report itself). */
export function humanStatus(r: StatusReport): string {
  const lines = [
    `Honorarvertrag ${r.contractId}: ${r.execution.status} (${r.workflowId}, started ${r.execution.startTime}` +
      `${r.execution.closeTime ? `, closed ${r.execution.closeTime}` : ''})`,
  ];
  const s = r.state;
  const field = (label: string, value: unknown) => {
    if (value !== undefined && value !== null && value !== '')
      lines.push(`  ${`${label}:`.padEnd(17)} ${String(value)}`);
  };
  if (s) {
    field('phase', s.phase);
    field('contact', s.contactId);
    field('document', s.documentId);
    field('signature', s.signatureId);
    field('sent at', s.sentAt);
    field('reminders', `${s.remindersSent} sent${s.nextReminderAt ? `, next at ${s.nextReminderAt}` : ''}`);
    field('expires at', s.expiresAt);
    field('waiting', s.waitingDetail);
    if (s.mailTrouble) {
      const m = s.mailTrouble;
      field(
        'mail trouble',
        `${m.mail} not sent yet (${m.attempts} attempt${m.attempts === 1 ? '' : 's'} since ${m.since}); ` +
          `last error: ${m.lastError}; next try ${m.nextRetryAt}`
      );
    }
    field('mails skipped', s.mailsSkipped?.join(', '));
    // Fixing the address and resending helps only while the request waits for a signature; an invitation skipped
    // because the request ended first (signed, withdrawn) is not a delivery problem.
    const requestOpen = !s.outcome && (s.phase === 'sending' || s.phase === 'awaiting-signature');
    if (s.invitationDelivered === false && requestOpen)
      field('invitation', 'not delivered yet: fix the address, then `signflow resend`');
    field('withdrawal', s.withdrawalReason ? `reason: ${s.withdrawalReason}` : undefined);
    field('withdrawal mail', s.withdrawalMail);
    if (s.outcome) {
      const o = s.outcome;
      field('outcome', `${o.kind} by ${o.userContactId} (${o.method}) at ${o.confirmedAt}, MD5 ${o.md5Hash}`);
    }
    field('QES document', s.qesDocumentId);
    field('QES failed', s.countersignFailure);
  }
  // What the Temporal UI lists and filters by (docs/cli.md): the CRM id, the statuses and what the workflow waits for.
  for (const [name, value] of Object.entries(r.searchAttributes)) {
    field(name, Array.isArray(value) ? value.join(', ') : value);
  }
  if (s?.mailsRejected?.length) field('mails refused', `${s.mailsRejected.join(', ')} (fix the address, then resend)`);
  for (const m of r.mails ?? []) {
    // A mail the workflow dropped between attempts: its row says `skipped` (before patch 'mail-skip-recorded' it kept
    // the `sending` of its last attempt); it is not sent.
    const dropped = m.status === 'skipped' || (m.status === 'sending' && s?.mailsSkipped?.includes(m.mail));
    const when =
      m.status === 'sent'
        ? `sent ${m.sentAt ?? ''}`
        : dropped
          ? `skipped, not sent (last attempt ${m.createdAt})`
          : `${m.status} (${m.createdAt})`;
    field(`mail ${m.mail}`, when.trim());
  }
  if (r.mailsError) field('mails', `unavailable: ${r.mailsError}`);
  if (r.stateError) field('state', `unavailable: ${r.stateError.message} [${r.stateError.code}]`);
  if (r.failure) field('failed', `${r.failure.message} [${r.failure.code}]`);
  if (r.result)
    field('result', `${r.result.outcome}, signature ${r.result.signatureId}, ${r.result.remindersSent} reminders`);
  return lines.join('\n');
}

async function status(ctx: CliContext, contractId: number, opts: { timeout?: number }): Promise<ExitCode> {
  const client = await ctx.temporal();
  const d = await describeContract(client, contractId);
  if (!d) throw notStarted(contractId);
  const report: StatusReport = {
    contractId,
    workflowId: d.workflowId,
    runId: d.runId,
    execution: {
      status: d.status.name,
      startTime: d.startTime.toISOString(),
      closeTime: d.closeTime ? d.closeTime.toISOString() : null,
    },
    searchAttributes: Object.fromEntries(d.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value])),
  };
  const deadline = Date.now() + (opts.timeout ?? DEFAULT_TIMEOUT_MS);
  let exitCode: ExitCode = ExitCode.OK;
  try {
    report.state = await client.withDeadline(deadline, () => contractStatus(client, contractId));
  } catch (err) {
    const e = classifyError(err);
    report.stateError = { code: e.code, message: e.message };
    exitCode = e.exitCode;
  }
  if (d.status.name === 'COMPLETED' || d.status.name === 'FAILED') {
    try {
      report.result = await client.withDeadline(deadline, () => contractResult(client, contractId));
    } catch (err) {
      const e = classifyError(err);
      report.failure = { code: e.code, message: e.message };
    }
  }
  try {
    report.mails = await mailLines(ctx, contractId, d.workflowId);
  } catch (err) {
    report.mailsError = classifyError(err).message;
  }
  ctx.out.result(report, () => humanStatus(report));
  return exitCode;
}

export function registerStatus(program: Command, run: Runner): void {
  program
    .command('status')
    .description("show where a contract's signature process stands")
    .argument('<contractId>', 'Honorarvertrag id', parseId)
    .option('--timeout <seconds>', "how long to wait for the workflow's answer", parseSeconds)
    .option('--json', 'print one JSON document (for scripts)')
    .action((id: number, opts: { timeout?: number; json?: boolean }) => run(opts, (ctx) => status(ctx, id, opts)));
}
