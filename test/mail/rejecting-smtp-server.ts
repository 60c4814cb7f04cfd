/**
 * A real SMTP server on loopback that can REFUSE recipients, the one fault the shared dev inbox (mail/dev-inbox.ts)
 * does not make: `onRcptTo` answers e.g. `550 5.1.1 mailbox unavailable` or `450` for chosen addresses. Accepted
 * messages are kept with their Message-ID, so a test can see what got through after the refusal was lifted.
 */
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { simpleParser } from 'mailparser';
import type { AddressInfo } from 'node:net';

export interface AcceptedMail {
  /** Envelope recipients. */
  to: string[];
  messageId: string;
  subject: string;
}

export interface RejectingSmtpServer {
  port: number;
  url: string;
  messages(): AcceptedMail[];
  /** Recipients for which `pred` is true get `<responseCode> 5.1.1 mailbox unavailable` from now on. */
  rejectRecipients(pred: (address: string) => boolean, responseCode?: number): void;
  close(): Promise<void>;
}

export async function startRejectingSmtpServer(): Promise<RejectingSmtpServer> {
  const accepted: AcceptedMail[] = [];
  let reject: { pred: (address: string) => boolean; responseCode: number } | undefined;

  const server = new SMTPServer({
    // Loopback, plain text: no STARTTLS (the self-signed default certificate would fail verification) and no AUTH.
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    // The pooled mailer keeps idle connections open; don't let close() wait the default 30 s for them.
    closeTimeout: 500,
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      if (reject?.pred(address.address)) {
        const code = reject.responseCode;
        const err = new Error(`${code >= 500 ? 5 : 4}.1.1 mailbox unavailable`) as Error & { responseCode: number };
        err.responseCode = code;
        callback(err);
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        simpleParser(Buffer.concat(chunks))
          .then((parsed) => {
            accepted.push({
              to: session.envelope.rcptTo.map((r) => r.address),
              messageId: parsed.messageId ?? '',
              subject: parsed.subject ?? '',
            });
            callback();
          })
          .catch((err: Error) => callback(err));
      });
    },
  });

  await new Promise<void>((resolve, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(0, '127.0.0.1', () => {
      server.removeListener('error', rejectListen);
      resolve();
    });
  });
  // A client resetting its connection must not crash the test process.
  server.on('error', () => undefined);
  const port = (server.server.address() as AddressInfo).port;

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages: () => [...accepted],
    rejectRecipients(pred, responseCode = 550) {
      reject = { pred, responseCode };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
