/**
 * sendContractMail against a real SMTP server on loopback and real databases (SQLite, MariaDB when configured).
 */
import net from 'node:net';
import { simpleParser } from 'mailparser';
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import { createMailActivities, MailFailureType } from '../../../activities/mail.activities';
import type { SendMailInput } from '../../../activities/types';
import { createMailer, messageIdFor, type Mailer } from '../../../mail/mailer';
import { deepMerge, type SignflowConfig } from '../../../temporal.config';
import { ErrorCode } from '../../../domain/errors';
import { createTestDb, testDatabases, type TestDb } from '../../../harness/databases';
import { startDevInbox, type CapturedMail, type DevInbox } from '../../../mail/dev-inbox';
import { startRejectingSmtpServer, type RejectingSmtpServer } from '../../mail/rejecting-smtp-server';
import { insertContact, insertContract } from './mail-fixtures';

const FROM = 'Praxis Dr. Beispiel <praxis@beispiel.test>';

const MAIL_CONFIG = {
  mail: { from: FROM, practiceName: 'Praxis Dr. Beispiel' },
  portal: { baseUrl: 'http://portal.test/p', documentPath: '/dokumente/{documentId}' },
};

/** The test database's config, pointed at an SMTP server. */
function withSmtp(config: SignflowConfig, smtpUrl: string): SignflowConfig {
  return deepMerge(config, { mail: { smtpUrl } }) as SignflowConfig;
}

