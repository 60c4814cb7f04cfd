/**
 * Heartbeats for activities that may take a while (rendering a PDF, an SMTP conversation): with a short
 * `heartbeatTimeout` the server notices a killed worker within seconds and hands the activity to another one, instead
 * of waiting out a start-to-close timeout sized for the slowest healthy run.
 */
import { Context } from '@temporalio/activity';

/** Runs `body`, heartbeating at once and then every `everyMs` until it settles. Outside an activity it just runs. */
export async function whileHeartbeating<T>(body: () => Promise<T>, everyMs = 1_000): Promise<T> {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return body();
  }
  context.heartbeat();
  const timer = setInterval(() => context.heartbeat(), everyMs);
  try {
    return await body();
  } finally {
    clearInterval(timer);
  }
}
