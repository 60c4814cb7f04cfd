import net from 'node:net';
import { Readable } from 'node:stream';
import { createMailer, messageIdFor, wholeMessage, type Mailer } from '../../mail/mailer';
import { startDevInbox, type DevInbox } from '../../mail/dev-inbox';

const FROM = 'Praxis Dr. Beispiel <praxis@beispiel.test>';

describe('messageIdFor', () => {
  test('is deterministic, readable, and uses the sender domain', () => {
    const id = messageIdFor('honorarvertrag-12:invitation', FROM);
    expect(id).toBe(messageIdFor('honorarvertrag-12:invitation', FROM));
    expect(id).toMatch(/^<honorarvertrag-12\.invitation\.[0-9a-f]{12}@beispiel\.test>$/);
  });

  test('differs per key, also for keys that read alike once ":" becomes "."', () => {
    const ids = new Set(
      [
        'honorarvertrag-12:invitation',
        'honorarvertrag-12:reminder:1',
        'honorarvertrag-12:reminder:2',
        'honorarvertrag-12.reminder.2',
        'honorarvertrag-13:invitation',
      ].map((k) => messageIdFor(k, FROM))
    );
    expect(ids.size).toBe(5);
  });

  test('is a valid msg-id (dot-atom left, no brackets or spaces inside) for odd keys and senders', () => {
    for (const [key, from] of [
      ['wf id with spaces:<odd>', 'praxis@beispiel.test'],
      [':::', 'no address here'],
      ['honorarvertrag-1:confirmation', '"Praxis, Team" <team@praxis.example.de>'],
    ] as const) {
      const id = messageIdFor(key, from);
      expect(id).toMatch(/^<[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9.-]+>$/);
    }
    expect(messageIdFor(':::', 'no address here')).toMatch(/@signflow>$/);
    expect(messageIdFor('x', '"Praxis, Team" <team@praxis.example.de>')).toMatch(/@praxis\.example\.de>$/);
  });
});

