/**
 * A MariaDB server of the chaos run's own (its data folder, a free port, no grants): the run stops it for 30 s, which
 * it must never do to a database anything else uses. Needs the `mariadbd` and `mariadb-install-db` programs.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createDb } from '../db/connection';

export interface OwnMariaDb {
  /** `mysql://root@127.0.0.1:<port>/` (no database). */
  serverUrl: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startOwnMariaDb(dir: string, port: number): Promise<OwnMariaDb> {
  const dataDir = path.join(dir, 'mariadb');
  if (!fs.existsSync(path.join(dataDir, 'mysql'))) {
    fs.mkdirSync(dataDir, { recursive: true });
    execFileSync(
      'mariadb-install-db',
      ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db'],
      { stdio: 'ignore' }
    );
  }
  const serverUrl = `mysql://root@127.0.0.1:${port}/`;
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const args = [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${path.join(dir, 'mariadb.sock')}`,
      `--pid-file=${path.join(dir, 'mariadb.pid')}`,
      '--skip-grant-tables',
      '--skip-log-bin',
      '--innodb-buffer-pool-size=64M',
      '--max-connections=300',
      ...(process.getuid?.() === 0 ? ['--user=root'] : []),
    ];
    const log = fs.openSync(path.join(dir, 'mariadb.log'), 'a');
    child = spawn('mariadbd', args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const db = createDb(serverUrl, { poolMax: 1 });
      try {
        await db.raw('SELECT 1');
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`own MariaDB on port ${port} did not start: ${String(err)}`);
      } finally {
        await db.destroy();
      }
      await sleep(300);
    }
  };

  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const killTimer = setTimeout(() => c.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(killTimer);
  };

  await start();
  return { serverUrl, stop, start };
}
