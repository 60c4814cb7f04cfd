/**
 * Starting the Temporal dev server when it dies during its start.
 *
 * The real failure (a CI run of December 2026): the CLI binds some of its internal ports only while it builds the
 * services, another process took one in between, and the server exited with a Go panic (code 2). That race cannot be
 * made on demand, so a wrapper around the real CLI injects the fault: its first start exits with code 2 after printing
 * a panic, later starts run the real server. A server that does not get ready in time is not started again.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { DevServerExitedError, startTemporalDevServer } from '../../dev-stack/temporal-dev-server';
import { isAlive } from '../../dev-stack/temporal-pid-file';
import { temporalCliPath } from '../../dev-stack/tool-paths';

describe('startTemporalDevServer when the server exits during its start', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-dev-server-start-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A CLI wrapper whose first `failures` starts panic (exit 2); it counts its starts in `starts`. */
  function flakyCli(failures: number): { cliPath: string; starts: () => number } {
    const counter = path.join(dir, 'starts');
    const cliPath = path.join(dir, 'temporal');
    fs.writeFileSync(
      cliPath,
      [
        '#!/bin/sh',
        `echo x >> '${counter}'`,
        `if [ "$(wc -l < '${counter}')" -le ${failures} ]; then`,
        '  echo "panic: listen tcp 127.0.0.1:1: bind: address already in use" >&2',
        '  i=0; while [ $i -lt 600 ]; do echo "goroutine frame $i" >&2; i=$((i+1)); done',
        '  exit 2',
        'fi',
        `exec '${temporalCliPath()}' "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 }
    );
    return {
      cliPath,
      starts: () => (fs.existsSync(counter) ? fs.readFileSync(counter, 'utf8').trim().split('\n').length : 0),
    };
  }

  test('a start that panics is retried, on a new port, and the server then answers', async () => {
    const cli = flakyCli(2);
    const server = await startTemporalDevServer({ cliPath: cli.cliPath, searchAttributes: {} });
    try {
      expect(cli.starts()).toBe(3);
      const connection = await Connection.connect({ address: server.address });
      try {
        const ns = await connection.workflowService.describeNamespace({ namespace: 'default' });
        expect(ns.namespaceInfo?.name).toBe('default');
      } finally {
        await connection.close();
      }
    } finally {
      await server.stop();
    }
  });

  test('after the last attempt the error is DevServerExitedError with every exit and the panic line', async () => {
    const cli = flakyCli(5);
    const err = await startTemporalDevServer({ cliPath: cli.cliPath, searchAttributes: {}, startAttempts: 2 }).then(
      () => undefined,
      (e: unknown) => e
    );
    expect(err).toBeInstanceOf(DevServerExitedError);
    const message = (err as Error).message;
    expect(message).toContain('exited during start (code 2)');
    expect(message).toContain('earlier attempts exited: temporal dev server exited during start (code 2)');
    // The panic's reason is printed before 600 lines of stack: kept although the tail does not reach it.
    expect(message).toContain('--- panic ---\npanic: listen tcp 127.0.0.1:1: bind: address already in use');
    expect(cli.starts()).toBe(2);
  });

  test('a server that is not ready in time is stopped and not started again', async () => {
    const cliPath = path.join(dir, 'temporal');
    const counter = path.join(dir, 'starts');
    fs.writeFileSync(cliPath, `#!/bin/sh\necho $$ >> '${counter}'\nexec sleep 600\n`, { mode: 0o755 });
    const err = await startTemporalDevServer({ cliPath, searchAttributes: {}, startTimeoutMs: 1_500 }).then(
      () => undefined,
      (e: unknown) => e
    );
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(DevServerExitedError);
    expect((err as Error).message).toContain('not ready in time');
    const pids = fs.readFileSync(counter, 'utf8').trim().split('\n');
    expect(pids).toHaveLength(1);
    // The process that never got ready was stopped (and reaped) before the error came.
    expect(isAlive(Number(pids[0]))).toBe(false);
  });

  test('startAttempts below 1 is refused before anything starts', async () => {
    const cli = flakyCli(0);
    await expect(startTemporalDevServer({ cliPath: cli.cliPath, startAttempts: 0 })).rejects.toThrow(
      'startAttempts must be a whole number of at least 1, got 0'
    );
    expect(cli.starts()).toBe(0);
  });
});
