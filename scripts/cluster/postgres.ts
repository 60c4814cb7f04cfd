/**
 * A throwaway PostgreSQL for the cluster test, from Debian's packages (`postgresql`): `initdb` into a temporary folder,
 * `postgres` on a free loopback port, a `temporal` role. As root it runs the server as the `postgres` user, since
 * PostgreSQL refuses to run as root.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface RunningPostgres {
  host: string;
  port: number;
  user: string;
  password: string;
  stop(): Promise<void>;
}

/** The newest installed `/usr/lib/postgresql/<major>/bin`, or PG_BIN. */
export function postgresBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const majors = fs.existsSync(root) ? fs.readdirSync(root).filter((d) => /^\d+$/.test(d)) : [];
  const major = majors.sort((a, b) => Number(b) - Number(a))[0];
  if (!major) throw new Error('PostgreSQL is not installed: apt-get install postgresql (or set PG_BIN)');
  return path.join(root, major, 'bin');
}

export async function startPostgres(port: number): Promise<RunningPostgres> {
  const bin = postgresBin();
  const asRoot = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-pg-'));
  const data = path.join(dir, 'data');
  const pw = path.join(dir, 'pw');
  fs.writeFileSync(pw, 'temporal\n');
  if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', dir]);
  const as = (cmd: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  execFileSync(
    ...as(path.join(bin, 'initdb'), [
      '-D',
      data,
      '-U',
      'temporal',
      '--pwfile',
      pw,
      '-A',
      'scram-sha-256',
      '-E',
      'UTF8',
    ]),
    { stdio: 'ignore' }
  );
  const [cmd, args] = as(path.join(bin, 'postgres'), [
    '-D',
    data,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `unix_socket_directories=${dir}`,
    '-c',
    'max_connections=200',
    '-c',
    'fsync=off',
  ]);
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      execFileSync(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
      break;
    } catch {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`PostgreSQL did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    host: '127.0.0.1',
    port,
    user: 'temporal',
    password: 'temporal',
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        // SIGTERM: runuser passes it on (it ignores SIGINT); PostgreSQL's smart shutdown, once its clients are gone.
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
