/**
 * `npm run chaos [-- --contracts 300] [--dir <folder>] [--seed <n>]`: the chaos run (see run-chaos.ts). Prints the
 * timeline of faults and the table counted from the real systems; exits 1 on any lost, doubled or stuck contract.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { chaosTable } from './count';
import { runChaos } from './run-chaos';

const positiveInt = (v: string): number => {
  if (!/^[1-9][0-9]*$/.test(v)) throw new InvalidArgumentError('must be a positive integer');
  return Number(v);
};

async function main(): Promise<number> {
  const opts = new Command('chaos')
    .option('--contracts <n>', 'contracts to run (at least 20)', positiveInt, 300)
    .option('--dir <folder>', 'folder for the state of the run (kept afterwards)')
    .option('--seed <n>', 'seed of the random moments', positiveInt)
    .parse()
    .opts<{ contracts: number; dir?: string; seed?: number }>();
  if (opts.contracts < 20) throw new InvalidArgumentError('--contracts must be at least 20');
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-chaos-'));
  const seed = opts.seed ?? Date.now() % 1_000_000_007;
  console.log(`[chaos] ${opts.contracts} contracts, state in ${dir}, seed ${seed}`);
  const result = await runChaos({ contracts: opts.contracts, dir, seed });
  const c = result.count;
  console.log('');
  console.log(result.events.join('\n'));
  console.log('');
  console.log(chaosTable(c));
  console.log('');
  console.log(
    `${c.ok} of ${c.contracts.length} contracts complete with everything exactly once; worker killed ` +
      `${result.workerKills} times; staff activated the comfort signature ${result.staffActivations} time(s) after ` +
      `the signer's notice; ${(result.durationMs / 1000).toFixed(0)} s`
  );
  for (const [what, list] of [
    ['lost', c.lost],
    ['doubled', c.duplicated],
    ['stuck', c.stuck],
  ] as const) {
    if (list.length > 0) console.log(`${what}: contracts ${list.join(', ')}`);
  }
  if (result.explanations.length > 0) console.log(`\n${result.explanations.join('\n')}`);
  return c.ok === c.contracts.length ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[chaos] failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
);
