/**
 * Entry of the `signflow` command (bin/signflow.js runs this file through tsx). Returns the exit code instead of
 * calling process.exit in the middle, so connections close first; see cli/exit-codes.ts for their meaning.
 */
import { CommanderError } from 'commander';
import { CommandError } from '../commands/errors';
import { classifyError } from './classify-error';
import { CliError, ExitCode } from './exit-codes';
import { Output, type Io } from './output';
import { buildProgram } from './program';
import { createRunner, installVerbose, type RunnerState } from './runner';

export async function main(
  argv: readonly string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env }
): Promise<ExitCode> {
  const state: RunnerState = { exitCode: ExitCode.OK };
  const program = buildProgram(io, createRunner(io, state));
  installVerbose(program, io, state);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return state.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here too, successfully.
      if (err.exitCode === 0) return ExitCode.OK;
      // commander already printed its sentence to stderr; scripts asking for JSON also get it on stdout.
      if (argv.includes('--json'))
        new Output(io, true).error(new CliError(ExitCode.USAGE, 'USAGE', err.message.replace(/^error: /, '')));
      return ExitCode.USAGE;
    }
    if (err instanceof CommandError) {
      // A malformed id on the command line: VALIDATION_FAILED, as the API and the outbox answer it.
      const e = classifyError(err);
      new Output(io, argv.includes('--json')).error(e);
      return e.exitCode;
    }
    throw err;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = ExitCode.INTERNAL;
    }
  );
}
