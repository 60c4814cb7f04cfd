/**
 * `signflow dev` (= `npm run dev`): the whole local stack from dev-stack/main.ts. Imported lazily: the other verbs must
 * not pay for (or depend on) the dev stack's modules, and a production install may ship without it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../exit-codes';
import type { Runner } from '../runner';

const DEV_STACK_MODULE = path.resolve(__dirname, '../../dev-stack/main');

type DevStackEntry = (options?: Record<string, unknown>) => Promise<unknown>;

function loadDevStack(): DevStackEntry {
  const exists = ['.ts', '.js'].some((ext) => fs.existsSync(DEV_STACK_MODULE + ext));
  if (!exists) {
    throw new CliError(
      ExitCode.CONFIG,
      'DEV_STACK_MISSING',
      'the dev stack (dev-stack/main.ts) is not part of this checkout yet; start the pieces by hand (see docs/ops.md)'
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(DEV_STACK_MODULE) as Record<string, unknown>;
  const entry = mod.runDevStack ?? mod.main ?? mod.default;
  if (typeof entry !== 'function') {
    throw new CliError(
      ExitCode.INTERNAL,
      'DEV_STACK_ENTRY_MISSING',
      'dev-stack/main.ts exports no runDevStack() entry'
    );
  }
  return entry as DevStackEntry;
}

async function dev(ctx: CliContext): Promise<void> {
  const entry = loadDevStack();
  // The dev stack prints its own banner and runs until Ctrl-C; under --json its summary (if any) is the result.
  const summary = await entry({ config: ctx.config });
  if (ctx.out.json && summary !== undefined) ctx.out.result(summary, () => '');
}

export function registerDev(program: Command, run: Runner): void {
  program
    .command('dev')
    .description('run the local dev stack: Temporal dev server + UI, CRM database, mail inbox, worker, API')
    .option('--json', "print the stack's summary as one JSON document")
    .action((opts: { json?: boolean }) => run(opts, (ctx) => dev(ctx)));
}
