/**
 * A real SMTP server on loopback that keeps every message: the dev stack's mail sink and the tests' mail capture.
 * No auth, no TLS (loopback only); each message is parsed with mailparser, kept in memory and, with `dir`, written as
 * `<n>-<timestamp>.eml` so it opens in any mail program. Messages already in `dir` are loaded at start, so the dev
 * inbox survives a restart of the dev stack. With `bodies: false` only the header block is parsed; with `parse: false`
 * (the benchmark) nothing goes through mailparser, the header fields are taken as sent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface CapturedMail {
  /** 1, 2, 3… in order of arrival (continues after the messages loaded from `dir`). */
  id: number;
  /** The From header as text, e.g. `Praxis <praxis@example.de>`. */
  from: string;
  /** Envelope recipients (RCPT TO): everyone the message was delivered to, Bcc included. */
  to: string[];
  subject: string;
  /** The text part; '' when the inbox parses no bodies (`bodies: false`). */
  text: string;
  /** The HTML part, '' when the message has none (or the inbox parses no bodies: `bodies: false`). */
  html: string;
  /** The Message-ID header including the angle brackets, '' when missing. */
  messageId: string;
  /** Header names in lower case; decoded where mailparser decodes (Subject, addresses), else the raw value. */
  headers: Record<string, string>;
  /** The message exactly as received. */
  raw: Buffer;
  receivedAt: Date;
  /** The .eml file, when the inbox writes to a folder. */
  file?: string;
}

export interface DevInbox {
  /** The port the SMTP server listens on (the real one when started with port 0). */
  port: number;
  host: string;
  /** Every message so far, oldest first (a copy). */
  messages(): CapturedMail[];
  /** First message, received already or later, that matches `pred`; rejects after `timeoutMs` naming what arrived. */
  waitFor(pred: (m: CapturedMail) => boolean, timeoutMs?: number): Promise<CapturedMail>;
  /** Forgets the messages in memory (files stay). */
  clear(): void;
  /** Called for every new message (the inbox page uses it for nothing but tests may). Returns an unsubscribe. */
  onMessage(listener: (m: CapturedMail) => void): () => void;
  close(): Promise<void>;
}

export interface DevInboxOptions {
  /** 0 = any free port. */
  port: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Folder for `.eml` files; created if missing. */
  dir?: string;
  /** Largest accepted message in bytes. @default 25 MiB */
  maxBytes?: number;
  /**
   * Parse the message bodies (`text`, `html`). `false`: only the header block goes through mailparser, so every header
   * field is what a full parse gives, and `text` and `html` are ''. For a caller that finds mails by their headers only
   * (the benchmark, which waits for `X-Signflow-Mail-Key`): the full parse of a confirmation with its Prüfprotokoll
   * (~47 KB of quoted-printable and base64) costs about five times the header block's, in the process that also runs
   * the worker. @default true
   */
  bodies?: boolean;
  /**
   * `false`: no mailparser at all. `headers` holds every header field as sent (names in lower case, folded lines
   * joined, encoded words NOT decoded), `from`, `subject` and `messageId` are those raw values, `to` the envelope's
   * recipients, `text` and `html` ''. For a caller that finds mails by a plain ASCII header (the benchmark, which waits
   * for `X-Signflow-Mail-Key`): mailparser's pass over even the header block is most of what the inbox costs per mail
   * in the process that also runs the worker, and a real mail server is not in that process. @default true
   */
  parse?: boolean;
  /**
   * Recipients to refuse with `550 5.1.1 mailbox unavailable`, as a real server does for an address that does not
   * exist (tests of the MAIL_REJECTED path). @default none
   */
  rejectRecipient?: (address: string) => boolean;
  /**
   * Recipients to turn away for now with `451 4.3.0 try again later`, as a real server does while it is overloaded or
   * its mailbox store is down (tests of an SMTP outage: the sender must retry). Asked on every attempt. @default none
   */
  deferRecipient?: (address: string) => boolean;
  /**
   * Recipients whose RCPT TO is answered only once the returned promise settles, as a slow mail server answers (tests
   * of a mail in flight: the sender has handed it over and waits). Undefined = answer at once. @default none
   */
  holdRecipient?: (address: string) => Promise<void> | undefined;
}

