/**
 * The contract workflow on the time-skipping test server with the real activities (SQLite, SMTP on loopback): days of
 * reminders and expiry pass in seconds. Updates are awaited without time skipping, which is fine here because the
 * recording activities run in real time.
 */
import { WorkflowFailedError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { PNG } from 'pngjs';
import type { CapturedMail } from '../../mail/dev-inbox';
import { contractHandle, contractStatus, startContractWorkflow } from '../../client/contract-client';
import {
  contractWorkflowId,
  SA_CONTRACT_STATUS,
  SA_CRM_CONTRACT_ID,
  SA_SIGNATURE_STATUS,
  SA_WAITING_REASON,
  type SignatureOutcome,
} from '../../workflows/definitions';
import { addSendableContract, startContractStack, type ContractStack } from '../helpers/contract-stack';
import { createTimeSkippingEnv } from '../../harness/temporal';
import { recordHistory } from '../helpers/histories';
import { eventually, settledResult } from '../helpers/waits';

jest.setTimeout(120_000);

const HOUR = 60 * 60 * 1000;

let env: TestWorkflowEnvironment;
let stack: ContractStack;
let client: Client;
/** Addresses the SMTP inbox defers with 451 (an outage for them) while they are in this set. */
const deferred = new Set<string>();

/** Each test takes its own fresh contract so the tests do not depend on each other's order. */
const takeContract = (): Promise<number> => addSendableContract(stack.t);

const mailKey = (m: CapturedMail): string => m.headers['x-signflow-mail-key'] ?? '';
const mailsFor = (contractId: number): string[] =>
  stack.inbox
    .messages()
    .map(mailKey)
    .filter((k) => k.startsWith(`${contractWorkflowId(contractId)}:`))
    .sort();

async function waitForInvitation(contractId: number): Promise<CapturedMail> {
  const mail = await stack.waitForMail((m) => mailKey(m) === `${contractWorkflowId(contractId)}:invitation`);
  await eventually(async () => expect((await contractStatus(client, contractId)).phase).toBe('awaiting-signature'));
  return mail;
}

function whitePngBase64(width = 120, height = 40): string {
  const png = new PNG({ width, height });
  png.data.fill(255);
  return PNG.sync.write(png).toString('base64');
}

async function signatureRow(signatureId: number): Promise<Record<string, unknown>> {
  return (await stack.t.db('unterschriften').where('id', signatureId).first()) as Record<string, unknown>;
}

async function contractRow(contractId: number): Promise<Record<string, unknown>> {
  return (await stack.t.db('honorarvertraege').where('id', contractId).first()) as Record<string, unknown>;
}

/** The ApplicationFailure type behind an Update rejection (validator or activity). */
async function updateFailureType(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure)
      return err.cause.type ?? undefined;
    throw err;
  }
  throw new Error('expected the update to be rejected');
}

const timing = {
  signature: { remindersEnabled: true, reminderDelay: '2h', reminderInterval: '1h', reminderMax: 2, expiry: '24h' },
};

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  stack = await startContractStack(env, {
    config: timing,
    rejectRecipient: (a) => a.startsWith('bounce.'),
    deferRecipient: (a) => deferred.has(a),
  });
  client = stack.client;
});

afterAll(async () => {
  await stack?.stop();
  await env?.teardown();
});