describe('createMailer against a real SMTP server on loopback', () => {
  let smtp: DevInbox;
  let mailer: Mailer;
  let connections = 0;

  beforeAll(async () => {
    smtp = await startDevInbox({ port: 0 });
    mailer = createMailer(`smtp://127.0.0.1:${smtp.port}`, FROM);
  });
  afterAll(async () => {
    mailer.close();
    await smtp.close();
  });

  test('sends text + HTML with the Message-ID and headers we pass', async () => {
    const messageId = messageIdFor('honorarvertrag-7:invitation', FROM);
    const info = await mailer.send({
      to: 'anna.mueller@example.org',
      subject: 'Bitte unterzeichnen: Honorarvertrag „Test“',
      text: 'Guten Tag Anna Müller,\n\nText.',
      html: '<p>Guten Tag Anna Müller,</p>',
      messageId,
      headers: { 'X-Signflow-Mail-Key': 'honorarvertrag-7:invitation' },
    });
    expect(info.messageId).toBe(messageId);
    expect(info.accepted).toEqual(['anna.mueller@example.org']);

    const got = await smtp.waitFor((m) => m.messageId === messageId, 5_000);
    expect(got.to).toEqual(['anna.mueller@example.org']);
    expect(got.subject).toBe('Bitte unterzeichnen: Honorarvertrag „Test“');
    expect(got.text.trim()).toBe('Guten Tag Anna Müller,\n\nText.');
    expect(got.html).toBe('<p>Guten Tag Anna Müller,</p>');
    expect(got.from).toBe('"Praxis Dr. Beispiel" <praxis@beispiel.test>');
    expect(got.headers['x-signflow-mail-key']).toBe('honorarvertrag-7:invitation');
    expect(got.raw.toString('utf8')).toMatch(/^Content-Type: multipart\/alternative;/m);
  });

  test('a message goes to the socket in one write, attachment included, and arrives intact', async () => {
    const messageId = messageIdFor('honorarvertrag-8:confirmation', FROM);
    const pdf = Buffer.from(Array.from({ length: 30_000 }, (_, i) => (i * 7) % 256));
    const written: string[] = [];
    const originalWrite = net.Socket.prototype.write;
    const write = jest.spyOn(net.Socket.prototype, 'write').mockImplementation(function (
      this: net.Socket,
      ...args: Parameters<net.Socket['write']>
    ) {
      written.push(Buffer.isBuffer(args[0]) ? args[0].toString('latin1') : String(args[0]));
      return originalWrite.apply(this, args);
    });
    try {
      await mailer.send({
        to: 'anna.mueller@example.org',
        subject: 'Bestätigt: Honorarvertrag „Test“',
        text: 'Guten Tag,\n\nText.',
        html: '<p>Guten Tag,</p>',
        messageId,
        headers: { 'X-Signflow-Mail-Key': 'honorarvertrag-8:confirmation' },
        attachments: [{ filename: 'Pruefprotokoll.pdf', content: pdf, contentType: 'application/pdf' }],
      });
    } finally {
      write.mockRestore();
    }
    // nodemailer writes each chunk of its MIME stream on its own (headers, each part, the attachment's base64 lines)
    // unless the message is gathered first: then its first header and its attachment's last line share one write.
    const lastBase64Line = pdf.toString('base64').slice(-40);
    expect(written.filter((w) => w.includes('X-Signflow-Mail-Key') && w.includes(lastBase64Line))).toHaveLength(1);

    const got = await smtp.waitFor((m) => m.messageId === messageId, 5_000);
    expect(got.subject).toBe('Bestätigt: Honorarvertrag „Test“');
    expect(got.text.trim()).toBe('Guten Tag,\n\nText.');
    expect(got.headers['x-signflow-mail-key']).toBe('honorarvertrag-8:confirmation');
    const base64 = /filename=Pruefprotokoll\.pdf\r\n\r\n([A-Za-z0-9+/=\r\n]+)\r\n--/.exec(got.raw.toString('latin1'));
    expect(Buffer.from(base64?.[1] ?? '', 'base64').equals(pdf)).toBe(true);
  });

  test('wholeMessage hands on the bytes as one chunk and fails with its input', async () => {
    const chunks: Buffer[] = [];
    for await (const c of wholeMessage(Readable.from([Buffer.from('Subject: a\r\n'), Buffer.from('\r\nbody\r\n')]))) {
      chunks.push(c as Buffer);
    }
    expect(chunks.map((c) => c.toString())).toEqual(['Subject: a\r\n\r\nbody\r\n']);

    const failing = new Readable({ read() {} });
    const out = wholeMessage(failing);
    const consumed = (async () => {
      for await (const c of out) void c;
    })();
    failing.push(Buffer.from('Subject: b\r\n'));
    failing.destroy(new Error('attachment unreadable'));
    await expect(consumed).rejects.toThrow('attachment unreadable');
  });

  test('the transport is pooled: consecutive sends reuse one SMTP connection', async () => {
    // Count connections at the TCP level through a loopback proxy in front of the server.
    const proxy = net.createServer((client) => {
      connections += 1;
      const upstream = net.connect(smtp.port, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end);
      upstream.on('error', end);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
    const port = (proxy.address() as net.AddressInfo).port;
    const pooled = createMailer(`smtp://127.0.0.1:${port}`, FROM);
    try {
      for (let i = 1; i <= 5; i += 1) {
        await pooled.send({
          to: `pool${i}@example.org`,
          subject: `Pool ${i}`,
          text: 't',
          html: '<p>t</p>',
          messageId: messageIdFor(`pool:${i}`, FROM),
        });
      }
      expect(smtp.messages().filter((m) => /^Pool \d$/.test(m.subject))).toHaveLength(5);
      expect(connections).toBe(1);
    } finally {
      pooled.close();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  test('a refused connection rejects with the socket error (ESOCKET / ECONNREFUSED)', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const dead = createMailer(`smtp://127.0.0.1:${port}`, FROM);
    try {
      await expect(
        dead.send({ to: 'x@example.org', subject: 's', text: 't', html: 'h', messageId: messageIdFor('dead', FROM) })
      ).rejects.toMatchObject({ code: 'ESOCKET', originalCode: 'ECONNREFUSED', command: 'CONN' });
    } finally {
      dead.close();
    }
  });
});
