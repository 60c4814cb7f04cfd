/** `signflow status` shows an SMTP outage: the mail that waits, the last error and the next try. */
import { humanStatus } from '../../cli/commands/status';

test('a mail in trouble, refused and skipped mails are shown', () => {
  const text = humanStatus({
    contractId: 7,
    workflowId: 'honorarvertrag-7',
    runId: 'r',
    execution: { status: 'RUNNING', startTime: '2026-01-01T00:00:00.000Z', closeTime: null },
    searchAttributes: {},
    state: {
      contractId: 7,
      phase: 'sending',
      remindersSent: 0,
      mailTrouble: {
        mail: 'invitation',
        attempts: 3,
        lastError: 'MAIL_SEND_FAILED: sending the invitation mail failed (ECONNREFUSED); will retry',
        since: '2026-01-01T00:00:01.000Z',
        nextRetryAt: '2026-01-01T00:01:11.000Z',
      },
      mailsRejected: ['reminder:1'],
      mailsSkipped: ['reminder:2'],
    },
  });
  expect(text).toContain('invitation not sent yet (3 attempts since 2026-01-01T00:00:01.000Z)');
  expect(text).toContain('last error: MAIL_SEND_FAILED: sending the invitation mail failed (ECONNREFUSED)');
  expect(text).toContain('next try 2026-01-01T00:01:11.000Z');
  expect(text).toMatch(/mails refused:\s+reminder:1/);
  expect(text).toMatch(/mails skipped:\s+reminder:2/);
});

test('refused mails (rows of signflow_mails), an undelivered invitation and a withdrawal are shown', () => {
  const text = humanStatus({
    contractId: 8,
    workflowId: 'honorarvertrag-8',
    runId: 'r',
    execution: { status: 'RUNNING', startTime: '2026-01-01T00:00:00.000Z', closeTime: null },
    searchAttributes: {},
    state: {
      contractId: 8,
      phase: 'awaiting-signature',
      remindersSent: 0,
      mailsRejected: ['invitation'],
      invitationDelivered: false,
      withdrawalReason: 'Honorar neu verhandeln',
      withdrawalMail: 'sent',
    },
    mails: [
      { mail: 'invitation', status: 'refused', createdAt: '2026-01-01T00:00:02.000Z', sentAt: null },
      {
        mail: 'invitation:2',
        status: 'sent',
        createdAt: '2026-01-02T00:00:00.000Z',
        sentAt: '2026-01-02T00:00:01.000Z',
      },
    ],
  });
  expect(text).toMatch(/mail invitation:\s+refused \(2026-01-01T00:00:02.000Z\)/);
  expect(text).toMatch(/mail invitation:2:\s+sent 2026-01-02T00:00:01.000Z/);
  expect(text).toMatch(/invitation:\s+not delivered yet: fix the address, then `signflow resend`/);
  expect(text).toMatch(/withdrawal:\s+reason: Honorar neu verhandeln/);
  expect(text).toMatch(/withdrawal mail:\s+sent/);
  // The refusal is said once, with what to do.
  expect(text.match(/mails refused/g)).toHaveLength(1);
});

test('an invitation skipped because the contract was signed first: no resend hint, its mail row shown as skipped', () => {
  const text = humanStatus({
    contractId: 9,
    workflowId: 'honorarvertrag-9',
    runId: 'r',
    execution: { status: 'RUNNING', startTime: '2026-01-01T00:00:00.000Z', closeTime: null },
    searchAttributes: {},
    state: {
      contractId: 9,
      phase: 'confirming',
      remindersSent: 0,
      invitationDelivered: false,
      mailsSkipped: ['invitation'],
      outcome: {
        kind: 'signed',
        signatureId: 4,
        userContactId: 6,
        method: 'click',
        confirmedAt: '2026-01-01T00:00:05.000Z',
        md5Hash: '0fd9e381d301f64606ba6932ef46b0b6',
      },
    },
    mails: [{ mail: 'invitation', status: 'sending', createdAt: '2026-01-01T00:00:01.000Z', sentAt: null }],
  });
  expect(text).not.toContain('signflow resend');
  expect(text).toMatch(/mails skipped:\s+invitation/);
  expect(text).toMatch(/mail invitation:\s+skipped, not sent \(last attempt 2026-01-01T00:00:01.000Z\)/);
});
