/**
 * `signflow webhooks list|replay`: the delivery log (`signflow_webhook_deliveries`) and re-sending one delivery with
 * its original `webhook-id` and body. Reads and writes the database only; Temporal is not needed.
 */
import { Argument, Option, type Command } from 'commander';
import { listDeliveries, type DeliveryRow } from '../../webhooks/delivery-log';
import { replayDelivery, WebhookReplayError } from '../../webhooks/replay-delivery';
import { parseId, parsePositiveInt } from '../arguments';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../exit-codes';
import type { Runner } from '../runner';
import { renderTable } from '../table';

interface ListOptions {
  contract?: number;
  status?: 'pending' | 'delivered';
  event?: string;
  limit: number;
}

/** The log without the bodies (`--json` has them). */
function summary(row: DeliveryRow) {
  return {
    id: row.id,
    event: row.eventType,
    contract: row.contractId,
    endpoint: row.endpoint,
    status: row.status,
    attempts: row.attempts,
    last: row.lastStatusCode ?? (row.lastResponse ? 'no answer' : ''),
    lastAttemptAt: row.lastAttemptAt,
    webhookId: row.messageId,
  };
}

async function list(ctx: CliContext, opts: ListOptions): Promise<void> {
  const rows = await listDeliveries(ctx.db, {
    contractId: opts.contract,
    status: opts.status,
    eventType: opts.event,
    limit: opts.limit,
  });
  ctx.out.result(rows, () => {
    if (rows.length === 0) return 'no webhook deliveries';
    const table = rows.map(summary);
    return renderTable(
      [
        { key: 'id', label: 'id' },
        { key: 'event', label: 'event' },
        { key: 'contract', label: 'contract' },
        { key: 'endpoint', label: 'endpoint' },
        { key: 'status', label: 'status' },
        { key: 'attempts', label: 'attempts' },
        { key: 'last', label: 'last answer' },
        { key: 'lastAttemptAt', label: 'last attempt' },
        { key: 'webhookId', label: 'webhook-id' },
      ],
      table,
      48
    );
  });
}

async function replay(ctx: CliContext, id: number): Promise<ExitCode> {
  try {
    const { delivery, attempt } = await replayDelivery(ctx.db, ctx.config, id);
    ctx.out.result(
      { delivery: summary(delivery), attempt },
      () =>
        `delivery ${id} (${delivery.eventType}, ${delivery.messageId}) → ${delivery.endpoint}: ` +
        (attempt.ok ? `accepted (${attempt.statusCode})` : `NOT accepted: ${attempt.statusCode ?? attempt.response}`)
    );
    return attempt.ok ? ExitCode.OK : ExitCode.UNAVAILABLE;
  } catch (err) {
    if (err instanceof WebhookReplayError) {
      const exit = err.code === 'WEBHOOK_DELIVERY_NOT_FOUND' ? ExitCode.NOT_FOUND : ExitCode.CONFIG;
      throw new CliError(exit, err.code, err.message);
    }
    throw err;
  }
}

export function registerWebhooks(program: Command, run: Runner): void {
  const webhooks = program.command('webhooks').description('the webhook delivery log: list deliveries, re-send one');
  webhooks
    .command('list')
    .description('logged deliveries, newest first')
    .option('--contract <id>', 'only this contract', parseId)
    .addOption(new Option('--status <status>', 'only pending or delivered ones').choices(['pending', 'delivered']))
    .option('--event <type>', 'only this event type, e.g. contract.signed')
    .option('--limit <n>', 'at most n rows', parsePositiveInt, 100)
    .option('--json', 'print one JSON document (for scripts)')
    .action((opts: ListOptions & { json?: boolean }) => run(opts, (ctx) => list(ctx, opts)));
  webhooks
    .command('replay')
    .description('re-send one delivery with its original webhook-id and body (exit 4 when not accepted)')
    .addArgument(new Argument('<id>', 'delivery id (from `webhooks list`)').argParser(parseId))
    .option('--json', 'print one JSON document (for scripts)')
    .action((id: number, opts: { json?: boolean }) => run(opts, (ctx) => replay(ctx, id)));
}
