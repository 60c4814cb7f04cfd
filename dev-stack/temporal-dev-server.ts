/**
 * Runs the real Temporal CLI dev server (`temporal server start-dev`) as a child process, for the dev stack and the
 * end-to-end tests.
 *
 * We start it ourselves instead of `TestWorkflowEnvironment.createLocal` because the SDK kills a server that does not
 * accept connections within 5 s, which a cold start on 2 busy cores can exceed. Readiness here means: the frontend
 * answers, the namespace exists and every custom search attribute is registered (a workflow that upserts one before
 * registration fails its task).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../workflows/definitions';
import { temporalCliPath } from './tool-paths';

export interface DevServerOptions {
  /** Path of the `temporal` CLI. @default from TEMPORAL_CLI_PATH / .tools/paths.env */
  cliPath?: string;
  /** Address the frontend (and UI) bind to. @default '127.0.0.1' */
  ip?: string;
  /** Frontend gRPC port. @default a free port */
  port?: number;
  /** Serve the Web UI. @default false (headless) */
  ui?: boolean;
  /** Web UI port when `ui` is on. @default a free port */
  uiPort?: number;
  /**
   * Codec server endpoint the Web UI decodes payloads through (`--ui-codec-endpoint`), e.g.
   * `http://localhost:8888/codec`. Only with `ui`. @default none (the UI shows encrypted payloads as they are)
   */
  uiCodecEndpoint?: string;
  /** SQLite file that keeps workflows across restarts; in-memory when omitted. */
  dbFilename?: string;
  /** Namespace the clients use; created at start. @default 'default' */
  namespace?: string;
  /** Custom search attributes to register (name → type). @default SEARCH_ATTRIBUTES from workflows/definitions */
  searchAttributes?: Record<string, string>;
  /** Server log level. @default 'warn' */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Bound on the wait until the server is ready, in ms. @default 60000 */
  startTimeoutMs?: number;
  /**
   * The server writes its stdout/stderr into this file (appending), with no pipe through us, so it can outlive us.
   * Without it the output comes through pipes (last 64 KiB kept for error messages).
   */
  logFile?: string;
  /**
   * Own process group: a Ctrl-C in the terminal then reaches only us, and we stop the server last, after the worker
   * has drained. @default false
   */
  detached?: boolean;
  /**
   * How many times to start the server when it exits before it is ready. @default 3
   *
   * The CLI picks its internal ports (HTTP API, metrics, each service's gRPC and membership port) as "free a moment
   * ago" and binds them only while the services are built; another process starting at the same time (parallel test
   * workers, a second stack) can take one in between, and the server then dies with a Go panic (exit code 2). A new
   * start picks new ports. A server that does not get ready in time is not started again.
   */
  startAttempts?: number;
}

/** The server exited before it was ready (as opposed to not getting ready in time). */
export class DevServerExitedError extends Error {
  override readonly name = 'DevServerExitedError';
}

export interface RunningDevServer {
  /** host:port of the frontend, for `Connection.connect({ address })`. */
  address: string;
  namespace: string;
  /** URL of the Web UI, when enabled. */
  uiUrl?: string;
  pid: number;
  /** How long the start took until ready, in ms. */
  startedInMs: number;
  /** SIGTERM, then SIGKILL after 10 s. Idempotent. */
  stop(): Promise<void>;
}

/** A port that was free a moment ago on `host` (the OS picks it). */
export async function getFreePort(host = '127.0.0.1'): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function startArgs(o: Required<Pick<DevServerOptions, 'ip' | 'port' | 'namespace' | 'logLevel'>> & DevServerOptions) {
  const args = ['server', 'start-dev', '--ip', o.ip, '--port', String(o.port), '--log-level', o.logLevel];
  if (o.ui) {
    args.push('--ui-port', String(o.uiPort));
    if (o.uiCodecEndpoint) args.push('--ui-codec-endpoint', o.uiCodecEndpoint);
  } else {
    args.push('--headless');
  }
  if (o.dbFilename) args.push('--db-filename', o.dbFilename);
  if (o.namespace !== 'default') args.push('--namespace', o.namespace);
  for (const [name, type] of Object.entries(o.searchAttributes ?? SEARCH_ATTRIBUTES)) {
    args.push('--search-attribute', `${name}=${type}`);
  }
  return args;
}

