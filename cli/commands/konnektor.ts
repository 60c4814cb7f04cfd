/** `signflow konnektor status|activate|deactivate`: the practice's comfort signature (Komfortsignatur) on the eHBA. */
import { Argument, type Command } from 'commander';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../exit-codes';
import type { Runner } from '../runner';

type KonnektorAction = 'status' | 'activate' | 'deactivate';

async function konnektor(_ctx: CliContext, action: KonnektorAction): Promise<void> {
  throw new CliError(
    ExitCode.CONFIG,
    'KONNEKTOR_CLIENT_MISSING',
    `konnektor ${action}: the Konnektor client (activities/konnektor/) is not available in this checkout yet`
  );
}

export function registerKonnektor(program: Command, run: Runner): void {
  program
    .command('konnektor')
    .description("comfort signature of the practice's eHBA: show, activate (PIN at the card terminal once), deactivate")
    .addArgument(
      new Argument('<action>', 'status | activate | deactivate').choices(['status', 'activate', 'deactivate'])
    )
    .option('--json', 'print one JSON document (for scripts)')
    .action((action: KonnektorAction, opts: { json?: boolean }) => run(opts, (ctx) => konnektor(ctx, action)));
}