function addressText(a: AddressObject | AddressObject[] | undefined): string {
  if (!a) return '';
  return Array.isArray(a) ? a.map((x) => x.text).join(', ') : a.text;
}

function headerValue(value: unknown, rawLine: string): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object' && 'text' in value && typeof value.text === 'string') return value.text;
  // Structured headers (Content-Type and friends): the raw value after "Name:", unfolded.
  return rawLine.replace(/^[^:]*:\s*/, '').replace(/\r?\n[ \t]+/g, ' ');
}

function headersOf(parsed: ParsedMail): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, line } of parsed.headerLines) {
    const v = headerValue(parsed.headers.get(key), line);
    out[key] = out[key] === undefined ? v : `${out[key]}\n${v}`;
  }
  return out;
}

/** The header block of a message: up to and including the first empty line (the whole message when it has none). */
function headerBlock(raw: Buffer): Buffer {
  const crlf = raw.indexOf('\r\n\r\n');
  if (crlf >= 0) return raw.subarray(0, crlf + 4);
  const lf = raw.indexOf('\n\n');
  return lf >= 0 ? raw.subarray(0, lf + 2) : raw;
}

/** The header fields of a header block as sent: lower-case names, folded lines joined (RFC 5322 unfolding), not decoded. */
export function rawHeaders(block: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  const unfolded = block.toString('utf8').replace(/\r?\n(?=[ \t])/g, '');
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    out[key] = out[key] === undefined ? value : `${out[key]}\n${value}`;
  }
  return out;
}

function captureUnparsed(id: number, raw: Buffer, envelopeTo: string[], receivedAt: Date): CapturedMail {
  const headers = rawHeaders(headerBlock(raw));
  return {
    id,
    from: headers.from ?? '',
    to: envelopeTo,
    subject: headers.subject ?? '',
    text: '',
    html: '',
    messageId: headers['message-id'] ?? '',
    headers,
    raw,
    receivedAt,
  };
}

async function capture(
  id: number,
  raw: Buffer,
  envelopeTo: string[],
  receivedAt: Date,
  bodies: boolean,
  parse = true
): Promise<CapturedMail> {
  if (!parse) return captureUnparsed(id, raw, envelopeTo, receivedAt);
  const parsed = await simpleParser(bodies ? raw : headerBlock(raw), { skipImageLinks: true, skipTextToHtml: true });
  const toFromHeaders = [parsed.to, parsed.cc]
    .flatMap((a) => (a ? (Array.isArray(a) ? a : [a]) : []))
    .flatMap((a) => a.value.map((v) => v.address ?? ''))
    .filter(Boolean);
  return {
    id,
    from: addressText(parsed.from),
    to: envelopeTo.length > 0 ? envelopeTo : toFromHeaders,
    subject: parsed.subject ?? '',
    text: bodies ? (parsed.text ?? '') : '',
    html: bodies && typeof parsed.html === 'string' ? parsed.html : '',
    messageId: parsed.messageId ?? '',
    headers: headersOf(parsed),
    raw,
    receivedAt,
  };
}

const EML_NAME = /^(\d+)-.*\.eml$/;

/** Loads the `.eml` files of an earlier run (recipients from the To/Cc headers: the envelope is not kept). */
async function loadExisting(dir: string, bodies: boolean): Promise<CapturedMail[]> {
  const files = fs
    .readdirSync(dir)
    .filter((f) => EML_NAME.test(f))
    .sort((a, b) => Number(EML_NAME.exec(a)?.[1]) - Number(EML_NAME.exec(b)?.[1]));
  const out: CapturedMail[] = [];
  for (const f of files) {
    const file = path.join(dir, f);
    try {
      const mail = await capture(
        Number(EML_NAME.exec(f)?.[1]),
        fs.readFileSync(file),
        [],
        fs.statSync(file).mtime,
        bodies
      );
      out.push({ ...mail, file });
    } catch {
      // A half-written or foreign file must not keep the dev stack from starting.
    }
  }
  return out;
}

