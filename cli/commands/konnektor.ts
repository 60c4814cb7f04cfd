/**
 * `signflow konnektor status|activate|deactivate|reset-card`: the comfort signature (Komfortsignatur) of the practice's
 * eHBA, through the same Konnektor client and operations as the worker (activities/konnektor/), called directly.
 * `reset-card` is the staff action after 4018 (gemILF_PS A_21528): EjectCard and RequestCard at the eHBA's slot.
 *
 * After `activate`, contracts parked in "waiting for comfort signature" are told at once (Signal
 * `comfortSignatureReactivated`) instead of waiting for their next periodic check.
 */
import { Argument, type Command } from 'commander';
import type { Client } from '@temporalio/client';
import type { KonnektorClient } from '../../activities/konnektor/konnektor-client';
import type { ComfortSignatureStatus } from '../../activities/konnektor/types';
import { comfortSignatureReactivatedSignal, reactivatedAfter, SA_WAITING_REASON } from '../../workflows/definitions';
import { parseId } from '../arguments';
import { mapBounded } from '../bounded';
import { classifyError } from '../classify-error';
import type { CliContext } from '../context';
import type { Runner } from '../runner';

type KonnektorAction = 'status' | 'activate' | 'deactivate' | 'reset-card';

interface KonnektorOptions {
  iccsn?: string;
  staff?: number;
  notify: boolean;
}

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : `${m} min`;
}

function describeMode(s: ComfortSignatureStatus): string {
  const card = `eHBA ${s.iccsn ?? '(first HBA)'}`;
  if (!s.comfortSupported) return `${card}: this Konnektor offers no comfort signature (SignatureService 7.4 only)`;
  if (!s.comfortEnabled) return `${card}: comfort signature is switched off in the Konnektor`;
  if (!s.active) return `${card}: comfort signature NOT active; staff run \`signflow konnektor activate\``;
  const since = s.activatedAt ? `, activated ${s.activatedAt}` : '';
  return (
    `${card}: comfort signature active, ${s.countRemaining} of ${s.comfortMax} signatures and ` +
    `${duration(s.timeRemainingSeconds)} left${since}`
  );
}

/**
 * Signals every running contract of this task queue that waits for the comfort signature. The query uses only
 * search attributes (no personal data); at most 8 signals in flight.
 */
async function notifyParkedContracts(client: Client, taskQueue: string, mode: ComfortSignatureStatus): Promise<number> {
  const query = `${SA_WAITING_REASON.name} = 'comfort-signature' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue}'`;
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query })) ids.push(wf.workflowId);
  await mapBounded(ids, 8, (workflowId) =>
    // With what the activation read, so the eHBA's signer can send its first batch without asking again.
    client.workflow.getHandle(workflowId).signal(comfortSignatureReactivatedSignal, reactivatedAfter(mode))
  );
  return ids.length;
}

async function konnektor(ctx: CliContext, action: KonnektorAction, opts: KonnektorOptions): Promise<void> {
  // Lazy: the SOAP client and its WSDLs load only for this verb.
  const { createKonnektorClient } = await import('../../activities/konnektor/client-from-config');
  const { createKonnektorActivities } = await import('../../activities/konnektor/konnektor.activities');
  const config = ctx.config;
  let client: KonnektorClient | undefined;
  try {
    client = createKonnektorClient(config.konnektor);
    const ops = createKonnektorActivities({ konnektor: client, db: ctx.db, config });
    const card = { iccsn: opts.iccsn };
    if (action === 'status') {
      const mode = await ops.getSignatureMode(card);
      ctx.out.result({ action, ...mode }, () => describeMode(mode));
    } else if (action === 'activate') {
      ctx.out.note('Activating: the card holder enters the eHBA PIN at the card terminal now.');
      const mode = await ops.activateComfortSignature({ ...card, staffContactId: opts.staff });
      let notified: number | undefined;
      let notifyError: { code: string; message: string } | undefined;
      if (opts.notify) {
        // The activation itself succeeded; a Temporal hiccup here only delays the parked contracts to their next check.
        try {
          notified = await notifyParkedContracts(await ctx.temporal(), config.temporal.taskQueue, mode);
        } catch (err) {
          const e = classifyError(err);
          notifyError = { code: e.code, message: e.message };
        }
      }
      ctx.out.result({ action, ...mode, notified, notifyError }, () => {
        const tail =
          notified !== undefined
            ? `\n${notified} waiting contract(s) told to continue`
            : notifyError
              ? `\nwaiting contracts not told (${notifyError.message}); they continue at their next check`
              : '';
        return `${describeMode(mode)}${tail}`;
      });
    } else if (action === 'reset-card') {
      ctx.out.note('Resetting the eHBA (EjectCard, RequestCard): insert it again when the card terminal asks.');
      const result = await ops.resetCard(card);
      ctx.out.result(
        { action, ...result },
        () =>
          `eHBA ${result.iccsn ?? '(first HBA)'} reset at card terminal ${result.cardTerminalId ?? '?'} slot ${result.slotId ?? '?'}` +
          `${result.alreadyInserted ? ' (it was inserted again already)' : ''}; every card session has ended: ` +
          'now run `signflow konnektor activate`'
      );
    } else {
      const result = await ops.deactivateComfortSignature(card);
      ctx.out.result(
        { action, ...result },
        () =>
          `eHBA ${result.iccsn ?? '(first HBA)'}: comfort signature deactivated` +
          (result.warnings.length ? ` (Konnektor warnings: ${result.warnings.join(', ')})` : '')
      );
    }
  } finally {
    client?.close();
  }
}

export function registerKonnektor(program: Command, run: Runner): void {
  program
    .command('konnektor')
    .description(
      "comfort signature of the practice's eHBA: show, activate (PIN at the card terminal once), deactivate; " +
        'reset-card after error 4018 (EjectCard/RequestCard)'
    )
    .addArgument(
      new Argument('<action>', 'status | activate | deactivate | reset-card').choices([
        'status',
        'activate',
        'deactivate',
        'reset-card',
      ])
    )
    .option('--iccsn <iccsn>', 'the eHBA to use (default: SIGNFLOW_KONNEKTOR_HBA_ICCSN, else the first HBA)')
    .option('--staff <id>', 'Kontakt id of the staff member activating, for the audit trail', parseId)
    .option('--no-notify', 'after activate, do not signal the contracts waiting for the comfort signature')
    .option('--json', 'print one JSON document (for scripts)')
    .action((action: KonnektorAction, opts: KonnektorOptions & { json?: boolean }) =>
      run(opts, (ctx) => konnektor(ctx, action, opts))
    );
}
