/**
 * One outbox poller as its own process, for the claim race test: connects, prints `ready`, waits for a line on stdin
 * (the start signal, sent to all racers at once), then claims and finishes rows in small batches until none are left.
 *
 * What each claim returned is what matters: a poller runs every row its claim hands it, so two racers whose claims
 * returned the same row would both run its command. After its first claim that returned rows the racer prints
 * `claimed` and waits for a second line on stdin: the test releases all racers once each holds rows, so every racer
 * takes part in the race whatever the machine's speed.
 *
 * The last line on stdout is JSON: `{ "claimed": [...ids every claim returned], "finished": [...ids it finished] }`.
 *
 * Usage: tsx test/outbox/claim-racer.ts <databaseUrl> <claimer>
 */
import { createInterface } from 'node:readline';
import { createDb } from '../../db/connection';
import { claimOutboxRows, finishOutboxRow } from '../../outbox/outbox-repository';

async function main(): Promise<void> {
  const [url, claimer] = process.argv.slice(2);
  if (!url || !claimer) throw new Error('usage: claim-racer <databaseUrl> <claimer>');
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const nextLine = async (): Promise<void> => {
    const { done } = await lines.next();
    if (done) throw new Error('stdin closed before the expected signal');
  };
  const db = createDb(url, { poolMax: 2 });
  try {
    await db.raw('select 1'); // connected before the start signal
    process.stdout.write('ready\n');
    await nextLine();
    const claimed: number[] = [];
    const finished: number[] = [];
    let released = false;
    for (let round = 0; round < 1000; round++) {
      const rows = await claimOutboxRows(db, { claimer, batchSize: 3 });
      // Every id a claim returns, also one returned again (a row held but not yet finished is returned again).
      for (const row of rows) if (!claimed.includes(row.id)) claimed.push(row.id);
      if (rows.length > 0 && !released) {
        process.stdout.write('claimed\n');
        await nextLine();
        released = true;
      }
      // Losing every candidate to another racer is not the end; an empty table is.
      if (
        rows.length === 0 &&
        Number((await db('signflow_outbox').whereNull('claimed_by').count({ n: '*' }))[0]?.n) === 0
      ) {
        break;
      }
      for (const row of rows) {
        if (await finishOutboxRow(db, row.id, claimer, { outcome: 'resent' })) finished.push(row.id);
      }
    }
    process.stdout.write(`${JSON.stringify({ claimed, finished })}\n`);
  } finally {
    await db.destroy();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  }
);
