/**
 * The long-running processes as verbs, like the `temporal` CLI's subcommands: `signflow worker`, `signflow api`,
 * `signflow codec-server`, `signflow konnektor-worker` (the on-site worker beside the practice's Konnektor). They run inside the `signflow` process itself (bin/signflow.js loads TypeScript in-process,
 * no `npx`, no shell, no child), so the PID a service manager holds is the process that drains: SIGTERM or SIGINT
 * stops taking work, lets what is running finish, and exits within 10 s (exit 0). A second signal exits at once.
 *
 * Each loads the config, checks the mapping against the database (worker and API) and refuses to start with exit 5 on
 * any configuration problem. Modules are imported lazily: other verbs must not load a worker or a web server.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { ExitCode } from '../exit-codes';
import type { Runner } from '../runner';

/** Everything stops within this after the first signal: running activities get less, the rest is closing. */
export const STOP_WITHIN_MS = 10_000;
/** What an activity still running at SIGTERM gets to finish; cut short, it is retried by another worker. */
const ACTIVITY_GRACE = '7 seconds';

/**
 * Resolves with the signal's name at the first SIGINT/SIGTERM; a second one exits at once (an impatient operator, or a
 * service manager's final SIGKILL-before-SIGKILL).
 */
function firstSignal(log: (line: string) => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let seen = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (seen) {
        log(`${signal} again: exiting now`);
        process.exit(ExitCode.UNAVAILABLE);
      }
      seen = true;
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** Runs `close`, but never longer than what is left of the 10 s: a hung close must not keep the process. */
async function closeWithin(close: () => Promise<void>, log: (line: string) => void): Promise<ExitCode> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), STOP_WITHIN_MS - 1000);
    timer.unref();
  });
  const result = await Promise.race([close().then(() => 'closed' as const), deadline]);
  clearTimeout(timer);
  if (result === 'late') {
    log('did not close in time; exiting anyway');
    return ExitCode.UNAVAILABLE;
  }
  return ExitCode.OK;
}

function logger(ctx: CliContext, name: string): (line: string) => void {
  return (line) => ctx.io.stderr.write(`signflow ${name} [${process.pid}]: ${line}\n`);
}

/**
 * A refused start (configuration, mapping, Temporal unreachable): the installed SDK runtime's log forwarding would keep
 * the process alive, so it is shut down before the error goes on to its exit code (exit 5 must exit).
 */
async function shutDownRuntimeAndThrow(err: unknown): Promise<never> {
  const { Runtime } = await import('@temporalio/worker');
  await Runtime.instance().shutdown();
  throw err;
}

async function worker(ctx: CliContext, opts: { workflowBundle?: string }): Promise<ExitCode> {
  const log = logger(ctx, 'worker');
  const config = ctx.config;
  const { createWorker } = await import('../../worker/run-worker');
  const { installRuntime } = await import('../../worker/runtime');
  const { createLogger } = await import('../../logging/logger');
  const { mallocSettingsWarning } = await import('../../worker/malloc-settings');
  const { workflowSource } = await import('../../worker/workflow-source');
  const { ownBuild, staleBuildWarning } = await import('../../worker/build-freshness');
  // Before the first connection: the SDK's, workflows' and activities' lines as JSON (expected outcomes as one line
  // with their code), and the SDK's own metrics; as `worker/main.ts` does.
  const workerLogger = createLogger({ service: 'worker', level: config.observability.logLevel });
  const sdkMetricsUrl = installRuntime(config, workerLogger);
  // glibc reads its allocator settings at process start: only the environment that starts this process can set them.
  const mallocWarning = mallocSettingsWarning();
  if (mallocWarning) workerLogger.warn(mallocWarning);
  // Run from dist/: the sources beside it must be the ones it was built from, or this runs older code than checked out.
  const build = ownBuild();
  const staleWarning = build && staleBuildWarning(build.root, build.outDir);
  if (staleWarning) workerLogger.warn(staleWarning);
  const signal = firstSignal(log);
  // The build's bundle when run from dist/ (npm run build), else the given one, else workflows/ bundled at start.
  const source = workflowSource(opts.workflowBundle ? { codePath: opts.workflowBundle } : undefined);
  const running = await createWorker(config, {
    ...('workflowBundle' in source ? { workflowBundle: source.workflowBundle } : {}),
    workerOptions: { shutdownGraceTime: ACTIVITY_GRACE },
    ops: { sdkMetricsUrl },
  }).catch(shutDownRuntimeAndThrow);
  log(
    `polling task queue ${config.temporal.taskQueue} at ${config.temporal.address} (namespace ` +
      `${config.temporal.namespace}); workflow code: ${
        'workflowBundle' in source
          ? `bundle ${source.workflowBundle.codePath}`
          : `${source.workflowsPath}, bundled at start`
      }; SIGTERM or SIGINT drains and stops`
  );
  // The SDK's runtime reacts to SIGINT/SIGTERM itself and shuts the worker down; `done` resolves when it has.
  const stopped = await Promise.race([signal.then((s) => ({ signal: s })), running.done.then(() => undefined)]);
  if (stopped) log(`${stopped.signal}: draining (running activities get ${ACTIVITY_GRACE})`);
  const code = await closeWithin(() => running.shutdown(), log);
  log('stopped');
  return code;
}

