/**
 * The verbs that talk to a running contract workflow: `sign` (portal stand-in, for tests and support), `confirm`
 * (staff), `withdraw`, `resend`. Each is one call of commands/ (the same checks and codes as the API and the outbox);
 * refusals come back as their code (exit codes in cli/exit-codes.ts).
 */
import fs from 'node:fs';
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import {
  confirmContract,
  resendInvitation,
  signContract,
  withdrawContract,
  type CommandDeps,
} from '../../commands/contract-commands';
import type { SignatureOutcome } from '../../workflows/definitions';
import { parseId, parseSeconds } from '../arguments';
import type { CliContext } from '../context';
import { usageError } from '../exit-codes';
import type { Runner } from '../runner';

interface TimeoutOption {
  /** ms to wait for a worker's answer; unset = `SIGNFLOW_WORKER_ANSWER_TIMEOUT` (as the API waits). */
  timeout?: number;
}

function describeOutcome(contractId: number, o: SignatureOutcome): string {
  const how =
    o.kind === 'signed'
      ? `signed by contact ${o.userContactId} (${o.method})`
      : `confirmed by staff ${o.userContactId}`;
  return `contract ${contractId}: ${how} at ${o.confirmedAt}; signature ${o.signatureId}, MD5 ${o.md5Hash}`;
}

/** The command dependencies; `--timeout` replaces the worker answer timeout for this one call (NO_WORKER after it). */
async function depsOf(ctx: CliContext, opts: TimeoutOption = {}): Promise<CommandDeps & { client: Client }> {
  const config =
    opts.timeout === undefined
      ? ctx.config
      : { ...ctx.config, temporal: { ...ctx.config.temporal, workerAnswerTimeout: opts.timeout } };
  return { config, db: ctx.db, client: await ctx.temporal() };
}

function readPng(file: string): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw usageError(`cannot read the signature image ${file}: ${(err as Error).message}`);
  }
  // The workflow validates the image for real; this only catches an obviously wrong file before the round trip.
  if (!bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    throw usageError(`${file} is not a PNG file`);
  }
  return bytes.toString('base64');
}

async function sign(ctx: CliContext, contractId: number, opts: { contact: number; drawn?: string } & TimeoutOption) {
  const deps = await depsOf(ctx, opts);
  const request = opts.drawn
    ? { contactId: opts.contact, method: 'drawn', imagePngBase64: readPng(opts.drawn) }
    : { contactId: opts.contact, method: 'click' };
  const outcome = await signContract(deps, contractId, request);
  ctx.out.result({ contractId, ...outcome }, () => describeOutcome(contractId, outcome));
}

async function confirm(ctx: CliContext, contractId: number, opts: { staff: number } & TimeoutOption) {
  const deps = await depsOf(ctx, opts);
  const outcome = await confirmContract(deps, contractId, opts.staff);
  ctx.out.result({ contractId, ...outcome }, () => describeOutcome(contractId, outcome));
}

async function withdraw(
  ctx: CliContext,
  contractId: number,
  opts: { staff?: number; reason?: string } & TimeoutOption
) {
  const deps = await depsOf(ctx, opts);
  const result = await withdrawContract(deps, contractId, { staffContactId: opts.staff, reason: opts.reason });
  ctx.out.result(result, () => `contract ${contractId}: signature request withdrawn (${result.workflowId})`);
}

async function resend(ctx: CliContext, contractId: number) {
  const deps = await depsOf(ctx);
  const { workflowId } = await resendInvitation(deps, contractId);
  ctx.out.result(
    { contractId, workflowId, signal: 'resend', accepted: true },
    () => `contract ${contractId}: invitation requested again from ${workflowId}`
  );
}

export function registerMessages(program: Command, run: Runner): void {
  program
    .command('sign')
    .description('sign a contract on behalf of its contact, as the portal does (tests and support)')
    .argument('<contractId>', 'Honorarvertrag id', parseId)
    .requiredOption('--contact <id>', "the contact (Kontakt) who signs; must be the contract's freelancer", parseId)
    .option('--drawn <file.png>', 'sign with a drawn signature image instead of the click')
    .option(
      '--timeout <seconds>',
      "how long to wait for a worker's answer (default SIGNFLOW_WORKER_ANSWER_TIMEOUT, 10 s)",
      parseSeconds
    )
    .option('--json', 'print one JSON document (for scripts)')
    .action((id: number, opts) => run(opts, (ctx) => sign(ctx, id, opts)));

  program
    .command('confirm')
    .description("confirm a contract manually as staff, instead of the contact's signature")
    .argument('<contractId>', 'Honorarvertrag id', parseId)
    .requiredOption('--staff <id>', "the staff member's Kontakt id", parseId)
    .option(
      '--timeout <seconds>',
      "how long to wait for a worker's answer (default SIGNFLOW_WORKER_ANSWER_TIMEOUT, 10 s)",
      parseSeconds
    )
    .option('--json', 'print one JSON document (for scripts)')
    .action((id: number, opts) => run(opts, (ctx) => confirm(ctx, id, opts)));

  program
    .command('withdraw')
    .description('withdraw the signature request (the signature becomes "zurückgezogen")')
    .argument('<contractId>', 'Honorarvertrag id', parseId)
    .option('--staff <id>', "the staff member's Kontakt id, for the audit trail", parseId)
    .option('--reason <text>', 'why, for the audit trail')
    .option(
      '--timeout <seconds>',
      "how long to wait for a worker's answer (default SIGNFLOW_WORKER_ANSWER_TIMEOUT, 10 s)",
      parseSeconds
    )
    .option('--json', 'print one JSON document (for scripts)')
    .action((id: number, opts) => run(opts, (ctx) => withdraw(ctx, id, opts)));

  program
    .command('resend')
    .description('send the contact the invitation again now (as a reminder)')
    .argument('<contractId>', 'Honorarvertrag id', parseId)
    .option('--json', 'print one JSON document (for scripts)')
    .action((id: number, opts) => run(opts, (ctx) => resend(ctx, id)));
}
