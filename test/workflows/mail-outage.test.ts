/**
 * The one-day bound on SMTP retries (docs/ARCHITECTURE.md: "SMTP outages are retried for a day"), on the time-skipping
 * server with the real activities against an SMTP port where nothing listens: the invitation is retried with growing
 * pauses for one day of workflow time, then the contract fails with the mail's failure code, not before and not much
 * later. Workflow time comes from the server's clock, so the bound does not depend on this machine's speed.
 */
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { MailFailureType } from '../../activities/mail.activities';
import { contractHandle, startContractWorkflow } from '../../client/contract-client';
import { addSendableContract, startContractStack, type ContractStack } from '../helpers/contract-stack';
import { createTimeSkippingEnv, getFreePort } from '../../harness/temporal';

jest.setTimeout(180_000);

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** The mail activity's longest pause between attempts (workflows/honorarvertrag.workflow.ts, MAIL). */
const MAX_RETRY_INTERVAL = 30 * MINUTE;

let env: TestWorkflowEnvironment;
let stack: ContractStack;
let client: Client;

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  // A loopback port nobody listens on: every SMTP connection is refused, as during an outage of the relay.
  const deadPort = await getFreePort();
  stack = await startContractStack(env, {
    config: {
      mail: { smtpUrl: `smtp://127.0.0.1:${deadPort}` },
      signature: { remindersEnabled: false, expiry: '30d' },
    },
  });
  client = stack.client;
});

afterAll(async () => {
  await stack?.stop();
  await env?.teardown();
});

const millis = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number =>
  Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);

test('an SMTP outage is retried for one day of workflow time, then the contract fails with the mail failure', async () => {
  const contractId = await addSendableContract(stack.t);
  await startContractWorkflow(client, stack.config, contractId);
  const handle = contractHandle(client, contractId);
  // Awaiting the result lets the server skip the pauses between attempts.
  const failure = await handle.result().then(
    () => undefined,
    (err: unknown) => err
  );
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  // The contract fails with the mail's own code (the SMTP server could not be reached), not with anything else.
  const cause = (failure as WorkflowFailedError).cause;
  const code =
    cause instanceof ApplicationFailure ? cause.type : (cause?.cause as ApplicationFailure | undefined)?.type;
  expect(code).toBe(MailFailureType.MAIL_SEND_FAILED);

  const events = (await handle.fetchHistory()).events ?? [];
  const mailAttempts = events.filter(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendContractMail'
  );
  const mailIds = new Set(mailAttempts.map((e) => String(e.eventId)));
  const ofMail = (a: { scheduledEventId?: unknown } | null | undefined) => mailIds.has(String(a?.scheduledEventId));
  // Nothing but the invitation was tried, and no attempt got through.
  expect(events.filter((e) => ofMail(e.activityTaskCompletedEventAttributes))).toEqual([]);
  const firstTry = millis(mailAttempts[0]?.eventTime);
  const failed = events.filter(
    (e) => ofMail(e.activityTaskFailedEventAttributes) || ofMail(e.activityTaskTimedOutEventAttributes)
  );
  const elapsed = millis(failed.at(-1)?.eventTime) - firstTry;
  // Retried until the day was (nearly) over: it stops when the next pause would end after the day.
  expect(elapsed).toBeGreaterThan(DAY - MAX_RETRY_INTERVAL - MINUTE);
  expect(elapsed).toBeLessThanOrEqual(DAY + MINUTE);
  // And it retried all day long with growing pauses capped at 30 minutes: dozens of attempts, not one.
  const attempts = events
    .filter((e) => ofMail(e.activityTaskStartedEventAttributes))
    .reduce((n, e) => n + (e.activityTaskStartedEventAttributes?.attempt ?? 1), 0);
  expect(attempts).toBeGreaterThan(40);
  // No invitation row says `sent`.
  const rows = await stack.t.db('signflow_mails').where('contract_id', contractId);
  expect(rows.map((r: { status: string }) => r.status)).not.toContain('sent');
});