/**
 * The on-site Konnektor worker: only the Konnektor activities, only on SIGNFLOW_KONNEKTOR_TASK_QUEUE, no workflows and
 * no port of its own (worker/konnektor-worker.ts). Drains like `worker`.
 */
async function konnektorWorker(ctx: CliContext): Promise<ExitCode> {
  const log = logger(ctx, 'konnektor-worker');
  const config = ctx.config;
  const { createKonnektorWorker } = await import('../../worker/konnektor-worker');
  const { installRuntime } = await import('../../worker/runtime');
  const { createLogger } = await import('../../logging/logger');
  // JSON lines as the main worker's, but no SDK metrics exporter: the on-site worker listens on no port at all.
  installRuntime(
    { ...config, observability: { ...config.observability, sdkMetricsPort: 0 } },
    createLogger({ service: 'konnektor-worker', level: config.observability.logLevel })
  );
  const signal = firstSignal(log);
  const running = await createKonnektorWorker(config, { workerOptions: { shutdownGraceTime: ACTIVITY_GRACE } }).catch(
    shutDownRuntimeAndThrow
  );
  log(
    `polling task queue ${running.taskQueue} at ${config.temporal.address} (namespace ${config.temporal.namespace}) ` +
      `for the Konnektor at ${config.konnektor.sdsUrl ?? '?'}; SIGTERM or SIGINT drains and stops`
  );
  const stopped = await Promise.race([signal.then((s) => ({ signal: s })), running.done.then(() => undefined)]);
  if (stopped) log(`${stopped.signal}: draining (running activities get ${ACTIVITY_GRACE})`);
  const code = await closeWithin(() => running.shutdown(), log);
  log('stopped');
  return code;
}

async function api(ctx: CliContext): Promise<ExitCode> {
  const log = logger(ctx, 'api');
  const config = ctx.config;
  const { runApi } = await import('../../api/main');
  const signal = firstSignal(log);
  const running = await runApi(config);
  log(`listening on ${running.url}/api/v1 (OpenAPI: ${running.url}/api/v1/openapi.json)`);
  const s = await signal;
  log(`${s}: finishing open requests, then stopping`);
  const code = await closeWithin(() => running.close(), log);
  log('stopped');
  return code;
}

async function codecServer(ctx: CliContext): Promise<ExitCode> {
  const log = logger(ctx, 'codec-server');
  const config = ctx.config;
  const { startCodecServer } = await import('../../codec/codec-server');
  const signal = firstSignal(log);
  const running = await startCodecServer(config);
  log(`listening on ${running.endpoint} (login page: ${running.endpoint}/login)`);
  const s = await signal;
  log(`${s}: stopping`);
  const code = await closeWithin(() => running.close(), log);
  log('stopped');
  return code;
}

export function registerProcesses(program: Command, run: Runner): void {
  program
    .command('worker')
    .description('run a worker (workflows and activities) until SIGTERM/SIGINT, which drain it within 10 s')
    .option(
      '--workflow-bundle <file>',
      "a pre-built workflow bundle (bundleWorkflowCode); default: the build's dist/workflow-bundle.js when run from " +
        'dist/ (npm run build), else bundled at start'
    )
    .action((opts: { workflowBundle?: string }) => run({}, (ctx) => worker(ctx, opts)));
  program
    .command('konnektor-worker')
    .description(
      'run the on-site Konnektor worker (only the Konnektor activities, on SIGNFLOW_KONNEKTOR_TASK_QUEUE; outbound ' +
        'connections only) until SIGTERM/SIGINT, which drain it within 10 s'
    )
    .action(() => run({}, (ctx) => konnektorWorker(ctx)));
  program
    .command('api')
    .description('run the HTTP API until SIGTERM/SIGINT, which finish open requests and stop within 10 s')
    .action(() => run({}, (ctx) => api(ctx)));
  program
    .command('codec-server')
    .description('run the codec server for the Temporal UI and CLI until SIGTERM/SIGINT')
    .action(() => run({}, (ctx) => codecServer(ctx)));
}
