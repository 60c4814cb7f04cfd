/**
 * Heartbeats for activities that may take a while (rendering a PDF, an SMTP conversation): with a short
 * `heartbeatTimeout` the server notices a killed worker within seconds and hands the activity to another one, instead
 * of waiting out a start-to-close timeout sized for the slowest healthy run.
 */
import { Context } from '@temporalio/activity';

/**
 * Runs `body`, heartbeating every `everyMs` until it settles. Outside an activity, or in a local one, it just runs.
 *
 * No heartbeat at the start: the heartbeat timeout already counts from the activity's start, so a worker killed before
 * the first beat is noticed just as soon, and a body that settles within `everyMs` (almost every run) sends none. Each
 * heartbeat is a call to the server that records it (a write of the workflow's mutable state there) plus the SDK's
 * pipeline in this process; one at the start of every mail and preparation was three per contract for nothing.
 */
export async function whileHeartbeating<T>(body: () => Promise<T>, everyMs = 1_000): Promise<T> {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return body();
  }
  // A local activity (the confirmation mail from generation 4 on) has no heartbeat timeout: the server never sees its
  // heartbeats, a killed worker shows as its workflow task timing out.
  if (context.info.isLocal) return body();
  const timer = setInterval(() => context.heartbeat(), everyMs);
  try {
    return await body();
  } finally {
    clearInterval(timer);
  }
}
