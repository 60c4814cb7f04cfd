/**
 * The dev inbox is a real SMTP server: these tests send real mail to it over loopback with nodemailer and read it back
 * from memory, from the .eml files and through the inbox page.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { startDevInbox, startInboxPage, type DevInbox } from '../../mail/dev-inbox';

function transportTo(inbox: DevInbox) {
  return nodemailer.createTransport({ host: '127.0.0.1', port: inbox.port, secure: false, ignoreTLS: true });
}

describe('dev inbox', () => {
  let inbox: DevInbox;
  let dir: string;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-inbox-'));
    inbox = await startDevInbox({ port: 0, dir });
  });
  afterEach(async () => {
    await inbox.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('captures a real SMTP message with decoded fields, envelope recipients and raw bytes', async () => {
    const info = await transportTo(inbox).sendMail({
      // mailparser's text form quotes a display name with a dot, as RFC 5322 requires.
      from: '"Praxis Dr. Müller" <praxis@signflow.invalid>',
      to: 'Erika Mustermann <erika@example.org>',
      bcc: 'archiv@example.org',
      subject: 'Ihr Honorarvertrag – bitte unterschreiben (äöüß)',
      text: 'Guten Tag,\nbitte unterschreiben Sie hier: http://localhost:3000/portal/dokumente/7',
      html: '<p>Guten Tag,</p><p><a href="http://localhost:3000/portal/dokumente/7">Dokument öffnen</a></p>',
      headers: { 'X-Signflow-Mail-Kind': 'invitation' },
    });

    const [mail] = inbox.messages();
    expect(inbox.messages()).toHaveLength(1);
    expect(mail).toMatchObject({
      id: 1,
      // mailparser's text form quotes a display name with a dot, as RFC 5322 requires.
      from: '"Praxis Dr. Müller" <praxis@signflow.invalid>',
      to: ['erika@example.org', 'archiv@example.org'],
      subject: 'Ihr Honorarvertrag – bitte unterschreiben (äöüß)',
      messageId: info.messageId,
    });
    expect(mail?.text).toContain('http://localhost:3000/portal/dokumente/7');
    expect(mail?.html).toContain('<a href="http://localhost:3000/portal/dokumente/7">Dokument öffnen</a>');
    expect(mail?.headers['x-signflow-mail-kind']).toBe('invitation');
    expect(mail?.headers['subject']).toBe('Ihr Honorarvertrag – bitte unterschreiben (äöüß)');
    expect(mail?.raw.toString('utf8')).toMatch(/^[\s\S]*X-Signflow-Mail-Kind: invitation/);
    // Bcc is an envelope recipient only, never a header.
    expect(mail?.headers['bcc']).toBeUndefined();

    // Written as <n>-<timestamp>.eml with exactly the bytes received.
    const files = fs.readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^1-\d{4}-\d\d-\d\dT[\d-]+Z\.eml$/);
    expect(fs.readFileSync(path.join(dir, files[0] as string)).equals(mail?.raw as Buffer)).toBe(true);
  });

  test('bodies: false parses the header block only: the same header fields as a full parse, no text or html', async () => {
    const headersOnly = await startDevInbox({ port: 0, bodies: false });
    try {
      const mail = {
        from: '"Praxis Dr. Müller" <praxis@signflow.invalid>',
        to: 'Erika Mustermann <erika@example.org>',
        bcc: 'archiv@example.org',
        // Long enough to be folded into several encoded words, as the confirmation's subject is.
        subject: 'Bestätigt: Honorarvertrag „Honorarvertrag Rückenschule für Fortgeschrittene, Kurs 12“',
        text: 'Guten Tag,\nvielen Dank für Ihre Unterschrift.',
        html: '<p>Guten Tag,</p><p>vielen Dank für Ihre Unterschrift.</p>',
        messageId: '<honorarvertrag-12.confirmation.5f1c0a2b9e4d@signflow.invalid>',
        headers: { 'X-Signflow-Mail-Key': 'honorarvertrag-12:confirmation', 'Auto-Submitted': 'auto-generated' },
        attachments: [
          { filename: 'Pruefprotokoll.pdf', content: Buffer.alloc(20_000, 7), contentType: 'application/pdf' },
        ],
      };
      await transportTo(inbox).sendMail(mail);
      await transportTo(headersOnly).sendMail(mail);
      const [full] = inbox.messages();
      const [light] = headersOnly.messages();
      // The full parse decodes the bodies; the light one leaves them out and keeps every header field as decoded.
      expect(full?.text).toContain('vielen Dank für Ihre Unterschrift.');
      expect(light).toMatchObject({ id: 1, text: '', html: '' });
      const fields = (m: typeof full) => {
        const headers = { ...m?.headers };
        // The MIME boundaries and the date differ between two sends of the same mail.
        delete headers['content-type'];
        delete headers['date'];
        return { from: m?.from, to: m?.to, subject: m?.subject, messageId: m?.messageId, headers };
      };
      expect(fields(light)).toEqual(fields(full));
      expect(light?.headers['x-signflow-mail-key']).toBe('honorarvertrag-12:confirmation');
      expect(light?.subject).toBe(mail.subject);
      expect(light?.headers['content-type']).toMatch(/^multipart\/mixed; boundary=/);
      // The raw message is kept whole, attachment included.
      expect(light?.raw.length).toBeGreaterThan(20_000);
    } finally {
      await headersOnly.close();
    }
  });

  test('parse: false takes the header fields as sent: ASCII fields as a full parse gives them, encoded words kept', async () => {
    const unparsed = await startDevInbox({ port: 0, parse: false });
    try {
      const mail = {
        from: '"Praxis Dr. Müller" <praxis@signflow.invalid>',
        to: 'Erika Mustermann <erika@example.org>',
        subject: 'Bestätigt: Honorarvertrag „Honorarvertrag Rückenschule für Fortgeschrittene, Kurs 12“',
        text: 'Guten Tag,\nvielen Dank für Ihre Unterschrift.',
        html: '<p>Guten Tag,</p>',
        messageId: '<honorarvertrag-13.confirmation.5f1c0a2b9e4d@signflow.invalid>',
        headers: { 'X-Signflow-Mail-Key': 'honorarvertrag-13:confirmation', 'Auto-Submitted': 'auto-generated' },
        attachments: [
          { filename: 'Pruefprotokoll.pdf', content: Buffer.alloc(5_000, 7), contentType: 'application/pdf' },
        ],
      };
      const full = await startDevInbox({ port: 0 });
      try {
        await transportTo(full).sendMail(mail);
        await transportTo(unparsed).sendMail(mail);
        const [parsed] = full.messages();
        const [raw] = unparsed.messages();
        expect(raw).toMatchObject({ id: 1, text: '', html: '', to: ['erika@example.org'] });
        for (const key of ['x-signflow-mail-key', 'auto-submitted', 'message-id', 'mime-version']) {
          expect(raw?.headers[key]).toBe(parsed?.headers[key]);
        }
        expect(raw?.messageId).toBe(mail.messageId);
        // The subject is folded into several encoded words on the wire: joined, not decoded.
        expect(raw?.subject).toMatch(/^=\?UTF-8\?Q\?Best=C3=A4tigt/);
        expect(raw?.subject).not.toMatch(/[\r\n]/);
        expect(raw?.headers['content-type']).toMatch(/^multipart\/mixed; boundary=/);
        expect(raw?.raw.length).toBeGreaterThan(5_000);
      } finally {
        await full.close();
      }
    } finally {
      await unparsed.close();
    }
  });

  test('waitFor resolves on a later mail and rejects on timeout naming what arrived', async () => {
    const waiting = inbox.waitFor((m) => m.subject === 'zweite', 5_000);
    const t = transportTo(inbox);
    await t.sendMail({ from: 'a@example.org', to: 'b@example.org', subject: 'erste', text: '1' });
    await t.sendMail({ from: 'a@example.org', to: 'b@example.org', subject: 'zweite', text: '2' });
    await expect(waiting).resolves.toMatchObject({ id: 2, subject: 'zweite', text: '2\n' });
    // Already received: resolves at once.
    await expect(inbox.waitFor((m) => m.subject === 'erste', 1)).resolves.toMatchObject({ id: 1 });
    await expect(inbox.waitFor((m) => m.subject === 'dritte', 200)).rejects.toThrow(
      /no matching mail within 200 ms \(received: #1 to b@example.org: erste; #2 to b@example.org: zweite\)/
    );
  });

  test('clear forgets messages; a restart on the same folder loads them and numbers on', async () => {
    await transportTo(inbox).sendMail({ from: 'a@example.org', to: 'b@example.org', subject: 'vorher', text: 'x' });
    inbox.clear();
    expect(inbox.messages()).toEqual([]);
    await inbox.close();

    inbox = await startDevInbox({ port: 0, dir });
    expect(inbox.messages().map((m) => [m.id, m.subject, m.to])).toEqual([[1, 'vorher', ['b@example.org']]]);
    await transportTo(inbox).sendMail({ from: 'a@example.org', to: 'b@example.org', subject: 'nachher', text: 'y' });
    expect(inbox.messages().map((m) => m.id)).toEqual([1, 2]);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('2-'))).toHaveLength(1);
  });

  test('close() does not wait for an idle pooled client connection: one second of its own clock ends it', async () => {
    const pooled = nodemailer.createTransport({ host: '127.0.0.1', port: inbox.port, pool: true, ignoreTLS: true });
    await pooled.sendMail({ from: 'a@example.org', to: 'b@example.org', subject: 'pool', text: 'p' });
    // The grace period for open connections is a timer of the SMTP server (30 s by default). With jest's fake timers
    // the inbox's time passes only when the test says so: one second of it must end the idle connection and the close,
    // however slow this machine is.
    const realSetTimeout = setTimeout;
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'Date', 'hrtime', 'performance'] });
    try {
      const closing = inbox.close();
      jest.advanceTimersByTime(1_000);
      // The rest is socket I/O; the real-time ceiling only turns a hang into a readable failure.
      const stuck = new Promise<string>((resolve) => realSetTimeout(() => resolve('still closing'), 30_000).unref());
      await expect(Promise.race([closing.then(() => 'closed'), stuck])).resolves.toBe('closed');
    } finally {
      jest.useRealTimers();
      pooled.close();
    }
  });
});

describe('inbox page', () => {
  test('lists mails, shows one with its text escaped, and serves the raw .eml', async () => {
    const inbox = await startDevInbox({ port: 0 });
    const pageServer = await startInboxPage(inbox, 0);
    try {
      await transportTo(inbox).sendMail({
        from: 'praxis@signflow.invalid',
        to: 'erika@example.org',
        subject: 'Vertrag <script>alert(1)</script>',
        text: 'Text mit <b>spitzen</b> Klammern & Umlauten: ä\nLink: http://localhost:3000/portal/dokumente/7',
        html: '<p onclick="x()">HTML-Teil</p><script>alert(2)</script>',
      });

      const list = await (await fetch(pageServer.url)).text();
      expect(list).toContain('Vertrag &#60;script&#62;alert(1)&#60;/script&#62;');
      expect(list).not.toContain('<script>alert(1)');
      expect(list).toContain('href="/messages/1"');

      const view = await (await fetch(`${pageServer.url}messages/1`)).text();
      expect(view).toContain('Text mit &#60;b&#62;spitzen&#60;/b&#62; Klammern &#38; Umlauten: ä');
      expect(view).toContain('<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" src="/messages/1.html"');
      expect(view).toContain('<a href="http://localhost:3000/portal/dokumente/7" target="_blank" rel="noopener">');
      expect(view).not.toContain('alert(2)');

      const htmlPart = await fetch(`${pageServer.url}messages/1.html`);
      expect(htmlPart.headers.get('content-security-policy')).toMatch(/^sandbox allow-popups /);
      expect(await htmlPart.text()).toMatch(/^<base target="_blank"><p onclick/);

      const eml = Buffer.from(await (await fetch(`${pageServer.url}messages/1.eml`)).arrayBuffer());
      expect(eml.equals(inbox.messages()[0]?.raw as Buffer)).toBe(true);

      const api = (await (await fetch(`${pageServer.url}api/messages`)).json()) as Array<Record<string, unknown>>;
      expect(api).toHaveLength(1);
      expect(api[0]).toMatchObject({ id: 1, subject: 'Vertrag <script>alert(1)</script>' });
      expect(api[0]).not.toHaveProperty('raw');

      expect((await fetch(`${pageServer.url}messages/99`)).status).toBe(404);
    } finally {
      await pageServer.close();
      await inbox.close();
    }
  });
});
