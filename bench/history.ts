/**
 * Step timings read back from workflow histories: for every activity, how long its task waited in the queue
 * (Scheduled → Started) and how long it ran (Started → Completed, as the server saw it: worker execution plus one gRPC
 * round trip). The server writes ActivityTaskStarted with the time the worker picked the task up.
 */
import type { History } from '@temporalio/common/lib/proto-utils';

interface TimestampLike {
  seconds?: number | { toNumber(): number } | null;
  nanos?: number | null;
}

function tsMs(ts: TimestampLike | null | undefined): number {
  if (!ts) return Number.NaN;
  const s = ts.seconds;
  const seconds = typeof s === 'number' ? s : s ? s.toNumber() : 0;
  return seconds * 1000 + (ts.nanos ?? 0) / 1e6;
}

export interface StepTiming {
  /** Activity type, with the mail kind for sendContractMail (`sendContractMail (invitation)`). */
  step: string;
  queuedMs: number;
  runMs: number;
  /** Attempt that completed (1 = no retry). */
  attempt: number;
}

const idOf = (id: unknown): string => String(id);

/**
 * Activity timings of one history; the honorarvertrag workflow's two mails (no reminders in a benchmark run) are told
 * apart by order: the first is the invitation, the last the confirmation. Workflow tasks come as `(workflow task)`.
 */
export function stepTimings(history: History): StepTiming[] {
  const events = history.events ?? [];
  const scheduled = new Map<string, { name: string; at: number }>();
  const started = new Map<string, { at: number; attempt: number }>();
  const out: StepTiming[] = [];
  const mails: StepTiming[] = [];
  let wftScheduled: number | undefined;
  let wftStarted: number | undefined;
  for (const e of events) {
    const at = tsMs(e.eventTime as TimestampLike);
    if (e.activityTaskScheduledEventAttributes) {
      scheduled.set(idOf(e.eventId), { name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at });
    } else if (e.activityTaskStartedEventAttributes) {
      const a = e.activityTaskStartedEventAttributes;
      started.set(idOf(a.scheduledEventId), { at, attempt: a.attempt ?? 1 });
    } else if (e.activityTaskCompletedEventAttributes) {
      const key = idOf(e.activityTaskCompletedEventAttributes.scheduledEventId);
      const s = scheduled.get(key);
      const st = started.get(key);
      if (!s || !st) continue;
      const timing = { step: s.name, queuedMs: st.at - s.at, runMs: at - st.at, attempt: st.attempt };
      if (s.name === 'sendContractMail') mails.push(timing);
      else out.push(timing);
    } else if (e.workflowTaskScheduledEventAttributes) {
      wftScheduled = at;
    } else if (e.workflowTaskStartedEventAttributes) {
      wftStarted = at;
    } else if (e.workflowTaskCompletedEventAttributes && wftScheduled !== undefined && wftStarted !== undefined) {
      out.push({ step: '(workflow task)', queuedMs: wftStarted - wftScheduled, runMs: at - wftStarted, attempt: 1 });
      wftScheduled = wftStarted = undefined;
    }
  }
  const [invitation] = mails;
  if (invitation) out.push({ ...invitation, step: 'sendContractMail (invitation)' });
  const confirmation = mails.length > 1 ? mails[mails.length - 1] : undefined;
  if (confirmation) out.push({ ...confirmation, step: 'sendContractMail (confirmation)' });
  return out;
}
