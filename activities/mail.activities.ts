/**
 * `sendContractMail`: the invitation, reminder, confirmation and withdrawal mails of a contract, one per mail key (see
 * below for the one case that delivers it twice).
 *
 * The key is `<workflowId>:<kind>` (invitation, confirmation, withdrawal), `<workflowId>:reminder:<sequence>`, or
 * `<workflowId>:invitation:<n>` for the n-th invitation (n ≥ 2, sent again after the first was refused): the unique
 * `mail_key` of `signflow_mails`. One attempt:
 *
 * 0. A withdrawal mail while `SIGNFLOW_WITHDRAWAL_MAIL_ENABLED` is false → nothing is sent (`skipped: 'disabled'`).
 * 1. An invitation or reminder whose signature is no longer pending (signed, confirmed, withdrawn, expired meanwhile)
 *    is not sent: it would ask for something that is over. The result says `skipped`, the audit trail `mail-skipped`
 *    (unless its row says `sent`: then `alreadySent`). (The workflow checks the same before it schedules the mail; this
 *    covers what changed while it was scheduled.)
 * 2. Read the contract and the contact through the CRM mapping (for an invitation or reminder in the same statement
 *    as step 1's signature status) and render the mail. A template or data problem fails
 *    here, non-retryable, before anything is claimed or sent (unless the key's row says `sent`: then `alreadySent`).
 * 3. Claim the key: INSERT the row with status `sending`, without looking first (one statement for a first attempt).
 *    When the key has a row already, the row decides: `sent` → nothing is sent again, the result says
 *    `alreadySent: true`; `refused` → taken back as `sending` (one winner; the loser fails retryably and its retry sees
 *    the winner's outcome); `sending` left by an earlier attempt (see below) → sent again with the Message-ID the row
 *    has; `sending` claimed since this attempt began (a concurrent attempt) → MAIL_SEND_IN_PROGRESS, retryable.
 * 4. Send over SMTP with the key's deterministic Message-ID, then mark the row `sent` (message id, sent_at). A mail the
 *    server refuses for good (MAIL_REJECTED) keeps its row with status `refused`, so the table shows it; sending the
 *    same key again later claims that row anew.
 *
 * The one edge that is at-least-once rather than exactly-once: a crash AFTER the SMTP server accepted the mail and
 * BEFORE the row says `sent` leaves a `sending` row (a database that is down at that moment is waited for within the
 * attempt, see write-after-send.ts; an outage longer than the attempt is the same edge). The retry that finds it cannot know whether
 * the mail went out, so it sends again, with the SAME Message-ID. Mail clients and most servers collapse messages with
 * the same Message-ID, and anyone reading the inbox or the logs can tell the second copy is the same mail. Sending
 * nothing instead would risk a contract whose invitation never arrived, which is worse than a rare duplicate.
 *
 * Failures carry ids, kinds and SMTP codes only, never addresses, names or the server's reply text (which often quotes
 * the address).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import type { SignflowConfig } from '../temporal.config';
import type { Mailer, OutgoingMail } from '../mail/mailer';
import { messageIdFor } from '../mail/mailer';
import type { RenderedMail } from '../mail/render-mail';
import { composeContractMail } from '../mail/contract-mail';
import { bufferOrNull, readContractWithContact, readDocument, toDate, type AlsoRead } from '../db/crm-repository';
import { closedStatus, requestSignatureStatus, requestSignatureStatusAlso } from './contract/request-status';
import { AUDIT_TABLE, appendAudit } from './contract/plugin-tables';
import { ErrorCode } from '../domain/errors';
import type { MailKind, SendMailInput, SendMailResult } from './types';
import { whileHeartbeating } from './heartbeat';
import { writeAfterSend } from './write-after-send';
import { isUniqueViolation } from '../db/unique-violation';
import { compiledStatement, insertRow } from '../db/compiled';

export const MAILS_TABLE = 'signflow_mails';

/**
 * Failure types of this activity besides the domain codes (`ErrorCode`). Both are retryable: they describe a moment,
 * not the mail.
 */