describe('honorarvertrag workflow (time-skipping server, real activities)', () => {
  test('happy path by click: invitation, sign, rows as the seed says, confirmation mail', async () => {
    const contractId = await takeContract();
    const { workflowId } = await startContractWorkflow(client, stack.config, contractId);
    expect(workflowId).toBe(`honorarvertrag-${contractId}`);
    const invitation = await waitForInvitation(contractId);
    const state = await contractStatus(client, contractId);
    expect(state.phase).toBe('awaiting-signature');
    expect(invitation.text).toContain(`/portal/dokumente/${state.documentId}`);

    const handle = contractHandle(client, contractId);
    const outcome: SignatureOutcome = await handle.executeUpdate('sign', {
      args: [{ contactId: state.contactId, method: 'click' }],
    });
    expect(outcome).toMatchObject({ kind: 'signed', method: 'click', userContactId: state.contactId });
    const result = await settledResult(client, contractId);
    expect(result).toMatchObject({ contractId, outcome: 'signed', remindersSent: 0 });

    const sig = await signatureRow(result.signatureId);
    expect(sig.status).toBe('gültig');
    expect(Boolean(sig.unterschrift_per_authentifiziertem_klick)).toBe(true);
    expect(Number(sig.benutzer_id)).toBe(state.contactId);
    expect(sig.md5_hash).toBe(outcome.md5Hash);
    expect(sig.unterschriftenbild ?? null).toBeNull();
    const contract = await contractRow(contractId);
    expect(contract.status).toBe('in Durchführung');
    expect(Boolean(contract.bestaetigt_durch_honorarkraft)).toBe(true);
    expect(Number(contract.bestaetigt_durch)).toBe(state.contactId);
    expect(new Date(contract.bestaetigt_am as string).toISOString()).toBe(outcome.confirmedAt);

    await stack.waitForMail((m) => mailKey(m) === `${workflowId}:confirmation`);
    expect(mailsFor(contractId)).toEqual([`${workflowId}:confirmation`, `${workflowId}:invitation`]);
  });

  test('the lean path: steps 1 and 2 in one activity, no webhook activity when no endpoint listens, one patch marker', async () => {
    // This stack configures no webhook endpoint, so no event of the contract may start a delivery.
    expect(stack.config.webhooks.endpoints).toEqual([]);
    const contractId = await takeContract();
    const { workflowId } = await startContractWorkflow(client, stack.config, contractId);
    await waitForInvitation(contractId);
    const state = await contractStatus(client, contractId);
    const handle = contractHandle(client, contractId);
    // Waiting for the signature, the search attributes say so: given with the start, not upserted after the invitation.
    expect((await handle.describe()).searchAttributes).toMatchObject({
      CrmContractId: [contractId],
      ContractStatus: ['versendet'],
      SignatureStatus: ['ausstehend'],
      WaitingReason: ['signature'],
    });
    await handle.executeUpdate('sign', { args: [{ contactId: state.contactId, method: 'click' }] });
    const result = await settledResult(client, contractId);
    expect(result).toMatchObject({ contractId, outcome: 'signed' });

    const events = (await handle.fetchHistory()).events ?? [];
    const activities = events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    expect(activities).toEqual([
      'loadAndPrepareSignatureRequest',
      'sendContractMail',
      'recordSignature',
      'createCompletionCertificate',
      'sendContractMail',
    ]);
    const patches = events.flatMap((e) =>
      e.markerRecordedEventAttributes ? [e.markerRecordedEventAttributes.markerName ?? '?'] : []
    );
    expect(patches).toHaveLength(1);
    // Upserts: the SDK's TemporalChangeVersion one for the patch marker, and the status at the signature; none after
    // the invitation (its values came with the start).
    const upserts = events.flatMap((e) =>
      e.upsertWorkflowSearchAttributesEventAttributes
        ? [Object.keys(e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes?.indexedFields ?? {}).sort()]
        : []
    );
    expect(upserts).toEqual([['TemporalChangeVersion'], ['ContractStatus', 'SignatureStatus', 'WaitingReason']]);
    // The search attributes end as before.
    const sa = (await handle.describe()).searchAttributes;
    expect(sa).toMatchObject({
      ContractStatus: ['in Durchführung'],
      SignatureStatus: ['gültig'],
      WaitingReason: ['none'],
    });
    await stack.waitForMail((m) => mailKey(m) === `${workflowId}:confirmation`);
    expect(mailsFor(contractId)).toEqual([`${workflowId}:confirmation`, `${workflowId}:invitation`]);
    await recordHistory(handle, 'lean-click-signed.after-search-attributes-from-start');
  });

  test('happy path by drawn image: an all-white PNG is accepted and stored', async () => {
    const contractId = await takeContract();
    await startContractWorkflow(client, stack.config, contractId);
    await waitForInvitation(contractId);
    const state = await contractStatus(client, contractId);
    const handle = contractHandle(client, contractId);
    const outcome: SignatureOutcome = await handle.executeUpdate('sign', {
      args: [{ contactId: state.contactId, method: 'drawn', imagePngBase64: whitePngBase64() }],
    });
    expect(outcome.method).toBe('drawn');
    const result = await settledResult(client, contractId);
    const sig = await signatureRow(result.signatureId);
    expect(sig.status).toBe('gültig');
    expect(Boolean(sig.unterschrift_per_authentifiziertem_klick)).toBe(false);
    const image = await stack.t.db('dokumente').where('id', Number(sig.unterschriftenbild)).first();
    expect(image.mime_type).toBe('image/png');
    expect(Buffer.from(image.inhalt).toString('base64')).toBe(whitePngBase64());
  });

  test('staff confirmation: staff contact as user and confirmed-by, authenticated click yes, gültig', async () => {
    const contractId = await takeContract();
    const staff = stack.t.seed.staffContactId;
    await startContractWorkflow(client, stack.config, contractId);
    await waitForInvitation(contractId);
    const handle = contractHandle(client, contractId);
    const outcome: SignatureOutcome = await handle.executeUpdate('confirmManually', {
      args: [{ staffContactId: staff }],
    });
    expect(outcome).toMatchObject({ kind: 'confirmed', method: 'staff', userContactId: staff });
    const result = await settledResult(client, contractId);
    expect(result.outcome).toBe('confirmed');
    const sig = await signatureRow(result.signatureId);
    expect(sig.status).toBe('gültig');
    expect(Boolean(sig.unterschrift_per_authentifiziertem_klick)).toBe(true);
    expect(Number(sig.benutzer_id)).toBe(staff);
    const contract = await contractRow(contractId);
    expect(contract.status).toBe('in Durchführung');
    expect(Number(contract.bestaetigt_durch)).toBe(staff);
  });

  test('reminders fire on schedule, stop at the cap, then the request expires', async () => {
    const contractId = await takeContract();
    const { workflowId } = await startContractWorkflow(client, stack.config, contractId);
    await waitForInvitation(contractId);
    const start = await env.currentTimeMs();

    await env.sleep(HOUR); // 1 h: before the first reminder (due at 2 h)
    expect((await contractStatus(client, contractId)).remindersSent).toBe(0);

    await env.sleep(1.5 * HOUR); // 2.5 h: first reminder
    await stack.waitForMail((m) => mailKey(m) === `${workflowId}:reminder:1`);
    // Recorded only when the mail activity has completed: no time is skipped while it runs.
    const afterFirst = await eventually(async () => {
      const s = await contractStatus(client, contractId);
      expect(s.remindersSent).toBe(1);
      return s;
    });
    expect(Date.parse(afterFirst.nextReminderAt ?? '') - start).toBeGreaterThanOrEqual(3 * HOUR - 60_000);

    await env.sleep(HOUR); // 3.5 h: second reminder, the cap
    await stack.waitForMail((m) => mailKey(m) === `${workflowId}:reminder:2`);
    await eventually(async () => expect((await contractStatus(client, contractId)).remindersSent).toBe(2));

    await env.sleep(21 * HOUR); // 24.5 h: past expiry, no third reminder
    const result = await settledResult(client, contractId);
    expect(result).toMatchObject({ outcome: 'expired', remindersSent: 2 });
    expect((await env.currentTimeMs()) - start).toBeGreaterThanOrEqual(24 * HOUR - 60_000);
    expect(mailsFor(contractId)).toEqual([
      `${workflowId}:invitation`,
      `${workflowId}:reminder:1`,
      `${workflowId}:reminder:2`,
    ]);
    expect((await signatureRow(result.signatureId)).status).toBe('abgelaufen');
    // Expiry voids the signature only; the contract stays as it was sent.
    expect((await contractRow(contractId)).status).toBe('versendet');
    await recordHistory(contractHandle(client, contractId), 'expired-with-reminders');
  });

  test('withdraw voids the signature and changes nothing else', async () => {
    const contractId = await takeContract();
    await startContractWorkflow(client, stack.config, contractId);
    await waitForInvitation(contractId);
    const before = await contractRow(contractId);
    const handle = contractHandle(client, contractId);
    await handle.signal('withdraw', { staffContactId: stack.t.seed.staffContactId });
    const result = await settledResult(client, contractId);
    expect(result.outcome).toBe('withdrawn');
    expect((await signatureRow(result.signatureId)).status).toBe('zurückgezogen');
    expect(await contractRow(contractId)).toEqual(before);
  });

  test('wrong signer is rejected by the validator; the right one can still sign', async () => {
    const contractId = await takeContract();
    await startContractWorkflow(client, stack.config, contractId);
    await waitForInvitation(contractId);
    const state = await contractStatus(client, contractId);
    const handle = contractHandle(client, contractId);
    const stranger = stack.t.seed.staffContactId;
    expect(stranger).not.toBe(state.contactId);
    expect(
      await updateFailureType(handle.executeUpdate('sign', { args: [{ contactId: stranger, method: 'click' }] }))
    ).toBe('WRONG_SIGNER');
    expect((await signatureRow(state.signatureId as number)).status).toBe('ausstehend');
    expect(
      await updateFailureType(
        handle.executeUpdate('sign', {
          args: [{ contactId: state.contactId, method: 'drawn', imagePngBase64: 'bm9wZQ==' }],
        })
      )
    ).toBe('INVALID_SIGNATURE_INPUT');
    await handle.executeUpdate('sign', { args: [{ contactId: state.contactId, method: 'click' }] });
    expect((await settledResult(client, contractId)).outcome).toBe('signed');
  });

  test('a second signature is rejected: exactly one of two concurrent signs wins', async () => {
    const contractId = await takeContract();
    await startContractWorkflow(client, stack.config, contractId);
    await waitForInvitation(contractId);
    const state = await contractStatus(client, contractId);
    const handle = contractHandle(client, contractId);
    const sign = () => handle.executeUpdate('sign', { args: [{ contactId: state.contactId, method: 'click' }] });
    const settled = await Promise.allSettled([sign(), sign()]);
    const won = settled.filter((s) => s.status === 'fulfilled');
    const lost = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const reason = lost[0]?.reason as WorkflowUpdateFailedError;
    expect(reason).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((reason.cause as ApplicationFailure).type).toBe('SIGNATURE_ALREADY_CONFIRMED');
    const result = await settledResult(client, contractId);
    const sig = await signatureRow(result.signatureId);
    expect(sig.md5_hash).toBe((won[0] as PromiseFulfilledResult<SignatureOutcome>).value.md5Hash);
    expect(await stack.t.db('unterschriften').where('verknuepftes_objekt_id', contractId).count({ n: '*' })).toEqual([
      { n: 1 },
    ]);
  });

  test('a duplicate start joins the running workflow', async () => {
    const contractId = await takeContract();
    const first = await startContractWorkflow(client, stack.config, contractId);
    const second = await startContractWorkflow(client, stack.config, contractId);
    expect(second.runId).toBe(first.runId);
    await waitForInvitation(contractId);
    const handle = contractHandle(client, contractId);
    await handle.signal('withdraw', { reason: 'Honorar wird neu verhandelt' });
    await settledResult(client, contractId);
    // The contact got the invitation, so they hear that it is void: one withdrawal mail.
    const withdrawn = await stack.waitForMail((m) => mailKey(m) === `${contractWorkflowId(contractId)}:withdrawal`);
    expect(withdrawn.subject).toContain('Zurückgezogen');
    expect(mailsFor(contractId)).toEqual([
      `${contractWorkflowId(contractId)}:invitation`,
      `${contractWorkflowId(contractId)}:withdrawal`,
    ]);
    expect((await contractStatus(client, contractId)).withdrawalMail).toBe('sent');
    // The reason is where the CRM reads it: the audit row of the withdrawal.
    const audit = await stack.t
      .db('signflow_audit_events')
      .where({ contract_id: contractId, event: 'signature-withdrawn' })
      .first('detail');
    expect(JSON.parse(String(audit.detail))).toMatchObject({ reason: 'Honorar wird neu verhandelt' });
    await recordHistory(handle, 'withdrawn-with-reason-and-mail');
  });

  test('resend sends one extra reminder per request: three requests, three reminders, numbered', async () => {
    const contractId = await takeContract();
    const { workflowId } = await startContractWorkflow(client, stack.config, contractId);
    await waitForInvitation(contractId);
    const handle = contractHandle(client, contractId);
    // Each request after the previous reminder went out (requests delivered together are merged into one reminder).
    for (const n of [1, 2, 3]) {
      await handle.signal('resend');
      await stack.waitForMail((m) => mailKey(m) === `${workflowId}:reminder:${n}`);
      await eventually(async () => expect((await contractStatus(client, contractId)).remindersSent).toBe(n));
    }
    await handle.signal('withdraw');
    const result = await settledResult(client, contractId);
    expect(result.remindersSent).toBe(3);
    await stack.waitForMail((m) => mailKey(m) === `${workflowId}:withdrawal`);
    expect(mailsFor(contractId)).toEqual([
      `${workflowId}:invitation`,
      `${workflowId}:reminder:1`,
      `${workflowId}:reminder:2`,
      `${workflowId}:reminder:3`,
      `${workflowId}:withdrawal`,
    ]);
    await recordHistory(handle, 'resend-then-withdrawn');
  });

  test('a withdrawal racing a signature: exactly one of them takes effect', async () => {
    const contractId = await takeContract();
    await startContractWorkflow(client, stack.config, contractId);
    await waitForInvitation(contractId);
    const state = await contractStatus(client, contractId);
    const handle = contractHandle(client, contractId);
    const [signed] = await Promise.allSettled([
      handle.executeUpdate('sign', { args: [{ contactId: state.contactId, method: 'click' }] }),
      handle.signal('withdraw', { staffContactId: stack.t.seed.staffContactId }),
    ]);
    const result = await settledResult(client, contractId);
    const sig = await signatureRow(result.signatureId);
    if (signed.status === 'fulfilled') {
      expect(result.outcome).toBe('signed');
      expect(sig.status).toBe('gültig');
    } else {
      expect(result.outcome).toBe('withdrawn');
      expect(sig.status).toBe('zurückgezogen');
    }
    await recordHistory(handle, 'withdraw-races-signature');
  });

  test('invalid input fails the workflow with a named, non-retryable error and writes nothing', async () => {
    const seed = stack.t.seed;
    const cases: Array<[number, string]> = [
      [987654, 'CONTRACT_NOT_FOUND'],
      [seed.invalidEmailContractId, 'CONTACT_EMAIL_INVALID'],
      [seed.inProgressContractId, 'CONTRACT_NOT_SENDABLE'],
    ];
    const ids = cases.map(([id]) => id);
    const countRows = async () =>
      Promise.all([
        stack.t.db('dokumente').whereIn('verknuepftes_objekt_id', ids).count({ n: '*' }),
        stack.t.db('unterschriften').whereIn('verknuepftes_objekt_id', ids).count({ n: '*' }),
        stack.t.db('signflow_requests').whereIn('contract_id', ids).count({ n: '*' }),
        stack.t.db('signflow_mails').whereIn('contract_id', ids).count({ n: '*' }),
        stack.t.db('honorarvertraege').whereIn('id', ids).orderBy('id'),
      ]);
    const before = await countRows();
    for (const [contractId, code] of cases) {
      await startContractWorkflow(client, stack.config, contractId);
      await eventually(async () =>
        expect((await contractHandle(client, contractId).describe()).status.name).toBe('FAILED')
      );
      const err = await contractHandle(client, contractId)
        .result()
        .then(
          () => undefined,
          (e: unknown) => e
        );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe(code);
      expect(cause.nonRetryable).toBe(true);
      // The waiting status the start gave never came true: it is taken back.
      const sa = (await contractHandle(client, contractId).describe()).typedSearchAttributes;
      expect(sa.get(SA_CRM_CONTRACT_ID)).toBe(contractId);
      expect(sa.get(SA_WAITING_REASON)).toBe('none');
      expect(sa.get(SA_CONTRACT_STATUS) ?? null).toBeNull();
      expect(sa.get(SA_SIGNATURE_STATUS) ?? null).toBeNull();
    }
    expect(await countRows()).toEqual(before);
  });
});

