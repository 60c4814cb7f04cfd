/**
 * A real SMTP server on loopback for the mail tests, with the one fault the shared dev inbox does not make: refusing a
 * recipient (`550` to RCPT TO, through smtp-server's `onRcptTo`). Every accepted message is kept raw and parsed.
 */
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';

export interface CapturedMail {
  raw: Buffer;
  parsed: ParsedMail;
  envelopeTo: string[];
}

export interface SmtpTestServer {
  port: number;
  url: string;
  messages(): CapturedMail[];
  /** Resolves with the first message matching `pred`; rejects after `timeoutMs`. */
  waitFor(pred: (m: CapturedMail) => boolean, timeoutMs: number): Promise<CapturedMail>;
  /** Recipients for which `pred` is true get `550 5.1.1 mailbox unavailable` (or the given code) from now on. */
  rejectRecipients(pred: (address: string) => boolean, responseCode?: number): void;
  close(): Promise<void>;
}

/** `port` 0 (default) picks a free one; a fixed port lets a test bring a server up where a dead one was. */
export async function startSmtpTestServer(options: { port?: number } = {}): Promise<SmtpTestServer> {
  const captured: CapturedMail[] = [];
  const waiters: Array<() => void> = [];
  let reject: { pred: (address: string) => boolean; responseCode: number } | undefined;

  const server = new SMTPServer({
    // Loopback, plain text: no STARTTLS (the self-signed default certificate would fail verification) and no AUTH.
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      if (reject?.pred(address.address)) {
        const err = new Error('5.1.1 mailbox unavailable') as Error & { responseCode: number };
        err.responseCode = reject.responseCode;
        callback(err);
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        simpleParser(raw)
          .then((parsed) => {
            captured.push({ raw, parsed, envelopeTo: session.envelope.rcptTo.map((r) => r.address) });
            for (const w of waiters.splice(0)) w();
            callback();
          })
          .catch((err: Error) => callback(err));
      });
    },
  });

  await new Promise<void>((resolve, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages: () => [...captured],
    waitFor(pred, timeoutMs) {
      return new Promise((resolve, rejectWait) => {
        const deadline = setTimeout(() => rejectWait(new Error(`no matching mail within ${timeoutMs} ms`)), timeoutMs);
        const check = (): void => {
          const hit = captured.find(pred);
          if (hit) {
            clearTimeout(deadline);
            resolve(hit);
          } else {
            waiters.push(check);
          }
        };
        check();
      });
    },
    rejectRecipients(pred, responseCode = 550) {
      reject = { pred, responseCode };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
