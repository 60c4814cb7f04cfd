/**
 * The chaos count's allowance for a mail delivered again: only a `sendContractMail` attempt that was lost (its worker
 * killed, ending in a timeout) may explain a second copy. The first history is a real one from a 300-contract chaos
 * run, where the worker was killed right after the SMTP server took contract 35's invitation (an activity). The second
 * is a real one from test/workflows/local-confirmation-crash.test.ts: a contract of generation 4, whose confirmation
 * mail is a local activity, with the worker killed right after the SMTP server took the confirmation; the lost attempt
 * shows only as the workflow task that timed out before the mail's marker.
 */
import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { lostMailAttempts } from '../../chaos/lost-mail-attempts';

const FILE = path.join(__dirname, 'fixtures', 'invitation-attempt-lost.json');
const LOCAL_FILE = path.join(__dirname, 'fixtures', 'confirmation-local-attempt-lost.json');

type JsonEvent = Record<string, unknown> & { eventId: string };

function load(edit?: (json: { events: JsonEvent[] }) => void, file = FILE) {
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { events: JsonEvent[] };
  edit?.(json);
  return historyFromJSON(json).events ?? [];
}

test('an invitation attempt lost to a heartbeat timeout allows one more copy of that key, and nothing else', () => {
  expect([...lostMailAttempts(load()).entries()]).toEqual([['honorarvertrag-35:invitation', 1]]);
});

test('the same history without the lost attempt allows no second copy', () => {
  const events = load((json) => {
    for (const e of json.events) {
      const started = e.activityTaskStartedEventAttributes as Record<string, unknown> | undefined;
      if (started) {
        started.attempt = 1;
        delete started.lastFailure;
      }
    }
  });
  expect(lostMailAttempts(events).size).toBe(0);
});

test('a retry after an attempt that FAILED (an error, not a lost worker) allows no second copy', () => {
  const events = load((json) => {
    for (const e of json.events) {
      const started = e.activityTaskStartedEventAttributes as { lastFailure?: Record<string, unknown> } | undefined;
      if (started?.lastFailure) {
        delete started.lastFailure.timeoutFailureInfo;
        started.lastFailure.applicationFailureInfo = { type: 'MAIL_SEND_FAILED' };
      }
    }
  });
  expect(lostMailAttempts(events).size).toBe(0);
});

/** The local-confirmation history, edited. */
const loadLocal = (edit?: (json: { events: JsonEvent[] }) => void) => load(edit, LOCAL_FILE);
const isTimedOutTask = (e: JsonEvent) => e.workflowTaskTimedOutEventAttributes !== undefined;

test('a local confirmation attempt lost with its worker (the workflow task timed out before its marker) allows one more copy of that key, and nothing else', () => {
  expect([...lostMailAttempts(loadLocal()).entries()]).toEqual([['honorarvertrag-7:confirmation', 1]]);
});

test('the same history without the lost workflow task allows no second copy', () => {
  const events = loadLocal((json) => {
    json.events = json.events.filter((e) => !isTimedOutTask(e));
  });
  expect(lostMailAttempts(events).size).toBe(0);
});

test('a workflow task that timed out before any worker took it (schedule to start) ran no attempt', () => {
  const events = loadLocal((json) => {
    for (const e of json.events.filter(isTimedOutTask)) {
      (e.workflowTaskTimedOutEventAttributes as Record<string, unknown>).timeoutType = 'TIMEOUT_TYPE_SCHEDULE_TO_START';
    }
  });
  expect(lostMailAttempts(events).size).toBe(0);
});

test('a workflow task lost before the workflow scheduled the certificate is no attempt of the confirmation', () => {
  const events = loadLocal((json) => {
    // The same lost task, moved in front of the `sign` Update's task (whose commands come before the confirmation).
    const lost = json.events.findIndex(isTimedOutTask);
    const [timedOut] = json.events.splice(lost, 1);
    const accepted = json.events.findIndex((e) => e.workflowExecutionUpdateAcceptedEventAttributes !== undefined);
    json.events.splice(accepted - 1, 0, timedOut as JsonEvent);
  });
  expect(lostMailAttempts(events).size).toBe(0);
  // Any command of the workflow after a lost task closes the window (here the certificate's ActivityTaskScheduled,
  // with the lost task put right before it): what the workflow did next was not the confirmation's attempt.
  const beforeCertificate = loadLocal((json) => {
    const [timedOut] = json.events.splice(json.events.findIndex(isTimedOutTask), 1);
    const certificate = json.events.findIndex((e) =>
      JSON.stringify(e.activityTaskScheduledEventAttributes ?? {}).includes('createCompletionCertificate')
    );
    json.events.splice(certificate, 0, timedOut as JsonEvent);
  });
  expect(lostMailAttempts(beforeCertificate).size).toBe(0);
});

test('a local confirmation attempt that ran past its start-to-close timeout (abandoned, perhaps mid-send) allows one more copy', () => {
  const events = loadLocal((json) => {
    json.events = json.events.filter((e) => !isTimedOutTask(e));
    const marker = json.events.find((e) => {
      const m = e.markerRecordedEventAttributes as
        { details?: { data?: { payloads?: { data: string }[] } } } | undefined;
      const data = m?.details?.data?.payloads?.[0]?.data;
      return data !== undefined && Buffer.from(data, 'base64').toString('utf8').includes('"sendContractMail"');
    });
    (marker?.markerRecordedEventAttributes as Record<string, unknown>).failure = {
      message: 'activity StartToClose timeout',
      timeoutFailureInfo: { timeoutType: 'TIMEOUT_TYPE_START_TO_CLOSE' },
    };
  });
  expect([...lostMailAttempts(events).entries()]).toEqual([['honorarvertrag-7:confirmation', 1]]);
});

test('a local confirmation whose workflow task was lost three times in a row (the later attempts transient, without events of their own) allows three more copies', () => {
  const events = loadLocal((json) => {
    // As the server writes it: the sticky task's timeout (no new attempt), the first task on the normal queue and its
    // timeout, then nothing for its lost attempt 2, and the scheduled event of attempt 3, which ran the mail.
    const lost = json.events.findIndex(isTimedOutTask);
    const [scheduled, started] = json.events
      .slice(lost + 1, lost + 3)
      .map((e) => JSON.parse(JSON.stringify(e)) as JsonEvent);
    const timedOut = JSON.parse(JSON.stringify(json.events[lost])) as JsonEvent;
    json.events.splice(lost + 1, 0, scheduled as JsonEvent, started as JsonEvent, timedOut);
    (json.events[lost + 4]?.workflowTaskScheduledEventAttributes as Record<string, unknown>).attempt = 3;
    json.events.forEach((e, i) => (e.eventId = String(i + 1)));
  });
  expect([...lostMailAttempts(events).entries()]).toEqual([['honorarvertrag-7:confirmation', 3]]);
});
