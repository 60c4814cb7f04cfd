/**
 * How many times a mail key may honestly be in the inbox: once, plus once for every `sendContractMail` attempt of that
 * key that was LOST (its worker killed, so the attempt ended in a heartbeat or start-to-close timeout). A lost attempt
 * may have been killed after the SMTP server accepted the mail and before the row said `sent`; its retry cannot know
 * and sends the same message again, with the same Message-ID (see activities/mail.activities.ts). SMTP offers no way
 * to close that window; every other extra copy is a real duplicate.
 *
 * Read from the workflow's history as the Temporal server keeps it: per scheduled `sendContractMail` its input (kind,
 * sequence), the attempt that finally ran (`ActivityTaskStarted.attempt`) with the failure of the attempt before it
 * (`lastFailure`), and whether the activity ended in a timeout. Only the last failure before the final attempt is in
 * the history, so earlier lost attempts are not counted: the allowance errs on the strict side.
 */
import type { temporal } from '@temporalio/proto';
import { defaultPayloadConverter } from '@temporalio/common';
import { mailKeyFor } from '../activities/mail.activities';
import type { SendMailInput } from '../activities/types';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Per mail key: the attempts of `sendContractMail` that were lost (ended in a timeout). */
export function lostMailAttempts(events: HistoryEvent[]): Map<string, number> {
  const keyOf = new Map<string, string>();
  const lost = new Map<string, number>();
  const add = (key: string | undefined): void => {
    if (key !== undefined) lost.set(key, (lost.get(key) ?? 0) + 1);
  };
  for (const e of events) {
    const id = String(e.eventId ?? '');
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
