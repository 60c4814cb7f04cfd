/** The `signflow` command line: every verb of the design (docs/cli.md), each with `--json`. */
import { Command } from 'commander';
import { registerDev } from './commands/dev';
import { registerDoctor } from './commands/doctor';
import { registerKonnektor } from './commands/konnektor';
import { registerMessages } from './commands/messages';
import { registerProcesses } from './commands/processes';
import { registerRepair } from './commands/repair';
import { registerReport } from './commands/report';
import { registerStart } from './commands/start';
import { registerStatus } from './commands/status';
import { registerTemplates } from './commands/templates';
import { registerVerify } from './commands/verify';
import { registerWebhooks } from './commands/webhooks';
import type { Io } from './output';
import type { Runner } from './runner';

export function buildProgram(io: Io, run: Runner): Command {
  const program = new Command('signflow')
    .description('Contract signatures (Honorarverträge) on Temporal: start, sign, confirm, watch and check them.')
    .version(readVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .option('--verbose', 'structured JSON log lines (pino) on stderr, with the contract id and workflow id')
    // Usage errors must exit 2, not commander's 1: main() decides the exit code.
    .exitOverride();
  registerDev(program, run);
  registerStart(program, run);
  registerMessages(program, run);
  registerStatus(program, run);
  registerReport(program, run);
  registerVerify(program, run);
  registerKonnektor(program, run);
  registerProcesses(program, run);
  registerDoctor(program, run);
  registerWebhooks(program, run);
  registerRepair(program, run);
  registerTemplates(program, run);
  // Subcommands inherit the error handling; without this they would call process.exit themselves.
  for (const cmd of program.commands) cmd.exitOverride().configureOutput(program.configureOutput());
  return program;
}

function readVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../package.json') as { version: string }).version;
}
