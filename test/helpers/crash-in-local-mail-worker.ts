/**
 * A signflow worker process that dies (SIGKILL) while its local confirmation mail (generation 4 on) runs: with
 * `SIGNFLOW_CRASH_AT=after-smtp` right after the SMTP server accepted the mail and before the row says `sent` (the one
 * window in which a mail can go out twice), with `before-smtp` right before the SMTP conversation. A real worker cannot
 * be made to die at those moments on purpose; everything else is the real worker (real activities, mailer, database,
 * Temporal server). Config overrides come as JSON in `SIGNFLOW_CRASH_TEST_CONFIG`, the confirmation's mail key in
 * `SIGNFLOW_CRASH_MAIL_KEY`. Prints `polling` once it polls and
 * `crash <where> local=<bool>` just before it kills itself.
 */
import { Context } from '@temporalio/activity';
import { loadConfig } from '../../temporal.config';
import { createMailer, type Mailer } from '../../mail/mailer';
import { createWorker } from '../../worker/run-worker';

async function main(): Promise<void> {
  const config = loadConfig(JSON.parse(process.env.SIGNFLOW_CRASH_TEST_CONFIG ?? '{}') as unknown, {});
  const at = process.env.SIGNFLOW_CRASH_AT === 'before-smtp' ? 'before-smtp' : 'after-smtp';
  const real = createMailer(config.mail.smtpUrl, config.mail.from);
  const die = (): never => {
    let local = false;
    try {
      local = Context.current().info.isLocal;
    } catch {
      // not in an activity
    }
    process.stdout.write(`crash ${at} local=${String(local)}\n`);
    process.kill(process.pid, 'SIGKILL');
    throw new Error('unreachable');
  };
  const mailer: Mailer = {
    async send(msg) {
      // Only the named contract's confirmation (another contract's mail may run on this worker too).
      const confirmation = msg.headers?.['X-Signflow-Mail-Key'] === process.env.SIGNFLOW_CRASH_MAIL_KEY;
      if (confirmation && at === 'before-smtp') die();
      const sent = await real.send(msg);
      if (confirmation) die();
      return sent;
    },
    close: () => real.close(),
  };
  const running = await createWorker(config, { mailer });
  process.stdout.write('polling\n');
  await running.done;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
