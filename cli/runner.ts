/**
 * Runs one verb: builds its context, maps whatever it throws to a CliError, prints it the way `--json` asks, closes the
 * connections, and records the exit code for main().
 */
import { classifyError } from './classify-error';
import { createContext, type CliContext } from './context';
import { ExitCode } from './exit-codes';
import type { Io } from './output';

export type Runner = (opts: { json?: boolean }, fn: (ctx: CliContext) => Promise<ExitCode | void>) => Promise<void>;

export function createRunner(io: Io, state: { exitCode: ExitCode }): Runner {
  return async (opts, fn) => {
    const ctx = createContext(io, Boolean(opts.json));
    try {
      state.exitCode = (await fn(ctx)) ?? ExitCode.OK;
    } catch (err) {
      const e = classifyError(err);
      ctx.out.error(e);
      state.exitCode = e.exitCode;
    } finally {
      await ctx.close();
    }
  };
}
