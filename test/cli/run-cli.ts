/**
 * Runs `node bin/signflow.js …` as a real subprocess, the way staff and scripts run it, with an explicit environment
 * (nothing leaks in from the developer's shell) and a hard time limit.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const BIN = path.resolve(__dirname, '../../bin/signflow.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (the verbs print exactly one document under --json). */
  json<T = any>(): T; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      // A loaded test machine may answer an Update later than the production bound (10 s); NO_WORKER tests set theirs.
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        SIGNFLOW_WORKER_ANSWER_TIMEOUT: '60s',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `signflow ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`
        )
      );
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout,
        stderr,
        json: () => {
          try {
            return JSON.parse(stdout);
          } catch {
            throw new Error(
              `signflow ${args.join(' ')}: stdout is not JSON (exit ${code}):\n${stdout}\nstderr:\n${stderr}`
            );
          }
        },
      });
    });
  });
}
