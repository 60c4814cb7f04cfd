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
