/**
 * No silent database: outside the dev stack an unset `SIGNFLOW_DATABASE_URL` is a configuration error naming the
 * variable, and a mistyped SQLite path is refused with the missing file or folder named. Nothing is created on the
 * way: no `data/crm.sqlite` in the working folder, no folder, no empty database. Only the migration command (and the
 * dev stack) make a SQLite file.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDb } from '../../db/connection';
import { ConfigError, databaseUrl, loadConfig } from '../../temporal.config';
import { createWorker } from '../../worker/run-worker';
import { runApi } from '../../api/main';
import { BIN } from '../cli/run-cli';

const ROOT = path.resolve(__dirname, '../..');

function run(
  args: string[],
  env: Record<string, string>,
  cwd: string
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the database URL', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-dburl-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('unset: the CLI exits 5 naming SIGNFLOW_DATABASE_URL and creates nothing in the working folder', async () => {
    const r = await run([BIN, 'report', 'contracts', '--json'], {}, dir);
    expect(r.code).toBe(5);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(JSON.parse(r.stdout).error.message).toContain('SIGNFLOW_DATABASE_URL is not set');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('a SQLite path in a folder that does not exist: exit 5, the folder named, nothing created', async () => {
    const url = path.join(dir, 'nonexistent', 'dir', 'crm.sqlite');
    const r = await run([BIN, 'verify', '1'], { SIGNFLOW_DATABASE_URL: url }, dir);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`the folder ${path.dirname(url)} does not exist`);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('a SQLite file that does not exist: exit 5, the file named, not created', async () => {
    const url = path.join(dir, 'crm-typo.sqlite');
    const r = await run([BIN, 'report', 'signatures'], { SIGNFLOW_DATABASE_URL: url }, dir);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`the file ${url} does not exist`);
    expect(fs.existsSync(url)).toBe(false);
  });

  test('the migration command is the one that makes a new SQLite file', async () => {
    const url = path.join(dir, 'new', 'crm.sqlite');
    const r = await run(
      [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), path.join(ROOT, 'db/migrate.ts')],
      { SIGNFLOW_DATABASE_URL: url },
      dir
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fs.existsSync(url)).toBe(true);
  });

  test('worker and API refuse to start without it, before connecting anywhere', async () => {
    const config = loadConfig({ temporal: { address: '127.0.0.1:1' } }, {});
    expect(() => databaseUrl(config)).toThrow(ConfigError);
    await expect(createWorker(config)).rejects.toThrow(/SIGNFLOW_DATABASE_URL is not set/);
    await expect(runApi(config)).rejects.toThrow(/SIGNFLOW_DATABASE_URL is not set/);
  });

  test('createDb refuses a missing SQLite file unless asked to create one', async () => {
    const file = path.join(dir, 'sub', 'crm.sqlite');
    expect(() => createDb(file)).toThrow(ConfigError);
    expect(fs.existsSync(path.join(dir, 'sub'))).toBe(false);
    const db = createDb(file, { createSqliteFile: true });
    await db.raw('select 1');
    await db.destroy();
    expect(fs.existsSync(file)).toBe(true);
    // Now that it exists, anyone may open it.
    const again = createDb(file);
    await again.raw('select 1');
    await again.destroy();
  });
});