export async function startDevInbox(options: DevInboxOptions): Promise<DevInbox> {
  const host = options.host ?? '127.0.0.1';
  const dir = options.dir;
  const bodies = options.bodies ?? true;
  const parse = options.parse ?? true;
  let messages: CapturedMail[] = [];
  let nextId = 1;
  if (dir) {
    fs.mkdirSync(dir, { recursive: true });
    messages = await loadExisting(dir, bodies);
    nextId = messages.reduce((max, m) => Math.max(max, m.id), 0) + 1;
  }
  const listeners = new Set<(m: CapturedMail) => void>();

  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    hideSTARTTLS: true,
    logger: false,
    banner: 'signflow dev inbox',
    size: options.maxBytes ?? 25 * 1024 * 1024,
    // A pooled client (the worker's mailer) keeps idle connections open; don't wait 30 s for them on close.
    closeTimeout: 500,
    onRcptTo(address, _session, callback) {
      if (options.rejectRecipient?.(address.address)) {
        callback(Object.assign(new Error('5.1.1 mailbox unavailable'), { responseCode: 550 }));
        return;
      }
      if (options.deferRecipient?.(address.address)) {
        callback(Object.assign(new Error('4.3.0 try again later'), { responseCode: 451 }));
        return;
      }
      const held = options.holdRecipient?.(address.address);
      if (held) {
        held.then(
          () => callback(),
          () => callback()
        );
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => callback(err));
      stream.on('end', () => {
        if ((stream as { sizeExceeded?: boolean }).sizeExceeded) {
          callback(Object.assign(new Error('message too large'), { responseCode: 552 }));
          return;
        }
        const raw = Buffer.concat(chunks);
        const id = nextId++;
        const receivedAt = new Date();
        const envelopeTo = session.envelope.rcptTo.map((r) => r.address);
        capture(id, raw, envelopeTo, receivedAt, bodies, parse)
          .then((mail) => {
            if (dir) {
              const file = path.join(dir, `${id}-${receivedAt.toISOString().replace(/[:.]/g, '-')}.eml`);
              fs.writeFileSync(file, raw);
              mail.file = file;
            }
            messages.push(mail);
            for (const l of listeners) l(mail);
            callback(null, `queued as ${id}`);
          })
          .catch((err: Error) => callback(Object.assign(err, { responseCode: 451 })));
      });
    },
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.removeListener('error', reject);
      const addr = server.server.address();
      resolve(addr && typeof addr === 'object' ? addr.port : options.port);
    });
  });
  // After start, a client error (a reset connection) must not crash the process.
  server.on('error', () => undefined);

  const onMessage = (listener: (m: CapturedMail) => void): (() => void) => {
    listeners.add(listener);
    return () => void listeners.delete(listener);
  };

  const closers = new Set<() => void>();
  let closed: Promise<void> | undefined;

  return {
    port,
    host,
    messages: () => [...messages],
    waitFor(pred, timeoutMs = 10_000) {
      const found = messages.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise<CapturedMail>((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          off();
          closers.delete(onClose);
        };
        const onClose = (): void => {
          done();
          reject(new Error('dev inbox closed while waiting for a mail'));
        };
        const timer = setTimeout(() => {
          done();
          const got = messages.map((m) => `#${m.id} to ${m.to.join(',')}: ${m.subject}`).join('; ') || 'none';
          reject(new Error(`no matching mail within ${timeoutMs} ms (received: ${got})`));
        }, timeoutMs);
        const off = onMessage((m) => {
          if (!pred(m)) return;
          done();
          resolve(m);
        });
        closers.add(onClose);
      });
    },
    clear: () => void (messages = []),
    onMessage,
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const c of [...closers]) c();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}

export { startInboxPage, type InboxPage } from './inbox-page';
