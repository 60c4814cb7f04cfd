/**
 * `signflow repair <contractId> [--restart]`: gives a contract back whose workflow failed (or was cancelled) after it
 * had written the signature request, e.g. a contract stuck before the workflow undid such requests itself: the pending
 * signature is voided (`zurückgezogen`), the contract gets back the status it had before `versendet`, and the plugin's
 * request row is removed, so that `signflow start` (or `--restart`) prepares a fresh request. The same function the
 * workflow's compensation runs (activities/contract/revert-request.ts); idempotent. A running workflow is not touched
 * (withdraw it first), and a `gültig` signature never changes.
 */
import type { Command } from 'commander';
import { revertSignatureRequest, type RevertResult } from '../../activities/contract/revert-request';
import { contractWorkflowId } from '../../workflows/definitions';
import { parseId } from '../arguments';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../exit-codes';
import type { Runner } from '../runner';
import { exitCodeOf, startContracts, type StartOutcome } from '../start-contracts';
import { describeContract } from '../../commands/temporal-answers';

interface RepairReport extends RevertResult {
  contractId: number;
  workflowId: string;
  restarted?: StartOutcome;
}

async function repair(ctx: CliContext, contractId: number, opts: { restart?: boolean }): Promise<ExitCode> {
  const client = await ctx.temporal();
  const workflowId = contractWorkflowId(contractId);
  // No workflow at all: a request row left behind (e.g. its history was deleted) may still be undone.
  const d = await describeContract(client, contractId);
  if (d?.status.name === 'RUNNING') {
    throw new CliError(
      ExitCode.REJECTED,
      'PROCESS_RUNNING',
      `the signature process of contract ${contractId} is still running; repair only undoes an ended one ` +
        `(withdraw it with \`signflow withdraw ${contractId}\` if it should stop)`,
      { contractId, workflowId }
    );
  }
  const reverted = await revertSignatureRequest(ctx.db, ctx.config, {
    contractId,
    workflowId,
    reason: 'repair',
    at: new Date(),
  });
  const report: RepairReport = { contractId, workflowId, ...reverted };
  if (opts.restart && reverted.result !== 'already-valid') {
    const [outcome] = await startContracts(ctx, [contractId], { concurrency: 1 });
    report.restarted = outcome;
  }
  ctx.out.result(report, () => {
    const lines = [
      reverted.result === 'reverted'
        ? `contract ${contractId}: signature ${reverted.signatureId} voided, contract status "${reverted.contractStatus}"`
        : reverted.result === 'already-valid'
          ? `contract ${contractId}: the signature is already valid; nothing to undo`
          : `contract ${contractId}: no signature request to undo`,
    ];
    if (report.restarted) {
      lines.push(
        report.restarted.ok
          ? `started ${report.restarted.workflowId} (run ${report.restarted.runId})`
          : `not started: ${report.restarted.error.message} [${report.restarted.error.code}]`
      );
    }
    return lines.join('\n');
  });
  return report.restarted ? exitCodeOf([report.restarted]) : ExitCode.OK;
}

export function registerRepair(program: Command, run: Runner): void {
  program
    .command('repair')
    .description('undo the signature request of a contract whose process failed after writing it (then start again)')
    .argument('<contractId>', 'Honorarvertrag id', parseId)
    .option('--restart', 'start the signature process again right after the repair')
    .option('--json', 'print one JSON document (for scripts)')
    .action((id: number, opts: { restart?: boolean; json?: boolean }) => run(opts, (ctx) => repair(ctx, id, opts)));
}
