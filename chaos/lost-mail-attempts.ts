/**
 * How many times a mail key may honestly be in the inbox: once, plus once for every `sendContractMail` attempt of that
 * key that was LOST (its worker killed, or the attempt cut off by its timeout). A lost attempt may have been killed
 * after the SMTP server accepted the mail and before the row said `sent`; its retry cannot know and sends the same
 * message again, with the same Message-ID (see activities/mail.activities.ts). SMTP offers no way to close that
 * window; every other extra copy is a real duplicate.
 *
 * Read from the workflow's history as the Temporal server keeps it.
 *
 * - An activity (every mail before generation 4, and the invitations, reminders and withdrawal mails after it): per
 *   scheduled `sendContractMail` its input (kind, sequence), the attempt that finally ran (`ActivityTaskStarted.attempt`)
 *   with the failure of the attempt before it (`lastFailure`), and whether the activity ended in a timeout. Only the
 *   last failure before the final attempt is in the history, so earlier lost attempts are not counted: the allowance
 *   errs on the strict side.
 * - A local activity (the confirmation mail of a contract started on generation 4 or later, its key
 *   `<requestKey or workflow id>:confirmation`): a lost attempt leaves no event of its own. The marker
 *   (`core_local_activity`) is written only by the attempt whose workflow task completed, and a worker killed while
 *   the attempt ran shows only as that workflow task timing out (start to close; or failing), after which the next
 *   task runs the attempt again. So every workflow task lost between the workflow's last command before a local mail
 *   marker (the certificate's activity, the backoff timer of the previous attempt) and that marker counts as a lost
 *   attempt of it, and so does a marker that records a timeout (the attempt ran past its start-to-close timeout and
 *   was abandoned, perhaps mid-send). A task lost several times in a row leaves one timeout (or failure) event; its
 *   further attempts are read from the attempt number of the task that finally ran. A task lost there while the workflow waited for something else (a signal's task
 *   while the certificate still ran) is counted too: that part errs on the lenient side. A task that timed out before
 *   any worker took it (schedule to start) ran nothing and is not counted.
 */
import type { temporal } from '@temporalio/proto';
import { defaultPayloadConverter } from '@temporalio/common';
import { mailKeyFor } from '../activities/mail.activities';
import type { SendMailInput } from '../activities/types';
import type { ContractWorkflowInput } from '../workflows/definitions';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The marker name core records a local activity's outcome under (bench/actions.ts has it too). */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';
/** `TIMEOUT_TYPE_START_TO_CLOSE` as the proto decodes it (a number) or as JSON spells it. */
const START_TO_CLOSE = new Set<unknown>([1, 'TIMEOUT_TYPE_START_TO_CLOSE']);

/** Per mail key: the attempts of `sendContractMail` that were lost. */
export function lostMailAttempts(events: HistoryEvent[]): Map<string, number> {
  const keyOf = new Map<string, string>();
  const lost = new Map<string, number>();
  const add = (key: string | undefined, n = 1): void => {
    if (key !== undefined && n > 0) lost.set(key, (lost.get(key) ?? 0) + n);
  };
  /** The key of the local confirmation mail, from the start's input and workflow id. */
  const confirmationKey = localConfirmationKey(events);
  /** Workflow tasks lost since the workflow's last command (see above). */
  let lostTasks = 0;
  for (const e of events) {
    const id = String(e.eventId ?? '');
    const timedOutTask = e.workflowTaskTimedOutEventAttributes;
    if (timedOutTask) {
      if (START_TO_CLOSE.has(timedOutTask.timeoutType)) lostTasks++;
      continue;
    }
    if (e.workflowTaskFailedEventAttributes) {
      lostTasks++;
      continue;
    }
    // A workflow task lost again and again is retried as a transient task: the server writes the timeout or failure
    // of its first attempt only, and the scheduled event of the attempt that finally ran, with its number. Attempts 2
    // to n-1 of that run were lost too, and ran the local mail just as the first did.
    const scheduledTask = e.workflowTaskScheduledEventAttributes;
    if (scheduledTask) {
      lostTasks += Math.max(0, (scheduledTask.attempt ?? 1) - 2);
      continue;
    }
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === LOCAL_ACTIVITY_MARKER) {
      if (localActivityType(marker) === 'sendContractMail') {
        // A timeout may come as the failure itself or as its cause (an activity failure around it).
        const timedOutAttempt = marker.failure?.timeoutFailureInfo ?? marker.failure?.cause?.timeoutFailureInfo;
        add(confirmationKey, lostTasks + (timedOutAttempt ? 1 : 0));
      }
      lostTasks = 0;
      continue;
    }
    if (isCommand(e)) lostTasks = 0;
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name === 'sendContractMail') {
      const payload = scheduled.input?.payloads?.[0];
      if (!payload) continue;
      const input = defaultPayloadConverter.fromPayload<SendMailInput>(payload);
      keyOf.set(id, mailKeyFor(input));
      continue;
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const key = keyOf.get(String(started.scheduledEventId ?? ''));
      if (key !== undefined && (started.attempt ?? 1) > 1 && started.lastFailure?.timeoutFailureInfo) add(key);
      continue;
    }
    const timedOut = e.activityTaskTimedOutEventAttributes;
    if (timedOut) add(keyOf.get(String(timedOut.scheduledEventId ?? '')));
  }
  return lost;
}

/**
 * An event the workflow's code caused (a command of a completed workflow task): each names that task. What the server
 * adds on its own (activity started or completed, signals, workflow task events) names none.
 */
function isCommand(e: HistoryEvent): boolean {
  for (const [name, value] of Object.entries(e)) {
    if (!name.endsWith('EventAttributes') || value === null || typeof value !== 'object') continue;
    const completedIn = (value as { workflowTaskCompletedEventId?: unknown }).workflowTaskCompletedEventId;
    if (completedIn !== undefined && completedIn !== null && String(completedIn) !== '0') return true;
  }
  return false;
}

/** The activity type core writes into a local activity's marker (`data`: JSON with seq, attempt, type, times). */
function localActivityType(marker: temporal.api.history.v1.IMarkerRecordedEventAttributes): string | undefined {
  const bytes = marker.details?.data?.payloads?.[0]?.data;
  if (!bytes) return undefined;
  try {
    return (JSON.parse(Buffer.from(bytes).toString('utf8')) as { activity_type?: string }).activity_type;
  } catch {
    return undefined;
  }
}

/** `<requestKey or workflow id>:confirmation`, the key the workflow gives its confirmation mail (`ref.workflowId`). */
function localConfirmationKey(events: HistoryEvent[]): string | undefined {
  const start = events[0]?.workflowExecutionStartedEventAttributes;
  if (!start) return undefined;
  let requestKey: string | undefined;
  const payload = start.input?.payloads?.[0];
  if (payload) {
    try {
      requestKey = defaultPayloadConverter.fromPayload<ContractWorkflowInput>(payload)?.requestKey;
    } catch {
      // Encoded by a codec: the workflow id is the key of every first request.
    }
  }
  const workflowId = requestKey ?? start.workflowId ?? undefined;
  return workflowId ? mailKeyFor({ workflowId, kind: 'confirmation' }) : undefined;
}
