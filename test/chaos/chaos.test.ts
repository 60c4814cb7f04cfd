/**
 * The chaos run's small configuration (what CI runs; `npm run chaos` runs 300): 20 contracts through their whole life
 * while the worker is killed with SIGKILL, the Temporal server restarts, MariaDB stops for 30 s, SMTP for 60 s, the
 * Konnektor fails 30 % of its calls and its comfort signature runs out once. Counted from the real systems: every
 * contract has exactly one invitation, one confirmation, one valid signature, one QES document, its audit rows, and a
 * completed workflow.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chaosTable, EXPECTED } from '../../chaos/count';
import { runChaos } from '../../chaos/run-chaos';

jest.setTimeout(30 * 60_000);

/** The run starts a MariaDB of its own (it stops it for 30 s): it needs Debian's mariadb-server programs. */
function hasMariaDbPrograms(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v mariadbd && command -v mariadb-install-db'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const available = hasMariaDbPrograms();
if (!available && process.env.CI !== 'true') {
  console.warn('chaos test skipped: mariadbd / mariadb-install-db not found (package mariadb-server)');
}
/**
 * A failed run's folder goes to `test-results/` (git-ignored; CI writes its jest results there too): the histories of
 * the bad contracts, the worker's and servers' logs, the mails as .eml files and the databases' state files. Returns
 * where it went (the temporary folder itself if it could not be copied).
 */
function keepRunFolder(dir: string): string {
  const target = path.join(__dirname, '..', '..', 'test-results', path.basename(dir));
  try {
    // Sockets of servers that did not stop cleanly cannot be copied; nothing of the run is in them.
    fs.cpSync(dir, target, { recursive: true, filter: (src) => !fs.lstatSync(src).isSocket() });
    fs.rmSync(dir, { recursive: true, force: true });
    return target;
  } catch {
    return dir;
  }
}

const maybe = available || process.env.CI === 'true' ? test : test.skip;

maybe(
  '20 contracts through worker kills, a Temporal restart and outages of MariaDB, SMTP and the Konnektor',
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-chaos-test-'));
    let keep = false;
    try {
      const result = await runChaos({ contracts: 20, dir, seed: 20, log: () => undefined });
      const { count } = result;
      // The failure message says what went wrong where: first every contract that is not complete and single, with
      // all its counts (a diff shows only the first lines of a long string), what its rows and workflow say and
      // where the run's folder is kept (histories, worker and server logs, mails), then the timeline and the table.
      const bad = new Set([...count.lost, ...count.duplicated, ...count.stuck]);
      const badRows = count.contracts.filter((c) => bad.has(c.contractId)).map((c) => JSON.stringify(c));
      keep = bad.size > 0;
      const kept = keep ? `run folder kept in ${keepRunFolder(dir)}\n${result.explanations.join('\n')}\n` : '';
      const table = `${badRows.join('\n')}\n${kept}${result.events.join('\n')}\n${chaosTable(count)}`;
      expect({ lost: count.lost, duplicated: count.duplicated, stuck: count.stuck, table }).toEqual({
        lost: [],
        duplicated: [],
        stuck: [],
        table,
      });
      for (const c of count.contracts) {
        for (const [metric, expected] of EXPECTED)
          expect({ id: c.contractId, metric, n: c[metric] }).toEqual({
            id: c.contractId,
            metric,
            n: expected,
          });
        expect(c.workflow).toBe('COMPLETED');
      }
      // The faults did happen.
      expect(result.workerKills).toBeGreaterThan(0);
      expect(result.events.join('\n')).toMatch(/MariaDB: started again[\s\S]*SMTP: started again/);
    } finally {
      if (!keep) fs.rmSync(dir, { recursive: true, force: true });
    }
  }
);
