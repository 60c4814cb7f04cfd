/**
 * `signflow dev` (= `npm run dev`): the whole local stack of dev-stack/main.ts, until Ctrl-C. Imported lazily: the
 * other verbs must not load the dev stack's modules (Temporal dev server, inbox, API) just to start.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import type { Runner } from '../runner';

async function dev(ctx: CliContext): Promise<void> {
  const { runDevStack } = await import('../../dev-stack/main');
  // The stack prints its own banner and progress; it resolves with its summary once Ctrl-C has stopped everything.
  const summary = await runDevStack({ env: ctx.io.env as NodeJS.ProcessEnv });
  if (ctx.out.json) ctx.out.result(summary, () => '');
}

export function registerDev(program: Command, run: Runner): void {
  program
    .command('dev')
    .description('run the local dev stack: Temporal dev server + UI, CRM database, mail inbox, worker, API')
    .option('--json', "print the stack's summary as one JSON document when it stops")
    .action((opts: { json?: boolean }) => run(opts, (ctx) => dev(ctx)));
}
