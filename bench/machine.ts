/** What the figures were measured on, printed at the top of every run. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { Knex } from 'knex';

/** The machine's 1, 5 and 15 minute load averages, as every report prints them: `0.12 0.34 0.56`. */
export function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

export function machineLines(temporalCli: string): string[] {
  const cpus = os.cpus();
  let temporal = 'unknown';
  try {
    temporal = execFileSync(temporalCli, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch {
    // Only informational.
  }
  return [
    `cores: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}`,
    `memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, load average at start: ${loadAverage()}`,
    `node ${process.version} on ${os.platform()} ${os.release()} (${os.arch()})`,
    `temporal: ${temporal.replace(/\s+/g, ' ')}`,
  ];
}

/** `SQLite 3.x` / `MariaDB 10.x`: the server version behind a knex instance. */
export async function databaseVersion(db: Knex, kind: 'sqlite' | 'mariadb'): Promise<string> {
  try {
    if (kind === 'sqlite') {
      const rows = (await db.raw('select sqlite_version() as v')) as { v: string }[];
      return `SQLite ${rows[0]?.v ?? '?'} (better-sqlite3, WAL)`;
    }
    const [rows] = (await db.raw('select version() as v')) as [{ v: string }[]];
    return `MariaDB ${rows[0]?.v ?? '?'} (mysql2)`;
  } catch {
    return kind;
  }
}
