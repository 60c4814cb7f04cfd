import net from 'node:net';
import { createMailer, messageIdFor, type Mailer } from '../../mail/mailer';
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
