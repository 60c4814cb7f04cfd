/**
 * `isAlive` (dev-stack/temporal-pid-file.ts) on a zombie: a process that has exited but that its parent has not
 * reaped. `kill(pid, 0)` still succeeds on it; where PID 1 does not reap orphans (many CI containers) the dev stack
 * killed with `kill -9` stays such a zombie, and the next start took it for a running stack (seen on CI). The zombie
 * here is made for real: a Python process forks a child that exits at once, and never waits for it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { isAlive, processState as state } from '../../dev-stack/temporal-pid-file';

const linux = fs.existsSync('/proc/self/stat');

(linux ? describe : describe.skip)('isAlive and zombies', () => {
  test('a zombie is not alive, its running parent is, a reaped one is not', async () => {
    // Python forks a child that exits at once and never waits for it (no SIGCHLD handler): a zombie until the parent
    // ends. (A shell's `true & exec sleep` sometimes reaped `true` before the exec.)
    const script =
      'import os, sys, time\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nprint(pid, flush=True)\ntime.sleep(600)\n';
    const parent = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const zombie = await new Promise<number>((resolve, reject) => {
        parent.stdout.once('data', (c: Buffer) => resolve(Number(c.toString('utf8').trim())));
        parent.once('error', reject);
      });
      // Wait for the state, not for a duration: `true` exits at once, then stays unreaped under `sleep`.
      for (let i = 0; state(zombie) !== 'Z'; i++) {
        if (i > 6000) throw new Error(`pid ${zombie} never became a zombie (state ${state(zombie)})`);
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(() => process.kill(zombie, 0)).not.toThrow();
      expect(isAlive(zombie)).toBe(false);
      expect(isAlive(parent.pid as number)).toBe(true);
      expect(isAlive(process.pid)).toBe(true);
    } finally {
      parent.kill('SIGKILL');
      await new Promise((r) => (parent.exitCode !== null || parent.signalCode ? r(undefined) : parent.once('exit', r)));
    }
    expect(isAlive(parent.pid as number)).toBe(false);
  });
});
