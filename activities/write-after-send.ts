/**
 * The write that records a mail as sent, once the SMTP server has it. A failure there would make the activity's retry
 * send the mail a second time, so the write is retried inside the attempt (a database that is restarting or failing
 * over answers again within seconds) until shortly before the attempt's start-to-close deadline. Only a crash of the
 * process in that window, or an outage longer than the attempt, still leaves the mail to be sent again.
 */
import { Context } from '@temporalio/activity';

/** How long before the attempt's deadline the last try starts: room for the failure to reach the server. */
const DEADLINE_MARGIN_MS = 5_000;

/**
 * Until when to keep trying: the attempt's start-to-close deadline (counted from `attemptStartedAt`) minus the margin
 * inside an activity; 30 s from now outside one (scripts, tests calling an activity function directly).
 */
function deadlineFor(attemptStartedAt: number): number {
  try {
    const timeout = Context.current().info.startToCloseTimeoutMs;
    if (timeout > 0) return attemptStartedAt + timeout - DEADLINE_MARGIN_MS;
  } catch {
    // not inside an activity
  }
  return Date.now() + 30_000;
}

/** Runs `write` until it succeeds, pausing 0.25 s doubling to 4 s; rethrows its last error at the deadline. */
export async function writeAfterSend(write: () => Promise<unknown>, attemptStartedAt: number): Promise<void> {
  const deadline = deadlineFor(attemptStartedAt);
  for (let pause = 250; ; pause = Math.min(pause * 2, 4_000)) {
    try {
      await write();
      return;
    } catch (err) {
      if (Date.now() + pause >= deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
