/**
 * One outbox poller as its own process, for the exactly-once race test: connects, prints `ready`, waits for a line on
 * stdin (the start signal, sent to all racers at once), then claims and finishes rows in small batches until none are
 * left, and prints the ids it took as JSON on the last line of stdout.
 *
 * Usage: tsx test/outbox/claim-racer.ts <databaseUrl> <claimer>
 */
import { createDb } from '../../db/connection';
import { claimOutboxRows, finishOutboxRow } from '../../outbox/outbox-repository';

async function main(): Promise<void> {
  const [url, claimer] = process.argv.slice(2);
  if (!url || !claimer) throw new Error('usage: claim-racer <databaseUrl> <claimer>');
  const db = createDb(url, { poolMax: 2 });
  try {
    await db.raw('select 1'); // connected before the start signal
    process.stdout.write('ready\n');
    await new Promise((resolve) => process.stdin.once('data', resolve));
    process.stdin.pause();
    const mine: number[] = [];
    for (let round = 0; round < 500; round++) {
      const rows = await claimOutboxRows(db, { claimer, batchSize: 3 });
      // Losing every candidate to another racer is not the end; an empty table is.
      if (
        rows.length === 0 &&
        Number((await db('signflow_outbox').whereNull('claimed_by').count({ n: '*' }))[0]?.n) === 0
      ) {
        break;
      }
      for (const row of rows) {
        // A real command takes a moment (a Temporal call); without it the first racer to wake drains the table alone.
        await new Promise((r) => setTimeout(r, 3));
        if (await finishOutboxRow(db, row.id, claimer, { outcome: 'resent' })) mine.push(row.id);
      }
    }
    process.stdout.write(`${JSON.stringify(mine)}\n`);
  } finally {
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
