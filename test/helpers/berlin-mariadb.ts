/**
 * A MariaDB server of its own whose system time zone is Europe/Berlin (`TZ` of the server process; `time_zone` stays
 * `SYSTEM`), on a free loopback port, in a temporary folder: what a practice's database server in Germany looks like.
 * Needs `mariadb-install-db` and `mariadbd` (Debian: `mariadb-server`); `available()` says whether they are there.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';
import { getFreePort } from '../../harness/temporal';

export interface BerlinMariaDb {
  /** `mysql://root@127.0.0.1:<port>/` (no database). */
  url: string;
  port: number;
  stop(): Promise<void>;
}

const INSTALL_DB = 'mariadb-install-db';
const SERVER = 'mariadbd';

export function berlinMariaDbAvailable(): boolean {
  return [INSTALL_DB, SERVER].every((cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0);
}

export async function startBerlinMariaDb(): Promise<BerlinMariaDb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-berlin-mariadb-'));
  const data = path.join(dir, 'data');
  const installed = spawnSync(
    INSTALL_DB,
    ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db'],
    { encoding: 'utf8' }
  );
  if (installed.status !== 0) throw new Error(`${INSTALL_DB} failed: ${installed.stderr}`);
  const port = await getFreePort();
  const user = os.userInfo().username;
  const server: ChildProcess = spawn(
    SERVER,
    [
      '--no-defaults',
      `--datadir=${data}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${path.join(dir, 'mysqld.sock')}`,
      `--pid-file=${path.join(dir, 'mysqld.pid')}`,
      '--skip-log-bin',
      '--innodb-buffer-pool-size=16M',
      `--user=${user}`,
    ],
    { env: { ...process.env, TZ: 'Europe/Berlin' }, stdio: ['ignore', 'ignore', 'pipe'] }
  );
  let log = '';
  server.stderr?.setEncoding('utf8').on('data', (s: string) => (log += s));
  const url = `mysql://root@127.0.0.1:${port}/`;
  const stop = async () => {
    if (server.exitCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // Wait for the server to take connections (a state, not a duration).
  const deadline = Date.now() + 60_000;
  for (;;) {
    const db = knex({ client: 'mysql2', connection: { host: '127.0.0.1', port, user: 'root' } });
    try {
      await db.raw('select 1');
      await db.destroy();
      break;
    } catch (err) {
      await db.destroy();
      if (server.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`the Europe/Berlin MariaDB did not start: ${(err as Error).message}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return { url, port, stop };
}