export const MailFailureType = {
  /** The SMTP server could not be reached or answered with a transient error (4xx, timeout, connection lost). */
  MAIL_SEND_FAILED: 'MAIL_SEND_FAILED',
  /** Another attempt claimed the same mail key a moment ago and has not finished; the retry will see its outcome. */
  MAIL_SEND_IN_PROGRESS: 'MAIL_SEND_IN_PROGRESS',
  /** The activity was called with an impossible input (a workflow bug): e.g. a reminder without a sequence. */
  INVALID_MAIL_INPUT: 'INVALID_MAIL_INPUT',
} as const;

export interface MailActivityDeps {
  db: Knex;
  config: SignflowConfig;
  mailer: Mailer;
}

/** A row of `signflow_mails` as this activity reads it. */
interface MailRow {
  mail_key: string;
  status: 'sending' | 'sent' | 'refused' | 'skipped';
  message_id: string | null;
  created_at: unknown;
}

const MAIL_KINDS: readonly MailKind[] = ['invitation', 'reminder', 'confirmation', 'withdrawal'];

/**
 * `<workflowId>:<kind>`, `<workflowId>:reminder:<sequence>` or `<workflowId>:invitation:<n>` (n ≥ 2); validates the input
 * shape on the way.
 */
export function mailKeyFor(input: Pick<SendMailInput, 'workflowId' | 'kind' | 'sequence'>): string {
  if (!MAIL_KINDS.includes(input.kind)) {
    throw ApplicationFailure.create({
      type: MailFailureType.INVALID_MAIL_INPUT,
      message: `unknown mail kind: ${String(input.kind)}`,
      nonRetryable: true,
    });
  }
  if (input.kind === 'reminder') {
    if (input.sequence === undefined || !Number.isInteger(input.sequence) || input.sequence < 1) {
      throw ApplicationFailure.create({
        type: MailFailureType.INVALID_MAIL_INPUT,
        message: `a reminder needs a sequence >= 1, got ${String(input.sequence)}`,
        nonRetryable: true,
      });
    }
    return `${input.workflowId}:reminder:${input.sequence}`;
  }
  // The first invitation keeps the key it always had; one sent again after a refusal gets its own row.
  if (input.kind === 'invitation' && input.sequence !== undefined && input.sequence !== 1) {
    if (!Number.isInteger(input.sequence) || input.sequence < 1) {
      throw ApplicationFailure.create({
        type: MailFailureType.INVALID_MAIL_INPUT,
        message: `an invitation's sequence must be >= 1, got ${String(input.sequence)}`,
        nonRetryable: true,
      });
    }
    return `${input.workflowId}:invitation:${input.sequence}`;
  }
  return `${input.workflowId}:${input.kind}`;
}

/** Another attempt of the same key is at it: retryable, and the retry sees that attempt's outcome. */
function inProgress(mailKey: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: MailFailureType.MAIL_SEND_IN_PROGRESS,
    message: `another attempt is sending mail ${mailKey}; retrying to see its outcome`,
    nonRetryable: false,
  });
}

function nonRetryable(type: string, message: string, details?: Record<string, unknown>): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: details ? [details] : undefined });
}

/** The parts of a nodemailer error this activity reads. */
interface SmtpError {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  permanent?: boolean;
}

/**
 * Which SMTP failures are final. A permanent (5xx, not 503) reply to the recipient (`EENVELOPE`) or to the message
 * itself (`EMESSAGE`, e.g. 554 content refused) gets the same answer on every retry: MAIL_REJECTED, non-retryable.
 * Everything else is retryable: 4xx replies, refused or dropped connections, timeouts, and also 5xx authentication
 * errors (EAUTH 535), because those are fixed by ops in the SMTP configuration, after which the retries go through.
 */
function classifySendError(err: unknown, kind: MailKind, mailKey: string): ApplicationFailure {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SmtpError;
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const permanent =
    e.permanent ?? (responseCode !== undefined && responseCode >= 500 && responseCode < 600 && responseCode !== 503);
  // e.g. 5.1.1: says what happened without quoting the address the server's reply text may contain.
  const enhanced = typeof e.response === 'string' ? /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(e.response)?.[1] : undefined;
  // The error's class name, never its message: nodemailer messages quote the server's reply, often with the address.
  const errorName = err instanceof Error ? err.name : typeof err;
  const details = {
    mailKey,
    kind,
    smtpCode: e.code,
    responseCode,
    enhancedStatus: enhanced,
    command: e.command,
    errorName,
  };
  const what = [e.code, responseCode, enhanced].filter((x) => x !== undefined).join(' ');
  if (permanent && (e.code === 'EENVELOPE' || e.code === 'EMESSAGE')) {
    return nonRetryable(
      ErrorCode.MAIL_REJECTED,
      `the SMTP server permanently refused the ${kind} mail (${what}); nothing was delivered`,
      details
    );
  }
  return ApplicationFailure.create({
    type: MailFailureType.MAIL_SEND_FAILED,
    message: `sending the ${kind} mail failed (${what || 'unknown error'}); will retry`,
    nonRetryable: false,
    details: [details],
  });
}