/** Polls until the namespace answers and lists every wanted search attribute; throws at the deadline. */
async function waitUntilReady(
  address: string,
  namespace: string,
  attributes: string[],
  deadline: number,
  exited: () => string | undefined
): Promise<void> {
  let connection: Connection | undefined;
  let lastError: unknown;
  try {
    while (Date.now() < deadline) {
      const exitReason = exited();
      if (exitReason) throw new DevServerExitedError(`temporal dev server exited during start (${exitReason})`);
      try {
        connection ??= await Connection.connect({ address, connectTimeout: 2_000 });
        await connection.workflowService.describeNamespace({ namespace });
        const listed = await connection.operatorService.listSearchAttributes({ namespace });
        const missing = attributes.filter((a) => !(a in (listed.customAttributes ?? {})));
        if (missing.length === 0) return;
        lastError = new Error(`search attributes not registered yet: ${missing.join(', ')}`);
      } catch (err) {
        lastError = err;
      }
      await sleep(200);
    }
    throw new Error(`temporal dev server at ${address} not ready in time: ${String(lastError)}`);
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/**
 * The server's output for an error message: its last 4,000 characters and, when it panicked earlier than that, the
 * panic's first 1,500 (Go prints the reason first, then a stack trace longer than the tail).
 */
function describeOutput(out: string): string {
  if (!out.trim()) return '';
  const tail = out.slice(-4000);
  const m = /(^|\n)panic: /.exec(out);
  const panicAt = m ? m.index + (m[1] ?? '').length : -1;
  const panic =
    panicAt >= 0 && panicAt < out.length - tail.length ? `\n--- panic ---\n${out.slice(panicAt, panicAt + 1500)}` : '';
  return `${panic}\n--- server output (tail) ---\n${tail}`;
}

/**
 * Starts the dev server and waits until it is ready (see the file comment). A server that exits during its start is
 * started again, on new free ports where the caller left the choice to us (`startAttempts`); the error of the last
 * attempt carries every attempt's exit reason.
 */
export async function startTemporalDevServer(options: DevServerOptions = {}): Promise<RunningDevServer> {
  const attempts = options.startAttempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new Error(`startAttempts must be a whole number of at least 1, got ${String(attempts)}`);
  }
  const t0 = Date.now();
  const exits: string[] = [];
  for (let attempt = 1; ; attempt++) {
    try {
      const server = await startOnce(options);
      return { ...server, startedInMs: Date.now() - t0 };
    } catch (err) {
      if (!(err instanceof DevServerExitedError) || attempt >= attempts) {
        if (exits.length > 0) (err as Error).message += `\nearlier attempts exited: ${exits.join('; ')}`;
        throw err;
      }
      exits.push(err.message.split('\n')[0] ?? err.message);
    }
  }
}

async function startOnce(options: DevServerOptions): Promise<RunningDevServer> {
  const t0 = Date.now();
  const cliPath = options.cliPath ?? temporalCliPath();
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port ?? (await getFreePort(ip));
  const uiPort = options.ui ? (options.uiPort ?? (await getFreePort(ip))) : undefined;
  const namespace = options.namespace ?? 'default';
  const searchAttributes = options.searchAttributes ?? SEARCH_ATTRIBUTES;
  if (options.dbFilename) fs.mkdirSync(path.dirname(path.resolve(options.dbFilename)), { recursive: true });

  const args = startArgs({ ...options, ip, port, uiPort, namespace, logLevel: options.logLevel ?? 'warn' });
  // With a log file the server writes into it directly: a server that outlives us (`kill -9` of a dev stack) must not
  // write into a pipe nobody reads (it would die of SIGPIPE on its next log line, mid-request).
  const logFd = options.logFile ? fs.openSync(options.logFile, 'a') : undefined;
  const logStart = logFd !== undefined ? fs.fstatSync(logFd).size : 0;
  const child: ChildProcess = spawn(cliPath, args, {
    stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
    detached: options.detached,
  });
  if (logFd !== undefined) fs.closeSync(logFd);

  let piped = '';
  const onOutput = (chunk: Buffer): void => {
    piped = (piped + chunk.toString('utf8')).slice(-64 * 1024);
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  /** The server's latest output (this start's part of the log file, or what came through the pipes). */
  const tail = (): string => {
    if (!options.logFile) return piped;
    try {
      return fs
        .readFileSync(options.logFile, 'utf8')
        .slice(logStart)
        .slice(-64 * 1024);
    } catch {
      return '';
    }
  };

  let exitReason: string | undefined;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitReason = signal ? `signal ${signal}` : `code ${String(code)}`;
      resolve();
    });
    child.once('error', (err) => {
      exitReason = `spawn error: ${err.message}`;
      resolve();
    });
  });

  // A test runner or dev stack that dies must not leave an orphan server holding ports and the DB file.
  const killOnExit = (): void => {
    if (!exitReason) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      process.removeListener('exit', killOnExit);
      if (!exitReason) {
        child.kill('SIGTERM');
        // SIGKILL after 10 s; the timer is cleared on exit so that it does not keep the process alive.
        const killTimer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exitedPromise;
        clearTimeout(killTimer);
      }
    })();
    return stopped;
  };

  const address = `${ip}:${port}`;
  try {
    await waitUntilReady(
      address,
      namespace,
      Object.keys(searchAttributes),
      t0 + (options.startTimeoutMs ?? 60_000),
      () => exitReason
    );
  } catch (err) {
    await stop();
    const message = `${(err as Error).message}\ncommand: ${cliPath} ${args.join(' ')}${describeOutput(tail())}`;
    throw err instanceof DevServerExitedError ? new DevServerExitedError(message) : new Error(message);
  }

  return {
    address,
    namespace,
    uiUrl: uiPort !== undefined ? `http://${ip === '0.0.0.0' ? 'localhost' : ip}:${uiPort}` : undefined,
    pid: child.pid ?? -1,
    startedInMs: Date.now() - t0,
    stop,
  };
}
