/**
 * The chaos count's allowance for a mail delivered again: only a `sendContractMail` attempt that was lost (its worker
 * killed, ending in a timeout) may explain a second copy. The history is a real one from a 300-contract chaos run,
 * where the worker was killed right after the SMTP server took contract 35's invitation.
 */
import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { lostMailAttempts } from '../../chaos/lost-mail-attempts';

const FILE = path.join(__dirname, 'fixtures', 'invitation-attempt-lost.json');

function load(edit?: (json: { events: Array<Record<string, unknown>> }) => void) {
  const json = JSON.parse(fs.readFileSync(FILE, 'utf8')) as { events: Array<Record<string, unknown>> };
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