describe('a mail the recipient server refuses (550)', () => {
  test('does not fail the contract: it is recorded, and after the address is fixed resend sends the invitation again', async () => {
    const [contactId] = await stack.t
      .db('kontakte')
      .insert({ vorname: 'Bea', nachname: 'Bounce', email: 'bounce.bea@example.org' }, ['id'])
      .then((rows: Array<number | { id: number }>) => rows.map((r) => (typeof r === 'number' ? r : r.id)));
    const contractId = await addSendableContract(stack.t, contactId);
    const { workflowId } = await startContractWorkflow(client, stack.config, contractId);
    const refused = await eventually(async () => {
      const s = await contractStatus(client, contractId);
      expect(s.phase).toBe('awaiting-signature');
      return s;
    });
    expect(refused.mailsRejected).toEqual(['invitation']);
    expect(refused.invitationDelivered).toBe(false);
    expect(mailsFor(contractId)).toEqual([]);
    // The refused mail has its row, for the CRM and `signflow status`.
    const rows = () =>
      stack.t.db('signflow_mails').where('contract_id', contractId).orderBy('id').select('mail_key', 'status');
    expect(await rows()).toEqual([{ mail_key: `${workflowId}:invitation`, status: 'refused' }]);

    // Resend after the address is fixed: the invitation again (its own key), not "1. Erinnerung".
    await stack.t.db('kontakte').where('id', contactId).update({ email: 'bea.fixed@example.org' });
    await contractHandle(client, contractId).signal('resend');
    const invitation = await stack.waitForMail((m) => mailKey(m) === `${workflowId}:invitation:2`);
    expect(invitation.to).toEqual(['bea.fixed@example.org']);
    expect(invitation.subject).toContain('Bitte unterzeichnen');
    expect(invitation.text).not.toContain('Erinnerung');
    await eventually(async () => expect((await contractStatus(client, contractId)).invitationDelivered).toBe(true));
    // Once the invitation arrived, a resend is a reminder, numbered from 1.
    await contractHandle(client, contractId).signal('resend');
    const reminder = await stack.waitForMail((m) => mailKey(m) === `${workflowId}:reminder:1`);
    expect(reminder.text).toContain('1. Erinnerung');
    await contractHandle(client, contractId).executeUpdate('sign', { args: [{ contactId, method: 'click' }] });
    expect((await settledResult(client, contractId)).outcome).toBe('signed');
    await stack.waitForMail((m) => mailKey(m) === `${workflowId}:confirmation`);
    expect(mailsFor(contractId)).toEqual([
      `${workflowId}:confirmation`,
      `${workflowId}:invitation:2`,
      `${workflowId}:reminder:1`,
    ]);
    expect(await rows()).toEqual([
      { mail_key: `${workflowId}:invitation`, status: 'refused' },
      { mail_key: `${workflowId}:invitation:2`, status: 'sent' },
      { mail_key: `${workflowId}:reminder:1`, status: 'sent' },
      { mail_key: `${workflowId}:confirmation`, status: 'sent' },
    ]);
    await recordHistory(contractHandle(client, contractId), 'invitation-refused-then-resent');
  });
});

