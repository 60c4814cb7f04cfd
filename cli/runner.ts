/**
 * Runs one verb: builds its context, maps whatever it throws to a CliError, prints it the way `--json` asks, closes the
 * connections, and records the exit code for main().
 */
import type { Command } from 'commander';
import { createLogger, type Logger } from '../logging/logger';
import { contractWorkflowId } from '../workflows/definitions';
import { classifyError } from './classify-error';
import { createContext, type CliContext } from './context';
import { ExitCode } from './exit-codes';
import type { Io } from './output';

export type Runner = (opts: { json?: boolean }, fn: (ctx: CliContext) => Promise<ExitCode | void>) => Promise<void>;

export interface RunnerState {
  exitCode: ExitCode;
  /** Set by `--verbose` (program.ts' preAction hook): JSON log lines on stderr. */
  logger?: Logger;
}

/** Installs `--verbose`: before each verb, a pino logger on stderr, and a line naming the verb and its contract. */
export function installVerbose(program: Command, io: Io, state: RunnerState): void {
  program.hook('preAction', (_program, action) => {
    if (!(action.optsWithGlobals() as { verbose?: boolean }).verbose) return;
    state.logger = createLogger({
      service: 'cli',
      level: io.env.SIGNFLOW_LOG_LEVEL?.trim() || 'debug',
      destination: io.stderr,
    });
    // The verbs that take one contract name it first (`signflow sign 42 …`).
    const first = Number(action.args[0]);
    const contract =
      Number.isInteger(first) && first > 0 ? { contractId: first, workflowId: contractWorkflowId(first) } : {};
    state.logger = state.logger.child(contract);
    state.logger.info({ command: action.name() }, `signflow ${action.name()}`);
  });
}

export function createRunner(io: Io, state: RunnerState): Runner {
  return async (opts, fn) => {
    const ctx = createContext(io, Boolean(opts.json));
    try {
      state.exitCode = (await fn(ctx)) ?? ExitCode.OK;
      (await withRunId(state.logger, ctx))?.info({ exitCode: state.exitCode }, 'done');
    } catch (err) {
      const e = classifyError(err);
      ctx.out.error(e);
      state.exitCode = e.exitCode;
      (await withRunId(state.logger, ctx))?.error({ code: e.code, exitCode: e.exitCode, err }, 'failed');
    } finally {
      await ctx.close();
    }
  };
}

/**
 * The closing `--verbose` line of a verb about one contract also names the run it concerned (the latest run of
 * `honorarvertrag-<id>`), read through the connection the verb already opened; a verb that never talked to Temporal, or
 * a contract without a workflow, logs without one.
 */
async function withRunId(logger: Logger | undefined, ctx: CliContext): Promise<Logger | undefined> {
  const workflowId = (logger?.bindings() as { workflowId?: string } | undefined)?.workflowId;
  if (!logger || !workflowId) return logger;
  const client = await ctx.temporalIfConnected();
  if (!client) return logger;
  const runId = await client.workflow
    .getHandle(workflowId)
    .describe()
    .then((d) => d.runId)
    .catch(() => undefined);
  return runId ? logger.child({ runId }) : logger;
}