/** Resolves with the activity's failure; fails the test if the call succeeds. */
async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const outcome = await p.then(
    (value) => ({ ok: true as const, value }),
    (err: unknown) => ({ ok: false as const, err })
  );
  if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.err).toBeInstanceOf(ApplicationFailure);
  return outcome.err as ApplicationFailure;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe.each(testDatabases())('sendContractMail on $name', ({ name: kind }) => {
  let t: TestDb;
  let db: Knex;
  let inbox: DevInbox;
  let mailer: Mailer;
  let config: SignflowConfig;
  let activities: ReturnType<typeof createMailActivities>;
  /** A second SMTP server that refuses chosen recipients, with its own mailer and activities. */
  let rejecting: RejectingSmtpServer;
  let rejectingMailer: Mailer;
  let viaRejecting: ReturnType<typeof createMailActivities>;
  let wfCounter = 0;

  beforeAll(async () => {
    t = await createTestDb(kind, { config: MAIL_CONFIG });
    db = t.db;
    inbox = await startDevInbox({ port: 0 });
    config = withSmtp(t.config, `smtp://127.0.0.1:${inbox.port}`);
    mailer = createMailer(config.mail.smtpUrl, config.mail.from);
    activities = createMailActivities({ db, config, mailer });
    rejecting = await startRejectingSmtpServer();
    const rejectingConfig = withSmtp(t.config, rejecting.url);
    rejectingMailer = createMailer(rejectingConfig.mail.smtpUrl, rejectingConfig.mail.from);
    viaRejecting = createMailActivities({ db, config: rejectingConfig, mailer: rejectingMailer });
  });
  afterAll(async () => {
    mailer?.close();
    rejectingMailer?.close();
    await inbox?.close();
    await rejecting?.close();
    await t?.destroy();
  });

  /** A contact and a contract of their own per test, so tests never see each other's mails or rows. */
  async function newContract(
    opts: { firstName?: string; lastName?: string; email?: string | null; title?: string } = {}
  ) {
    wfCounter += 1;
    const email = opts.email === undefined ? `kontakt${wfCounter}@example.org` : opts.email;
    const contactId = await insertContact(db, config.crm, {
      firstName: opts.firstName ?? 'Anna',
      lastName: opts.lastName ?? 'Müller',
      email,
    });
    const contractId = await insertContract(db, config.crm, {
      contactId,
      title: opts.title ?? 'Honorarvertrag Logopädie Q1/2027',
    });
    const workflowId = `honorarvertrag-${contractId}-${kind}-${wfCounter}`;
    const documentId = 1000 + wfCounter;
    return { contactId, contractId, workflowId, documentId, email: email ?? '' };
  }

  /** What recordSignature / recordManualConfirmation leave behind, as far as the confirmation mail reads it. */
  async function markConfirmed(contractId: number, by: number): Promise<void> {
    const k = config.crm.contracts;
    await db(k.table)
      .where(k.id, contractId)
      .update({ [k.status]: config.crm.values.contractInProgress, [k.confirmedBy]: by });
  }

  function mailsFor(workflowId: string): CapturedMail[] {
    return inbox.messages().filter((m) => String(m.headers['x-signflow-mail-key'] ?? '').startsWith(`${workflowId}:`));
  }

  async function rowsFor(workflowId: string): Promise<Array<Record<string, unknown>>> {
    return db('signflow_mails').where('workflow_id', workflowId).orderBy('id');
  }

  test('invitation: one mail with HTML and text parts, the portal link, and a sent row', async () => {
    const c = await newContract();
    const input: SendMailInput = { ...c, kind: 'invitation' };
    const t0 = Date.now();
    const result = await activities.sendContractMail(input);
    const ms = Date.now() - t0;

    const mailKey = `${c.workflowId}:invitation`;
    expect(result).toEqual({ mailKey, messageId: messageIdFor(mailKey, FROM), alreadySent: false });
    const [mail, ...more] = mailsFor(c.workflowId);
    expect(more).toHaveLength(0);
    if (!mail) throw new Error('no mail');
    const link = `http://portal.test/p/dokumente/${c.documentId}`;
    expect(mail.to).toEqual([c.email]);
    expect(mail.headers.to).toBe(c.email);
    expect(mail.messageId).toBe(result.messageId);
    expect(mail.subject).toBe('Bitte unterzeichnen: Honorarvertrag „Honorarvertrag Logopädie Q1/2027“');
    expect(mail.headers['auto-submitted']).toBe('auto-generated');
    expect(mail.text).toContain('Guten Tag Anna Müller,');
    expect(mail.text).toContain(`\n${link}\n`);
    expect(mail.html).toContain(`<a href="${link}"`);
    expect(mail.html).toContain('Guten Tag Anna Müller,');
    expect(mail.html).toContain('Praxis Dr. Beispiel');

    const rows = await rowsFor(c.workflowId);
    expect(rows).toHaveLength(1);
    const row = rows[0] ?? {};
    expect(row).toMatchObject({
      mail_key: mailKey,
      workflow_id: c.workflowId,
      contract_id: c.contractId,
      kind: 'invitation',
      sequence: null,
      recipient: c.email,
      subject: mail.subject,
      message_id: result.messageId,
      status: 'sent',
    });
    expect(row.sent_at).not.toBeNull();
    console.log(`[mail] ${kind}: one invitation end to end in ${ms} ms`);
  });

  test('invitation for a seeded demo contract (umlauts in name and title)', async () => {
    const contractId = t.seed.contractIds[0] ?? 0;
    const workflowId = `honorarvertrag-${contractId}`;
    const result = await activities.sendContractMail({ workflowId, contractId, documentId: 5, kind: 'invitation' });
    const mail = await inbox.waitFor((m) => m.messageId === result.messageId, 5_000);
    expect(mail.to).toEqual(['anna.mueller@example.org']);
    expect(mail.subject).toBe('Bitte unterzeichnen: Honorarvertrag „Honorarvertrag Logopädie Q1/2027“');
    expect(mail.text).toContain('Guten Tag Anna Müller,');
    expect(mail.text).toContain('http://portal.test/p/dokumente/5');
    expect(result.messageId).toMatch(
      new RegExp(`^<honorarvertrag-${contractId}\\.invitation\\.[0-9a-f]{12}@beispiel\\.test>$`)
    );
  });

  test('a name with markup is escaped in the HTML part and kept verbatim in the text part', async () => {
    const c = await newContract({ firstName: '<b>Anna</b>', lastName: 'Müller & Söhne' });
    await activities.sendContractMail({ ...c, kind: 'invitation' });
    const [mail] = mailsFor(c.workflowId);
    expect(mail?.html).toContain('Guten Tag &lt;b&gt;Anna&lt;/b&gt; Müller &amp; Söhne,');
    expect(mail?.html).not.toContain('<b>Anna</b>');
    expect(mail?.text).toContain('Guten Tag <b>Anna</b> Müller & Söhne,');
  });

  test('a missing placeholder fails with TEMPLATE_VALUE_MISSING, non-retryable: nothing sent, no row', async () => {
    // A contract without a title: a data problem the template must not paper over with a blank.
    const c = await newContract({ title: '' });
    const failure = await failureOf(activities.sendContractMail({ ...c, kind: 'invitation' }));
    expect(failure.type).toBe(ErrorCode.TEMPLATE_VALUE_MISSING);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('"contractTitle"');
    expect(failure.details?.[0]).toMatchObject({ placeholder: 'contractTitle', contractId: c.contractId });
    expect(await rowsFor(c.workflowId)).toEqual([]);
    // Sends are awaited until the server accepted them, so anything sent would be captured by now.
    expect(mailsFor(c.workflowId)).toEqual([]);
  });

  test('an invitation whose signature is no longer pending is skipped; status and contract come in one read', async () => {
    const s = config.crm.signatures;
    const withRequest = async (status: string) => {
      const c = await newContract();
      const [signatureId] = await db(s.table).insert({
        [s.status]: status,
        [s.contactId]: c.contactId,
        [s.documentId]: c.documentId,
        [s.linkedObjectType]: config.crm.values.contractObjectType,
        [s.linkedObjectId]: c.contractId,
      });
      await db('signflow_requests').insert({
        workflow_id: c.workflowId,
        contract_id: c.contractId,
        contact_id: c.contactId,
        document_id: c.documentId,
        signature_id: Number(signatureId),
        document_md5: 'm',
        document_sha256: 's',
        html: '<p></p>',
        created_at: new Date(),
      });
      return c;
    };
    const statements: string[] = [];
    const record = (q: { sql: string }) => void statements.push(q.sql);
    const open = await withRequest(config.crm.values.signaturePending);
    db.on('query', record);
    try {
      expect((await activities.sendContractMail({ ...open, kind: 'invitation' })).alreadySent).toBe(false);
    } finally {
      db.off('query', record);
    }
    expect(mailsFor(open.workflowId)).toHaveLength(1);
    // The request's status with the contract and contact, then the claim and the mark: three statements.
    expect(statements.filter((sql) => /^select/i.test(sql))).toHaveLength(1);
    expect(statements).toHaveLength(3);

    const signed = await withRequest(config.crm.values.signatureValid);
    expect(await activities.sendContractMail({ ...signed, kind: 'invitation' })).toMatchObject({
      skipped: 'request-closed',
    });
    expect(mailsFor(signed.workflowId)).toEqual([]);
    expect(await rowsFor(signed.workflowId)).toEqual([]);
    const audit = await db('signflow_audit_events').where({ workflow_id: signed.workflowId, event: 'mail-skipped' });
    expect(audit).toHaveLength(1);
  });

  test('calling it twice sends ONE mail; the second call reports alreadySent with the same id', async () => {
    const c = await newContract();
    const first = await activities.sendContractMail({ ...c, kind: 'invitation' });
    const second = await activities.sendContractMail({ ...c, kind: 'invitation' });
    expect(first.alreadySent).toBe(false);
    expect(second).toEqual({ ...first, alreadySent: true });
    expect(mailsFor(c.workflowId)).toHaveLength(1);
    expect(await rowsFor(c.workflowId)).toHaveLength(1);
  });

  test('two concurrent attempts for the same key send ONE mail (the unique key decides)', async () => {
    const c = await newContract();
    const outcomes = await Promise.allSettled([
      activities.sendContractMail({ ...c, kind: 'invitation' }),
      activities.sendContractMail({ ...c, kind: 'invitation' }),
    ]);
    expect(mailsFor(c.workflowId)).toHaveLength(1);
    expect(await rowsFor(c.workflowId)).toHaveLength(1);
    const sentNow = outcomes.filter((o) => o.status === 'fulfilled' && !o.value.alreadySent);
    expect(sentNow).toHaveLength(1);
    for (const o of outcomes) {
      if (o.status === 'fulfilled') continue;
      // The loser fails retryably; its retry would find the winner's row.
      expect(o.reason).toBeInstanceOf(ApplicationFailure);
      expect((o.reason as ApplicationFailure).type).toBe(MailFailureType.MAIL_SEND_IN_PROGRESS);
      expect((o.reason as ApplicationFailure).nonRetryable).toBe(false);
    }
  });

  test('reminders are keyed per sequence: 1, 2, and 1 again send two mails', async () => {
    const c = await newContract();
    const r1 = await activities.sendContractMail({ ...c, kind: 'reminder', sequence: 1 });
    const r2 = await activities.sendContractMail({ ...c, kind: 'reminder', sequence: 2 });
    const r1again = await activities.sendContractMail({ ...c, kind: 'reminder', sequence: 1 });
    expect(r1.mailKey).toBe(`${c.workflowId}:reminder:1`);
    expect(r2.mailKey).toBe(`${c.workflowId}:reminder:2`);
    expect(r1.messageId).not.toBe(r2.messageId);
    expect(r1again).toEqual({ ...r1, alreadySent: true });

    const mails = mailsFor(c.workflowId);
    expect(mails.map((m) => m.messageId).sort()).toEqual([r1.messageId, r2.messageId].sort());
    const byId = new Map(mails.map((m) => [m.messageId, m]));
    expect(byId.get(r1.messageId)?.text).toContain('Dies ist unsere 1. Erinnerung.');
    expect(byId.get(r2.messageId)?.text).toContain('Dies ist unsere 2. Erinnerung.');
    expect(byId.get(r2.messageId)?.subject).toMatch(/^Erinnerung: /);
    const rows = await rowsFor(c.workflowId);
    expect(rows.map((r) => [r.mail_key, r.kind, r.sequence, r.status])).toEqual([
      [r1.mailKey, 'reminder', 1, 'sent'],
      [r2.mailKey, 'reminder', 2, 'sent'],
    ]);
  });

  test('a reminder without a sequence is a non-retryable input error and sends nothing', async () => {
    const c = await newContract();
    const failure = await failureOf(activities.sendContractMail({ ...c, kind: 'reminder' }));
    expect(failure.type).toBe(MailFailureType.INVALID_MAIL_INPUT);
    expect(failure.nonRetryable).toBe(true);
    expect(mailsFor(c.workflowId)).toEqual([]);
  });

  test('a crash between SMTP accept and marking the row: the retry resends with the SAME Message-ID', async () => {
    const c = await newContract();
    // Fault injection: the real SMTP send succeeds, then the attempt dies before it can mark the row `sent`.
    const crashingMailer: Mailer = {
      async send(msg) {
        await mailer.send(msg);
        throw new Error('worker process lost right after the SMTP server accepted the mail');
      },
      close() {},
    };
    const crashing = createMailActivities({ db, config, mailer: crashingMailer });
    const crash = await failureOf(crashing.sendContractMail({ ...c, kind: 'invitation' }));
    expect(crash.nonRetryable).toBe(false);
    const [left] = await rowsFor(c.workflowId);
    expect(left).toMatchObject({ status: 'sending', message_id: messageIdFor(`${c.workflowId}:invitation`, FROM) });

    const retry = await activities.sendContractMail({ ...c, kind: 'invitation' });
    expect(retry.alreadySent).toBe(false);
    const mails = mailsFor(c.workflowId);
    expect(mails).toHaveLength(2);
    expect(mails.map((m) => m.messageId)).toEqual([retry.messageId, retry.messageId]);
    expect(await rowsFor(c.workflowId)).toEqual([
      expect.objectContaining({ status: 'sent', message_id: retry.messageId }),
    ]);

    // And from now on it is done.
    expect((await activities.sendContractMail({ ...c, kind: 'invitation' })).alreadySent).toBe(true);
    expect(mailsFor(c.workflowId)).toHaveLength(2);
  });

  test('the database fails right after the SMTP accept: the attempt waits for it and marks the row, ONE mail', async () => {
    const c = await newContract();
    // A real database fault at the worst moment: once the SMTP server has the mail, the mails table is gone for a
    // while (renamed away and back), so marking the row fails until it returns. The chaos run met this as MariaDB
    // stopping right after four invitations went out; their retries sent them a second time.
    let restored: Promise<void> | undefined;
    const faultyDbMailer: Mailer = {
      async send(msg) {
        const accepted = await mailer.send(msg);
        await db.schema.renameTable('signflow_mails', 'signflow_mails_away');
        restored = new Promise((resolve) => setTimeout(resolve, 1_500)).then(() =>
          db.schema.renameTable('signflow_mails_away', 'signflow_mails')
        );
        return accepted;
      },
      close() {},
    };
    const faulty = createMailActivities({ db, config, mailer: faultyDbMailer });
    try {
      const sent = await faulty.sendContractMail({ ...c, kind: 'invitation' });
      expect(sent.alreadySent).toBe(false);
    } finally {
      await restored;
    }
    expect(await rowsFor(c.workflowId)).toEqual([
      expect.objectContaining({ status: 'sent', message_id: messageIdFor(`${c.workflowId}:invitation`, FROM) }),
    ]);
    expect((await activities.sendContractMail({ ...c, kind: 'invitation' })).alreadySent).toBe(true);
    expect(mailsFor(c.workflowId)).toHaveLength(1);
  });

  test('a 550 recipient rejection is MAIL_REJECTED, non-retryable, without personal data; its row says refused', async () => {
    const c = await newContract({ firstName: 'Jörg', lastName: 'Weiß', email: 'verzogen@example.org' });
    rejecting.rejectRecipients((address) => address === 'verzogen@example.org', 550);
    try {
      const failure = await failureOf(viaRejecting.sendContractMail({ ...c, kind: 'invitation' }));
      expect(failure.type).toBe(ErrorCode.MAIL_REJECTED);
      expect(failure.nonRetryable).toBe(true);
      expect(failure.details?.[0]).toMatchObject({ responseCode: 550, smtpCode: 'EENVELOPE', enhancedStatus: '5.1.1' });
      const visible = JSON.stringify({ message: failure.message, details: failure.details });
      for (const personal of ['verzogen', 'example.org', 'Jörg', 'Weiß']) expect(visible).not.toContain(personal);
      expect(await rowsFor(c.workflowId)).toMatchObject([
        { mail_key: `${c.workflowId}:invitation`, kind: 'invitation', status: 'refused', sent_at: null },
      ]);
      expect(rejecting.messages().filter((m) => m.to.includes('verzogen@example.org'))).toEqual([]);
      // The same key again (the address fixed meanwhile) takes the refused row back and sends: one row, `sent`.
      rejecting.rejectRecipients(() => false);
      const retried = await viaRejecting.sendContractMail({ ...c, kind: 'invitation' });
      expect(retried.alreadySent).toBe(false);
      expect(await rowsFor(c.workflowId)).toMatchObject([{ mail_key: `${c.workflowId}:invitation`, status: 'sent' }]);
    } finally {
      rejecting.rejectRecipients(() => false);
    }
  });

  test('an invitation sent again after a refusal has its own key and row (invitation:2)', async () => {
    const c = await newContract();
    const second = await activities.sendContractMail({ ...c, kind: 'invitation', sequence: 2 });
    expect(second.mailKey).toBe(`${c.workflowId}:invitation:2`);
    const [mail] = mailsFor(c.workflowId);
    expect(mail?.subject).toContain('Bitte unterzeichnen');
    expect(await rowsFor(c.workflowId)).toMatchObject([{ kind: 'invitation', sequence: 2, status: 'sent' }]);
    // A sequence of 1 is the first invitation's own key.
    expect((await activities.sendContractMail({ ...c, kind: 'invitation', sequence: 1 })).mailKey).toBe(
      `${c.workflowId}:invitation`
    );
  });

  test('withdrawal: one short German mail per request, whatever is retried; none when switched off', async () => {
    const c = await newContract({ title: 'Honorarvertrag Ergotherapie' });
    const first = await activities.sendContractMail({ ...c, kind: 'withdrawal' });
    expect(first).toMatchObject({ mailKey: `${c.workflowId}:withdrawal`, alreadySent: false });
    // A retry (worker crash after the send, activity retried) finds the sent row: nothing goes out twice.
    expect((await activities.sendContractMail({ ...c, kind: 'withdrawal' })).alreadySent).toBe(true);
    const mails = mailsFor(c.workflowId);
    expect(mails).toHaveLength(1);
    expect(mails[0]?.subject).toBe('Zurückgezogen: Honorarvertrag „Honorarvertrag Ergotherapie“');
    expect(mails[0]?.text).toContain('zurückgezogen. Sie brauchen nichts mehr zu tun');
    expect(await rowsFor(c.workflowId)).toMatchObject([{ kind: 'withdrawal', status: 'sent' }]);

    const off = await newContract();
    const switchedOff = createMailActivities({
      db,
      config: deepMerge(config, { mail: { withdrawalMailEnabled: false } }) as SignflowConfig,
      mailer,
    });
    expect(await switchedOff.sendContractMail({ ...off, kind: 'withdrawal' })).toMatchObject({ skipped: 'disabled' });
    expect(mailsFor(off.workflowId)).toEqual([]);
    expect(await rowsFor(off.workflowId)).toEqual([]);
  });

  test('a 450 (temporary) recipient rejection is retryable', async () => {
    const c = await newContract({ email: 'greylisted@example.org' });
    rejecting.rejectRecipients((address) => address === 'greylisted@example.org', 450);
    try {
      const failure = await failureOf(viaRejecting.sendContractMail({ ...c, kind: 'invitation' }));
      expect(failure.type).toBe(MailFailureType.MAIL_SEND_FAILED);
      expect(failure.nonRetryable).toBe(false);
      expect(failure.details?.[0]).toMatchObject({ responseCode: 450, smtpCode: 'EENVELOPE' });
      expect(failure.message).not.toContain('greylisted');
      expect(await rowsFor(c.workflowId)).toEqual([expect.objectContaining({ status: 'sending' })]);
    } finally {
      rejecting.rejectRecipients(() => false);
    }
    // The greylisting is over: the retry goes through with the id the first attempt claimed.
    const retry = await viaRejecting.sendContractMail({ ...c, kind: 'invitation' });
    expect(retry.alreadySent).toBe(false);
    expect(rejecting.messages().filter((m) => m.to.includes('greylisted@example.org'))).toEqual([
      expect.objectContaining({ messageId: retry.messageId }),
    ]);
    expect(await rowsFor(c.workflowId)).toEqual([expect.objectContaining({ status: 'sent' })]);
  });

  test('SMTP down is a retryable failure; once the server is back the retry sends the mail once', async () => {
    const c = await newContract();
    const port = await freePort();
    const downConfig = withSmtp(config, `smtp://127.0.0.1:${port}`);
    const downMailer = createMailer(downConfig.mail.smtpUrl, downConfig.mail.from);
    const down = createMailActivities({ db, config: downConfig, mailer: downMailer });
    let revived: DevInbox | undefined;
    try {
      const failure = await failureOf(down.sendContractMail({ ...c, kind: 'invitation' }));
      expect(failure.type).toBe(MailFailureType.MAIL_SEND_FAILED);
      expect(failure.nonRetryable).toBe(false);
      expect(failure.message).not.toContain(c.email);
      expect(await rowsFor(c.workflowId)).toEqual([expect.objectContaining({ status: 'sending' })]);

      revived = await startDevInbox({ port });
      const retry = await down.sendContractMail({ ...c, kind: 'invitation' });
      expect(retry.alreadySent).toBe(false);
      expect(revived.messages().map((m) => m.messageId)).toEqual([retry.messageId]);
      expect(await rowsFor(c.workflowId)).toEqual([expect.objectContaining({ status: 'sent' })]);
    } finally {
      downMailer.close();
      await revived?.close();
    }
  });

  test('confirmation after the contact signed thanks them and says "in Durchführung"', async () => {
    const c = await newContract();
    await markConfirmed(c.contractId, c.contactId);
    const result = await activities.sendContractMail({ ...c, kind: 'confirmation' });
    expect(result.mailKey).toBe(`${c.workflowId}:confirmation`);
    const [mail] = mailsFor(c.workflowId);
    expect(mail?.subject).toBe('Bestätigt: Honorarvertrag „Honorarvertrag Logopädie Q1/2027“');
    expect(mail?.text).toContain('vielen Dank für Ihre Unterschrift.');
    expect(mail?.text).toContain('hat jetzt den Status „in Durchführung“');
    expect(mail?.text).toContain(`http://portal.test/p/dokumente/${c.documentId}`);
  });

  /** What createCompletionCertificate leaves behind, as far as the confirmation mail reads it. */
  async function storeCertificate(contractId: number, workflowId: string): Promise<Buffer> {
    const d = config.crm.documents;
    const pdf = Buffer.from(`%PDF-1.7 Prüfprotokoll ${contractId} ${workflowId}\n%%EOF\n`, 'utf8');
    const [id] = await db(d.table).insert({
      [d.title]: `Prüfprotokoll zu Honorarvertrag ${contractId}`,
      [d.templateKind]: config.crm.values.certificateTemplateKind,
      [d.mimeType]: 'application/pdf',
      [d.content]: pdf,
      [d.linkedObjectType]: config.crm.values.contractObjectType,
      [d.linkedObjectId]: contractId,
      [d.createdAt]: new Date(),
    });
    await db('signflow_audit_events').insert({
      workflow_id: workflowId,
      contract_id: contractId,
      event: 'certificate-created',
      detail: JSON.stringify({ documentId: Number(id), sha256: 'x' }),
      at: new Date(),
    });
    return pdf;
  }

  test('the confirmation carries the Prüfprotokoll as a PDF attachment; twice called, one mail', async () => {
    const c = await newContract();
    await markConfirmed(c.contractId, c.contactId);
    const pdf = await storeCertificate(c.contractId, c.workflowId);
    await activities.sendContractMail({ ...c, kind: 'confirmation' });
    await activities.sendContractMail({ ...c, kind: 'confirmation' });
    const mails = mailsFor(c.workflowId);
    expect(mails).toHaveLength(1);
    const parsed = await simpleParser(mails[0]!.raw);
    expect(parsed.attachments.map((a) => [a.filename, a.contentType])).toEqual([
      [`Pruefprotokoll-Honorarvertrag-${c.contractId}.pdf`, 'application/pdf'],
    ]);
    expect(parsed.attachments[0]!.content.equals(pdf)).toBe(true);
  });

  test('the certificate the workflow names is attached, without a look into the audit trail', async () => {
    const c = await newContract();
    await markConfirmed(c.contractId, c.contactId);
    const named = await storeCertificate(c.contractId, c.workflowId);
    const first = (await db('signflow_audit_events')
      .where({ contract_id: c.contractId, event: 'certificate-created' })
      .first('detail')) as { detail: string };
    const { documentId } = JSON.parse(first.detail) as { documentId: number };
    // A later one in the audit trail (what a confirmation without the id would attach).
    await storeCertificate(c.contractId, `${c.workflowId}~2`);
    const statements: string[] = [];
    const record = (q: { sql: string }) => void statements.push(q.sql);
    db.on('query', record);
    try {
      await activities.sendContractMail({ ...c, kind: 'confirmation', certificateDocumentId: documentId });
    } finally {
      db.off('query', record);
    }
    const [mail] = mailsFor(c.workflowId);
    const parsed = await simpleParser(mail!.raw);
    expect(parsed.attachments).toHaveLength(1);
    expect(parsed.attachments[0]!.content.equals(named)).toBe(true);
    expect(statements.filter((sql) => sql.includes('signflow_audit_events'))).toEqual([]);
    // The certificate with the contract and the contact in one read, then the claim and the mark: three statements.
    expect(statements.filter((sql) => /^select/i.test(sql))).toHaveLength(1);
    expect(statements).toHaveLength(3);
  });

  test('a named certificate that is gone: the confirmation goes without the attachment', async () => {
    const c = await newContract();
    await markConfirmed(c.contractId, c.contactId);
    await storeCertificate(c.contractId, c.workflowId);
    const d = config.crm.documents;
    const [{ max }] = (await db(d.table).max({ max: d.id })) as [{ max: number }];
    await activities.sendContractMail({ ...c, kind: 'confirmation', certificateDocumentId: Number(max) + 1000 });
    const [mail] = mailsFor(c.workflowId);
    expect(mail?.subject).toMatch(/^Bestätigt: /);
    expect((await simpleParser(mail!.raw)).attachments).toEqual([]);
  });

  test('SIGNFLOW_CERTIFICATE_ATTACHMENT=false: the confirmation goes without the attachment', async () => {
    const off = deepMerge(config, { evidence: { certificateAttachment: false } }) as SignflowConfig;
    const withoutAttachment = createMailActivities({ db, config: off, mailer });
    const c = await newContract();
    await markConfirmed(c.contractId, c.contactId);
    await storeCertificate(c.contractId, c.workflowId);
    await withoutAttachment.sendContractMail({ ...c, kind: 'confirmation' });
    const [mail] = mailsFor(c.workflowId);
    expect((await simpleParser(mail!.raw)).attachments).toEqual([]);
    // The invitation never carries it, whatever the setting.
    const invited = await newContract();
    await storeCertificate(invited.contractId, invited.workflowId);
    await activities.sendContractMail({ ...invited, kind: 'invitation' });
    expect((await simpleParser(mailsFor(invited.workflowId)[0]!.raw)).attachments).toEqual([]);
  });

  test('confirmation after staff confirmed does not thank for a signature', async () => {
    const c = await newContract();
    const staff = await insertContact(db, config.crm, {
      firstName: 'Petra',
      lastName: 'Schäfer',
      email: 'praxis@example.org',
    });
    await markConfirmed(c.contractId, staff);
    await activities.sendContractMail({ ...c, kind: 'confirmation' });
    const [mail] = mailsFor(c.workflowId);
    expect(mail?.text).not.toContain('Unterschrift');
    expect(mail?.text).toContain('wurde von Praxis Dr. Beispiel bestätigt und hat jetzt den Status „in Durchführung“');
  });

  test('unknown contract, unknown contact and an invalid address fail non-retryably and send nothing', async () => {
    const missing = await failureOf(
      activities.sendContractMail({
        workflowId: 'honorarvertrag-999999',
        contractId: 999999,
        documentId: 1,
        kind: 'invitation',
      })
    );
    expect([missing.type, missing.nonRetryable]).toEqual([ErrorCode.CONTRACT_NOT_FOUND, true]);

    const orphanContract = await insertContract(db, config.crm, { contactId: 888888, title: 'Vertrag ohne Kontakt' });
    const orphan = await failureOf(
      activities.sendContractMail({
        workflowId: `honorarvertrag-${orphanContract}`,
        contractId: orphanContract,
        documentId: 1,
        kind: 'invitation',
      })
    );
    expect([orphan.type, orphan.nonRetryable]).toEqual([ErrorCode.CONTACT_NOT_FOUND, true]);

    const c = await newContract({ email: 'max.ohnemail(at)example.org' });
    const invalid = await failureOf(activities.sendContractMail({ ...c, kind: 'invitation' }));
    expect([invalid.type, invalid.nonRetryable]).toEqual([ErrorCode.CONTACT_EMAIL_INVALID, true]);
    expect(invalid.message).not.toContain('ohnemail');
    expect(await rowsFor(c.workflowId)).toEqual([]);
  });
});