async function addContact(email: string): Promise<number> {
  const rows: Array<number | { id: number }> = await stack.t
    .db('kontakte')
    .insert({ vorname: 'Olga', nachname: 'Outage', email }, ['id']);
  const first = rows[0] as number | { id: number };
  return typeof first === 'number' ? first : first.id;
}

/** The workflow's failure type once it has failed. */
async function failureOf(contractId: number): Promise<ApplicationFailure> {
  await eventually(async () =>
    expect((await contractHandle(client, contractId).describe()).status.name).toBe('FAILED')
  );
  const err = await contractHandle(client, contractId)
    .result()
    .then(
      () => undefined,
      (e: unknown) => e
    );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return (err as WorkflowFailedError).cause as ApplicationFailure;
}

/**
 * An invitation dropped between attempts: its row says `skipped` (not the `sending` of its failed attempt) and the
 * audit trail has one `mail-skipped` for it.
 */
async function expectSkippedRecorded(workflowId: string): Promise<void> {
  const db = stack.t.db;
  expect(await db('signflow_mails').where('workflow_id', workflowId).select('mail_key', 'status')).toContainEqual({
    mail_key: `${workflowId}:invitation`,
    status: 'skipped',
  });
  const audit = (await db('signflow_audit_events')
    .where({ workflow_id: workflowId, event: 'mail-skipped' })
    .select('detail')) as Array<{ detail: string }>;
  expect(audit.map((a) => (JSON.parse(a.detail) as { mailKey: string }).mailKey)).toEqual([`${workflowId}:invitation`]);
}

