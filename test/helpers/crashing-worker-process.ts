/**
 * A real worker in a process of its own that kills itself at a chosen point (one of the crash scripts beside this
 * file), for the tests that show what a lost worker leaves behind. The only fault is its own SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { eventually } from './waits';

export interface CrashingWorkerOptions {
  /** The crash script in test/helpers, e.g. `crash-after-recording-worker.ts`. */
  script: string;
  temporal: { address: string; namespace: string; taskQueue: string };
  databaseUrl: string;
  smtpUrl: string;
  /** Where the script crashes (`SIGNFLOW_CRASH_AT`, `SIGNFLOW_CRASH_AFTER`, …), as the script reads it. */
  env?: Record<string, string>;
}

export interface CrashingWorker {
  /** 'killed' once the process died by SIGKILL, else its exit code and signal. */
  exited: Promise<string>;
  /** All it printed so far (stdout and stderr). */
  output(): string;
  /** Kills it if it still runs (for afterAll). */
  stop(): void;
}

/** Starts the process and resolves once its worker polls. */
export async function startCrashingWorker(options: CrashingWorkerOptions): Promise<CrashingWorker> {
  let out = '';
  const child: ChildProcess = spawn(
    path.join(__dirname, '../../node_modules/.bin/tsx'),
    [path.join(__dirname, options.script)],
    {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        SIGNFLOW_WORKER_METRICS_PORT: '0',
        SIGNFLOW_WORKER_SDK_METRICS_PORT: '0',
        ...options.env,
        SIGNFLOW_CRASH_TEST_CONFIG: JSON.stringify({
          temporal: options.temporal,
          database: { url: options.databaseUrl },
          mail: { smtpUrl: options.smtpUrl },
          signature: { remindersEnabled: false, expiry: '30d' },
        }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }
  );
  // tsx runs the script in a node process of its own and exits with 128 + 9 when that one is killed.
  const exited = new Promise<string>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal === 'SIGKILL' || code === 137 ? 'killed' : `${code} ${signal}`))
  );
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  try {
    await eventually(async () => expect(out).toContain('polling'), 120_000);
  } catch (err) {
    stop();
    throw err;
  }
  return { exited, output: () => out, stop };
}
