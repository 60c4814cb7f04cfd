/**
 * `<dataDir>/dev.env`: the settings a second shell needs so that `npx signflow …` talks to the running dev stack the way
 * its worker does (same Temporal address, database, codec keys, Konnektor). Without it the CLI would start contracts
 * without countersigning, could not read encrypted answers, and would not find the simulated Konnektor.
 *
 * Written at every start (ports may differ between starts), mode 0600 (it holds the dev codec key). Use:
 *   set -a; . data/dev.env; set +a
 */
import fs from 'node:fs';
import path from 'node:path';

export const DEV_ENV_FILE = 'dev.env';

/** Single-quoted for sh: everything literal, a quote itself as '\''. */
function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Writes the variables (undefined ones are left out) and returns the file's path. */
export function writeDevEnvFile(dataDir: string, vars: Record<string, string | undefined>): string {
  const file = path.join(dataDir, DEV_ENV_FILE);
  const lines = [
    '# Written by the signflow dev stack at each start: the settings of the running stack, for the CLI in another shell.',
    '# Use: set -a; . data/dev.env; set +a   (then e.g. npx signflow status 1)',
    ...Object.entries(vars)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([name, value]) => `${name}=${shQuote(value)}`),
    '',
  ];
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, lines.join('\n'), { mode: 0o600 });
  fs.renameSync(tmp, file);
  return file;
}