describe('an SMTP outage', () => {
  test('shows the last error and the next try; an invitation no longer true after a signature is skipped', async () => {
    const email = 'olga.signed@example.org';
    deferred.add(email);
    const contactId = await addContact(email);
    const contractId = await addSendableContract(stack.t, contactId);
    const { workflowId } = await startContractWorkflow(client, stack.config, contractId);
    const troubled = await eventually(async () => {
      const s = await contractStatus(client, contractId);
      expect(s.mailTrouble?.mail).toBe('invitation');
      return s;
    });
    expect(troubled.phase).toBe('sending');
    // Not waiting for a signature while the invitation waits for its next try (the start said so; corrected).
    expect((await contractHandle(client, contractId).describe()).searchAttributes).toMatchObject({
      ContractStatus: ['versendet'],
      SignatureStatus: ['ausstehend'],
      WaitingReason: ['none'],
    });
    expect(troubled.mailTrouble?.lastError).toContain('MAIL_SEND_FAILED');
    expect(troubled.mailTrouble?.lastError).toContain('451');
    expect(Date.parse(troubled.mailTrouble?.nextRetryAt ?? '')).toBeGreaterThan(
      Date.parse(troubled.mailTrouble?.since ?? '')
    );

    // Signed from the portal while the invitation still waits for the server: the invitation is no longer true.
    await contractHandle(client, contractId).executeUpdate('sign', { args: [{ contactId, method: 'click' }] });
    const confirming = await eventually(async () => {
      const s = await contractStatus(client, contractId);
      expect(s.mailTrouble?.mail).toBe('confirmation');
      return s;
    });
    expect(confirming.phase).toBe('confirming');
    expect(confirming.mailsSkipped).toEqual(['invitation']);

    deferred.delete(email);
    await env.sleep(60_000);
    expect((await settledResult(client, contractId)).outcome).toBe('signed');
    expect((await contractStatus(client, contractId)).mailTrouble).toBeUndefined();
    expect(mailsFor(contractId)).toEqual([`${workflowId}:confirmation`]);
    await expectSkippedRecorded(workflowId);
    await recordHistory(
      contractHandle(client, contractId),
      'outage-invitation-skipped-after-signature.after-mail-skip-recorded'
    );
  });

  test('a withdrawal during the outage stops the invitation for good', async () => {
    const email = 'olga.withdrawn@example.org';
    deferred.add(email);
    const contactId = await addContact(email);
    const contractId = await addSendableContract(stack.t, contactId);
    await startContractWorkflow(client, stack.config, contractId);
    await eventually(async () =>
      expect((await contractStatus(client, contractId)).mailTrouble?.mail).toBe('invitation')
    );
    const { workflowId } = await contractHandle(client, contractId).describe();
    await contractHandle(client, contractId).signal('withdraw', { staffContactId: stack.t.seed.staffContactId });
    const result = await settledResult(client, contractId);
    expect(result.outcome).toBe('withdrawn');
    expect((await contractStatus(client, contractId)).mailsSkipped).toEqual(['invitation']);
    await expectSkippedRecorded(workflowId);
    deferred.delete(email);
    await env.sleep(60_000);
    expect(mailsFor(contractId)).toEqual([]);
    expect((await signatureRow(result.signatureId)).status).toBe('zurückgezogen');
  });

  test('a failure after the request was written undoes it; the fixed contract starts again', async () => {
    const email = 'olga.broken@example.org';
    deferred.add(email);
    const contactId = await addContact(email);
    const contractId = await addSendableContract(stack.t, contactId);
    const before = await contractRow(contractId);
    await startContractWorkflow(client, stack.config, contractId);
    const troubled = await eventually(async () => {
      const s = await contractStatus(client, contractId);
      expect(s.mailTrouble?.mail).toBe('invitation');
      return s;
    });
    expect((await contractRow(contractId)).status).toBe('versendet');
    // The CRM breaks the address meanwhile: the next attempt fails for good (CONTACT_EMAIL_INVALID).
    await stack.t.db('kontakte').where('id', contactId).update({ email: 'kaputt' });
    await env.sleep(60_000);
    expect((await failureOf(contractId)).type).toBe('CONTACT_EMAIL_INVALID');
    expect((await signatureRow(troubled.signatureId as number)).status).toBe('zurückgezogen');
    const after = await contractRow(contractId);
    expect(after.status).toBe(before.status);
    expect(await stack.t.db('signflow_requests').where('contract_id', contractId).count({ n: '*' })).toEqual([
      { n: 0 },
    ]);
    expect((await contractStatus(client, contractId)).phase).toBe('reverted');
    await recordHistory(contractHandle(client, contractId), 'revert-on-failure');

    await stack.t.db('kontakte').where('id', contactId).update({ email: 'olga.fixed@example.org' });
    deferred.delete(email);
    const { workflowId } = await startContractWorkflow(client, stack.config, contractId);
    await waitForInvitation(contractId);
    const state = await contractStatus(client, contractId);
    expect(state.signatureId).not.toBe(troubled.signatureId);
    await contractHandle(client, contractId).executeUpdate('sign', { args: [{ contactId, method: 'click' }] });
    expect((await settledResult(client, contractId)).outcome).toBe('signed');
    expect(mailsFor(contractId)).toEqual([`${workflowId}:confirmation`, `${workflowId}:invitation`]);
  });
});

