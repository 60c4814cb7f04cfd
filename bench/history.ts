/**
 * Step timings read back from workflow histories: for every activity, how long its task waited in the queue
 * (Scheduled → Started) and how long it ran (Started → Completed, as the server saw it: worker execution plus one gRPC
 * round trip). The server writes ActivityTaskStarted with the time the worker picked the task up. A local activity
 * has no task of its own: it comes as `<type> (local)`, queued 0, run from the start of the workflow task that ran it
 * to the completion time core wrote into its marker (the worker's clock; on one machine the server's too). The local
 * confirmation mail (generation 4 on) comes as `sendContractMail (confirmation) (local)`, the local preparation of a
 * lean contract (generation 5 on) as `loadAndPrepareSignatureRequest (local)`.
 */
import type { History } from '@temporalio/common/lib/proto-utils';
import { LOCAL_ACTIVITY_MARKER } from './actions';

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
 * apart by order: the first is the invitation, the last the confirmation. A contract of generation 4 or later sends its
 * confirmation as a local activity: the mail activity is then the invitation alone, and the local mail comes as
 * `sendContractMail (confirmation) (local)`. Workflow tasks come as `(workflow task)`.
 */
export function stepTimings(history: History): StepTiming[] {
  const events = history.events ?? [];
  const scheduled = new Map<string, { name: string; at: number }>();
  const started = new Map<string, { at: number; attempt: number }>();
  const out: StepTiming[] = [];
  const mails: StepTiming[] = [];
  let wftScheduled: number | undefined;
  let wftStarted: number | undefined;
  /** WorkflowTaskStarted time by the id of the task's WorkflowTaskCompleted (what a marker names). */
  const taskStartedAt = new Map<string, number>();
  let lastTaskStarted: number | undefined;
  /** Every WorkflowTaskStarted time, in order. */
  const taskStarts: number[] = [];
  for (const e of events) {
    const at = tsMs(e.eventTime as TimestampLike);
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === LOCAL_ACTIVITY_MARKER) {
      const data = localActivityData(marker.details?.data?.payloads?.[0]?.data);
      const completedAt = data?.complete_time ? tsMs(data.complete_time) : Number.NaN;
      // The task that ran it is the last one started before it completed: usually the task that recorded the marker,
      // but after a lost workflow task core may complete the task that ran the attempt empty and record the marker
      // in the next one (seen in the recovery of a lost local confirmation).
      const recordedIn = taskStartedAt.get(idOf(marker.workflowTaskCompletedEventId));
      const ranIn = taskStarts.filter((t) => t <= completedAt).at(-1);
      const startedAt = recordedIn !== undefined && recordedIn <= completedAt ? recordedIn : (ranIn ?? recordedIn);
      // Of the mails only the confirmation runs as a local activity (generation 4 on): its step is named for it.
      const type = data?.activity_type === 'sendContractMail' ? 'sendContractMail (confirmation)' : data?.activity_type;
      out.push({
        step: `${type ?? '?'} (local)`,
        queuedMs: 0,
        runMs: startedAt === undefined ? Number.NaN : completedAt - startedAt,
        attempt: data?.attempt ?? 1,
      });
      continue;
    }
    if (e.workflowTaskStartedEventAttributes) {
      lastTaskStarted = at;
      taskStarts.push(at);
    }
    if (e.workflowTaskCompletedEventAttributes && lastTaskStarted !== undefined) {
      taskStartedAt.set(idOf(e.eventId), lastTaskStarted);
    }
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

/** The JSON core writes as a local activity marker's `data` (seq, attempt, activity id and type, times). */
function localActivityData(
  bytes: Uint8Array | null | undefined
): { activity_type?: string; attempt?: number; complete_time?: TimestampLike } | undefined {
  if (!bytes) return undefined;
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as {
      activity_type?: string;
      attempt?: number;
      complete_time?: TimestampLike;
    };
  } catch {
    return undefined;
  }
}