export function createMailActivities(deps: MailActivityDeps) {
  const { db, config, mailer } = deps;
  const crm = config.crm;

  async function readRow(mailKey: string): Promise<MailRow | undefined> {
    const row = await db(MAILS_TABLE)
      .where('mail_key', mailKey)
      .first('mail_key', 'status', 'message_id', 'created_at');
    return row as MailRow | undefined;
  }

  /** Reads the CRM and renders; every failure here is about data or templates, so none is retryable. */
  async function compose(
    input: SendMailInput,
    read: Awaited<ReturnType<typeof readContractWithContact>>
  ): Promise<{ to: string; rendered: RenderedMail }> {
    if (!read) {
      throw nonRetryable(ErrorCode.CONTRACT_NOT_FOUND, `contract ${input.contractId} not found`, {
        contractId: input.contractId,
      });
    }
    const { contract, contact } = read;
    if (!contact) {
      throw nonRetryable(
        ErrorCode.CONTACT_NOT_FOUND,
        `contact ${contract.contactId} of contract ${contract.id} not found`,
        {
          contractId: contract.id,
          contactId: contract.contactId,
        }
      );
    }
    return composeContractMail(config, contract, contact, input);
  }

  /**
   * An invitation or reminder asks for a signature: once the signature is no longer pending (signed, confirmed,
   * withdrawn, expired), it would not be true any more. Returns the signature's status then, else undefined.
   */
  async function requestClosed(
    input: SendMailInput,
    read: Awaited<ReturnType<typeof readContractWithContact>>
  ): Promise<string | undefined> {
    if (input.kind !== 'invitation' && input.kind !== 'reminder') return undefined;
    // Read with the contract (one statement); on its own only when the contract row is gone.
    const status = read
      ? read.also.signatureId == null
        ? undefined
        : read.also.status
      : await requestSignatureStatus(db, crm, input.workflowId);
    return status === undefined ? undefined : closedStatus(crm, status);
  }

  /**
   * Claims the key with a `sending` row, inserted without looking first: the first attempt of a key (almost every one)
   * then costs one statement, not two. When the key has a row already, that row says what to do: `sent` → nothing more
   * (returned); `refused` → taken back as `sending`; `sending` (an attempt that crashed between claim and mark) or
   * `skipped` → sent again under the Message-ID the row has. A `sending` row claimed at or after `attemptStartedAt`
   * (milliseconds; the insert of a first attempt comes after it) belongs to a concurrent attempt, not a crashed one:
   * MAIL_SEND_IN_PROGRESS, and the retry sees that attempt's outcome.
   */
  async function claim(
    input: SendMailInput,
    mailKey: string,
    to: string,
    subject: string,
    attemptStartedAt: number
  ): Promise<{ sent: MailRow } | { messageId: string }> {
    const messageId = messageIdFor(mailKey, config.mail.from);
    try {
      await insertRow(db, MAILS_TABLE, {
        mail_key: mailKey,
        workflow_id: input.workflowId,
        contract_id: input.contractId,
        kind: input.kind,
        sequence: input.kind === 'reminder' || input.kind === 'invitation' ? (input.sequence ?? null) : null,
        recipient: to,
        subject: subject.slice(0, 998),
        message_id: messageId,
        status: 'sending',
        created_at: new Date(),
      });
      return { messageId };
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    const existing = await readRow(mailKey);
    // Gone between our insert and this read (a revert renamed it): the retry claims it afresh.
    if (!existing) throw inProgress(mailKey);
    if (existing.status === 'sent') return { sent: existing };
    if (existing.status === 'refused') await reclaimRefused(mailKey, to, subject);
    else if (existing.status === 'sending' && (toDate(existing.created_at)?.getTime() ?? 0) >= attemptStartedAt) {
      // Claimed since this attempt began: a concurrent attempt of the same key is sending it now.
      throw inProgress(mailKey);
    }
    return { messageId: existing.message_id || messageId };
  }

  /**
   * The confirmation carries the contract's Prüfprotokoll (made right before it) when `SIGNFLOW_CERTIFICATE_ATTACHMENT`
   * is on. A contract from before the certificate existed has none: its confirmation goes without.
   */
  async function certificateAttachment(
    input: SendMailInput,
    read: Awaited<ReturnType<typeof readContractWithContact>>
  ): Promise<NonNullable<OutgoingMail['attachments']>> {
    if (!attachesCertificate(input)) return [];
    let content: Buffer | null;
    if (input.certificateDocumentId !== undefined && read) {
      // Read with the contract (certificateAlso).
      content = bufferOrNull(read.also.certificateContent);
    } else {
      const documentId = input.certificateDocumentId ?? (await latestCertificateId(input.contractId));
      if (documentId === undefined) return [];
      content = (await readDocument(db, crm, documentId))?.content ?? null;
    }
    if (!content) return [];
    return [
      {
        filename: `Pruefprotokoll-Honorarvertrag-${input.contractId}.pdf`,
        content,
        contentType: 'application/pdf',
      },
    ];
  }

  function attachesCertificate(input: SendMailInput): boolean {
    return input.kind === 'confirmation' && config.evidence.certificateAttachment;
  }

  /**
   * The Prüfprotokoll's content as part of the confirmation's read of the contract (`readContractWithContact`'s
   * `also`): the document the workflow names, left-joined by its id, so null when it is gone. One statement instead of
   * two on every confirmation.
   */
  function certificateAlso(documentId: number): AlsoRead {
    const d = crm.documents;
    return {
      key: 'certificateContent',
      values: [documentId],
      join: (query, [id]) => {
        query.leftJoin(`${d.table} as sf_cert`, (on) => {
          on.onVal(`sf_cert.${d.id}`, '=', id as number);
        });
      },
      columns: { certificateContent: `sf_cert.${d.content}` },
    };
  }

  /** The contract's latest Prüfprotokoll per the audit trail, for a confirmation scheduled without its id. */
  async function latestCertificateId(contractId: number): Promise<number | undefined> {
    const row = (await db(AUDIT_TABLE)
      .where({ contract_id: contractId, event: 'certificate-created' })
      .orderBy('id', 'desc')
      .first('detail')) as { detail: string } | undefined;
    return row ? (JSON.parse(row.detail) as { documentId: number }).documentId : undefined;
  }

  /** A row left `refused` by an earlier attempt of the same key: taken back as `sending` (one winner). */
  async function reclaimRefused(mailKey: string, to: string, subject: string): Promise<void> {
    const taken = await db(MAILS_TABLE)
      .where({ mail_key: mailKey, status: 'refused' })
      .update({ status: 'sending', recipient: to, subject: subject.slice(0, 998), created_at: new Date() });
    if (taken !== 1) throw inProgress(mailKey);
  }

  async function send(input: SendMailInput): Promise<SendMailResult> {
    const attemptStartedAt = Date.now();
    const mailKey = mailKeyFor(input);
    if (input.kind === 'withdrawal' && !config.mail.withdrawalMailEnabled) {
      return { mailKey, messageId: '', alreadySent: false, skipped: 'disabled' };
    }
    const alreadySent = async (): Promise<SendMailResult | undefined> => {
      const row = await readRow(mailKey);
      if (row?.status !== 'sent') return undefined;
      return { mailKey, messageId: row.message_id ?? messageIdFor(mailKey, config.mail.from), alreadySent: true };
    };

    const asksForSignature = input.kind === 'invitation' || input.kind === 'reminder';
    const read = await readContractWithContact(
      db,
      crm,
      input.contractId,
      asksForSignature
        ? requestSignatureStatusAlso(crm, input.workflowId)
        : attachesCertificate(input) && input.certificateDocumentId !== undefined
          ? certificateAlso(input.certificateDocumentId)
          : undefined
    );
    const closed = await requestClosed(input, read);
    if (closed !== undefined) {
      // A mail sent before the request closed stays sent (a retry after a lost answer).
      const sent = await alreadySent();
      if (sent) return sent;
      await appendAudit(db, {
        workflowId: input.workflowId,
        contractId: input.contractId,
        event: 'mail-skipped',
        detail: { mailKey, kind: input.kind, signatureStatus: closed },
        at: new Date(),
      });
      return { mailKey, messageId: '', alreadySent: false, skipped: 'request-closed' };
    }

    let composed: { to: string; rendered: RenderedMail };
    try {
      composed = await compose(input, read);
    } catch (err) {
      // A mail sent before the data or the templates changed stays sent; only an unsent one fails for them.
      const sent = await alreadySent();
      if (sent) return sent;
      throw err;
    }
    const { to, rendered } = composed;
    const attachments = await certificateAttachment(input, read);
    const claimed = await claim(input, mailKey, to, rendered.subject, attemptStartedAt);
    if ('sent' in claimed) {
      return {
        mailKey,
        messageId: claimed.sent.message_id ?? messageIdFor(mailKey, config.mail.from),
        alreadySent: true,
      };
    }
    const { messageId } = claimed;

    try {
      await mailer.send({
        to,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        messageId,
        headers: {
          // RFC 3834: an automated mail; keeps out-of-office replies and auto-responders away.
          'Auto-Submitted': 'auto-generated',
          // Lets staff and the dev inbox find the workflow of a mail; an id, no personal data.
          'X-Signflow-Mail-Key': mailKey,
        },
        ...(attachments.length ? { attachments } : {}),
      });
    } catch (err) {
      const failure = classifySendError(err, input.kind, mailKey);
      if (failure.type === ErrorCode.MAIL_REJECTED) {
        // Refused, so certainly not delivered: the row says so (never a mail stuck in `sending`), and the CRM, the
        // staff and `signflow status` see the refusal; sending the same key again later claims the row anew.
        await db(MAILS_TABLE).where({ mail_key: mailKey, status: 'sending' }).update({ status: 'refused' });
        // For the staff digest ("mails the recipient's server refused"): ids and codes only, never the address.
        const d = (failure.details?.[0] ?? {}) as { responseCode?: number; enhancedStatus?: string };
        await appendAudit(db, {
          workflowId: input.workflowId,
          contractId: input.contractId,
          event: 'mail-rejected',
          at: new Date(),
          detail: { mailKey, kind: input.kind, responseCode: d.responseCode, enhancedStatus: d.enhancedStatus },
        });
      }
      // Transient: keep the `sending` row. The retry resends with the same Message-ID (the server may have taken
      // the message before the connection dropped).
      throw failure;
    }

    // The SMTP server has the mail: a failed write here would send it again on the retry (see write-after-send.ts).
    await writeAfterSend(
      () =>
        compiledStatement(
          db,
          'mailSent',
          (key, id, at) =>
            db(MAILS_TABLE).where('mail_key', key).update({ status: 'sent', message_id: id, sent_at: at }),
          [mailKey, messageId, new Date()]
        ),
      attemptStartedAt
    );
    return { mailKey, messageId, alreadySent: false };
  }

  return {
    sendContractMail(input: SendMailInput): Promise<SendMailResult> {
      return whileHeartbeating(() => send(input));
    },

    /**
     * The workflow dropped an invitation or reminder between two attempts because the request ended meanwhile
     * (signed, confirmed, withdrawn, expired): the row its last attempt left `sending` becomes `skipped`, and the audit
     * trail says `mail-skipped`, as when the activity itself finds the request closed. Called only when no attempt of
     * the key runs (the last one has failed), so no mail of the key can still go out. Idempotent: a retry after the
     * commit finds no `sending` row and writes nothing.
     */
    async recordMailSkipped(
      input: Pick<SendMailInput, 'workflowId' | 'contractId' | 'kind' | 'sequence'>
    ): Promise<{ mailKey: string; recorded: boolean }> {
      const mailKey = mailKeyFor(input);
      const recorded = await db.transaction(async (trx) => {
        const changed = await trx(MAILS_TABLE)
          .where({ mail_key: mailKey, status: 'sending' })
          .update({ status: 'skipped' });
        if (changed !== 1) return false;
        await appendAudit(trx, {
          workflowId: input.workflowId,
          contractId: input.contractId,
          event: 'mail-skipped',
          detail: { mailKey, kind: input.kind, afterFailedAttempt: true },
          at: new Date(),
        });
        return true;
      });
      return { mailKey, recorded };
    },
  };
}