describe('a contract whose mail cannot be rendered', () => {
  test('an empty title fails before the first write; after the fix it starts', async () => {
    const contractId = await takeContract();
    await stack.t.db('honorarvertraege').where('id', contractId).update({ titel: '' });
    const before = await contractRow(contractId);
    await startContractWorkflow(client, stack.config, contractId);
    expect((await failureOf(contractId)).type).toBe('TEMPLATE_VALUE_MISSING');
    expect(await contractRow(contractId)).toEqual(before);
    for (const table of ['dokumente', 'unterschriften']) {
      expect(await stack.t.db(table).where('verknuepftes_objekt_id', contractId).count({ n: '*' })).toEqual([{ n: 0 }]);
    }
    expect(await stack.t.db('signflow_requests').where('contract_id', contractId).count({ n: '*' })).toEqual([
      { n: 0 },
    ]);

    await stack.t.db('honorarvertraege').where('id', contractId).update({ titel: 'Honorarvertrag repariert' });
    await startContractWorkflow(client, stack.config, contractId);
    await waitForInvitation(contractId);
    await contractHandle(client, contractId).signal('withdraw');
    expect((await settledResult(client, contractId)).outcome).toBe('withdrawn');
  });
});

describe('starting again', () => {
  test('a failed start can be repeated once the CRM is fixed, as a new run', async () => {
    const contractId = await addSendableContract(stack.t, stack.t.seed.invalidEmailContactId);
    const first = await startContractWorkflow(client, stack.config, contractId);
    await eventually(async () =>
      expect((await contractHandle(client, contractId).describe()).status.name).toBe('FAILED')
    );
    await expect(contractHandle(client, contractId).result()).rejects.toBeInstanceOf(WorkflowFailedError);
    await stack.t
      .db('kontakte')
      .where('id', stack.t.seed.invalidEmailContactId)
      .update({ email: 'max.fixed@example.org' });
    const second = await startContractWorkflow(client, stack.config, contractId);
    expect(second.runId).not.toBe(first.runId);
    await waitForInvitation(contractId);
    await contractHandle(client, contractId).signal('withdraw');
    expect((await settledResult(client, contractId)).outcome).toBe('withdrawn');
    // Whether an ended request may be followed by a new one (after withdrawn or expired: yes, once the CRM makes the
    // contract sendable again; after a signature: never) is the command layer's decision (commands/start-policy.ts),
    // tested through the doors in test/api/api-flow.test.ts and test/commands/cross-door.test.ts.
  });
});

describe('honorarvertrag workflow with reminders switched off', () => {
  let off: ContractStack;
  beforeAll(async () => {
    off = await startContractStack(env, {
      config: { signature: { ...timing.signature, remindersEnabled: false, expiry: '10h' } },
    });
  });
  afterAll(() => off?.stop());

  test('no reminder before expiry', async () => {
    const contractId = off.t.seed.contractIds[0] as number;
    await startContractWorkflow(off.client, off.config, contractId);
    await eventually(async () =>
      expect((await contractStatus(off.client, contractId)).phase).toBe('awaiting-signature')
    );
    await env.sleep('11h');
    const result = await settledResult(off.client, contractId);
    expect(result).toMatchObject({ outcome: 'expired', remindersSent: 0 });
    const keys = off.inbox.messages().map(mailKey);
    expect(keys).toEqual([`${contractWorkflowId(contractId)}:invitation`]);
  });
});