describe('sendContractMail with a CRM that uses its own names', () => {
  let t: TestDb;
  let inbox: DevInbox;
  let mailer: Mailer;

  beforeAll(async () => {
    t = await createTestDb('sqlite', {
      config: MAIL_CONFIG,
      crm: {
        contacts: { table: 'personen', firstName: 'rufname', email: 'mail_adresse' },
        contracts: { table: 'vertraege', title: 'bezeichnung', confirmedBy: 'freigegeben_von' },
        values: { contractInProgress: 'aktiv' },
      },
    });
    inbox = await startDevInbox({ port: 0 });
    mailer = createMailer(`smtp://127.0.0.1:${inbox.port}`, FROM);
  });
  afterAll(async () => {
    mailer?.close();
    await inbox?.close();
    await t?.destroy();
  });

  test('reads contract and contact through the mapping and uses its status label', async () => {
    const config = withSmtp(t.config, `smtp://127.0.0.1:${inbox.port}`);
    const activities = createMailActivities({ db: t.db, config, mailer });
    const contactId = await insertContact(t.db, config.crm, {
      firstName: 'Özlem',
      lastName: 'Yılmaz',
      email: 'o@example.org',
    });
    const contractId = await insertContract(t.db, config.crm, {
      contactId,
      title: 'Honorarvertrag Physiotherapie',
      status: 'aktiv',
      confirmedBy: contactId,
    });
    const workflowId = `honorarvertrag-${contractId}`;
    await activities.sendContractMail({ workflowId, contractId, documentId: 9, kind: 'confirmation' });
    const [mail] = inbox.messages();
    expect(mail?.to).toEqual(['o@example.org']);
    expect(mail?.subject).toBe('Bestätigt: Honorarvertrag „Honorarvertrag Physiotherapie“');
    expect(mail?.text).toContain('Guten Tag Özlem Yılmaz,');
    expect(mail?.text).toContain('vielen Dank für Ihre Unterschrift.');
    expect(mail?.text).toContain('hat jetzt den Status „aktiv“');
  });
});
