/**
 * Mails to the practice's staff address (`SIGNFLOW_STAFF_MAIL`): "the eHBA's signer parked, a person is needed" and
 * the daily digest. Each mail is sent at most once per key (a row in `signflow_mails`, like the contract mails):
 *
 * - `<signerWorkflowId>:staff-parked:<parkedSince>:1` when the signer parks, `…:2` once more after the configured wait;
 * - `staff-digest:<local date>` once a day.
 *
 * Without a staff address both are no-ops that say so. The rows carry contract id 0 (they concern no single contract).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Knex } from 'knex';
import { contractsReport } from '../db/reports';
import { ErrorCode } from '../domain/errors';
import type { Mailer } from '../mail/mailer';
import { messageIdFor } from '../mail/mailer';
import { renderStaffMail, type DigestLine, type RenderedMail } from '../mail/render-mail';
import { staffActionDe } from '../mail/staff-actions';
import type { SignflowConfig } from '../temporal.config';
import { SA_CRM_CONTRACT_ID, statusQuery, type ContractState } from '../workflows/definitions';
import { AUDIT_TABLE } from './contract/plugin-tables';
import { MAILS_TABLE } from './mail.activities';
import type { SignerParkedNoticeInput, SignerParkedNoticeResult } from './types';
import { isUniqueViolation } from '../db/unique-violation';
import { writeAfterSend } from './write-after-send';

export interface StaffMailActivityDeps {
  config: SignflowConfig;
  db: Knex;
  mailer: Mailer;
  temporal: Client;
}

export interface StaffDigestResult {
  result: 'sent' | 'already-sent' | 'no-staff-address' | 'switched-off';
  mailKey?: string;
  pending?: number;
  parked?: number;
  refused?: number;
}

/** Most lines per list: a digest is a short mail; the reports have the rest. */
const DIGEST_MAX_LINES = 50;

export function createStaffMailActivities({ config, db, mailer, temporal }: StaffMailActivityDeps) {
  const zone = config.staff.digestTimeZone;
  const dateTime = new Intl.DateTimeFormat('de-DE', { timeZone: zone, dateStyle: 'medium', timeStyle: 'short' });
  const dateOnly = new Intl.DateTimeFormat('de-DE', { timeZone: zone, dateStyle: 'medium' });
  /** `YYYY-MM-DD` in the practice's time zone: the digest's key. */
  const isoDay = new Intl.DateTimeFormat('sv-SE', {
    timeZone: zone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  });

  /**
   * Sends one staff mail once per key. A `sent` row means done; a `sending` row is an attempt that crashed after
   * claiming and is sent again with the same Message-ID (as the contract mails do).
   */
  async function sendOnce(
    to: string,
    mailKey: string,
    row: { workflowId: string; kind: string; sequence: number | null },
    rendered: RenderedMail
  ): Promise<'sent' | 'already-sent'> {
    const attemptStartedAt = Date.now();
    const existing = (await db(MAILS_TABLE).where('mail_key', mailKey).first('status', 'message_id')) as
      { status: string; message_id: string | null } | undefined;
    if (existing?.status === 'sent') return 'already-sent';
    const messageId = existing?.message_id || messageIdFor(mailKey, config.mail.from);
    if (!existing) {
      try {
        await db(MAILS_TABLE).insert({
          mail_key: mailKey,
          workflow_id: row.workflowId,
          contract_id: 0,
          kind: row.kind,
          sequence: row.sequence,
          recipient: to,
          subject: rendered.subject.slice(0, 998),
          message_id: messageId,
          status: 'sending',
          created_at: new Date(),
        });
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        throw ApplicationFailure.retryable(`another attempt is sending staff mail ${mailKey}`, 'MAIL_SEND_IN_PROGRESS');
      }
    }
    try {
      await mailer.send({
        to,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        messageId,
        headers: { 'Auto-Submitted': 'auto-generated', 'X-Signflow-Mail-Key': mailKey },
      });
    } catch (err) {
      const e = err as { code?: string; responseCode?: number };
      if ((e.code === 'EENVELOPE' || e.code === 'EMESSAGE') && (e.responseCode ?? 0) >= 500) {
        await db(MAILS_TABLE).where({ mail_key: mailKey, status: 'sending' }).delete();
        throw ApplicationFailure.nonRetryable(
          `the SMTP server permanently refused the staff mail ${mailKey} (${e.code} ${e.responseCode}); check SIGNFLOW_STAFF_MAIL`,
          ErrorCode.MAIL_REJECTED
        );
      }
      throw ApplicationFailure.retryable(
        `sending the staff mail ${mailKey} failed (${e.code ?? 'unknown error'}); will retry`,
        'MAIL_SEND_FAILED'
      );
    }
    await writeAfterSend(
      () => db(MAILS_TABLE).where('mail_key', mailKey).update({ status: 'sent', sent_at: new Date() }),
      attemptStartedAt
    );
    return 'sent';
  }

  /** Titles of the given contracts from "Honorarverträge verwalten" (one query per id is fine for a short list). */
  async function titles(ids: number[]): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    const c = config.crm.contracts;
    if (ids.length === 0) return out;
    const rows: Record<string, unknown>[] = await db(c.table)
      .select({ id: c.id, title: c.title })
      .whereIn(c.id, [...new Set(ids)]);
    for (const r of rows) out.set(Number(r.id), String(r.title ?? ''));
    return out;
  }

  return {
    /** The signer parked (or is still parked after the configured wait): tell staff what happened and what to do. */
    async notifySignerParked(input: SignerParkedNoticeInput): Promise<SignerParkedNoticeResult> {
      const to = config.staff.mail;
      if (!to) return { result: 'no-staff-address' };
      const sequence = input.notice === 'parked' ? 1 : 2;
      const mailKey = `${input.signerWorkflowId}:staff-parked:${input.parkedSince}:${sequence}`;
      const action = staffActionDe(input.failureType);
      const rendered = renderStaffMail('staff-parked', {
        practiceName: config.mail.practiceName,
        reminder: input.notice === 'still-parked',
        parkedSince: dateTime.format(new Date(input.parkedSince)),
        failureType: input.failureType,
        gematikCode: input.gematikCode,
        card: input.iccsn ? `ICCSN ${input.iccsn}` : 'Standard-eHBA',
        waiting: input.waiting,
        waitingOne: input.waiting === 1,
        what: action.what,
        action: action.action,
        command: action.command,
      });
      const result = await sendOnce(
        to,
        mailKey,
        { workflowId: input.signerWorkflowId, kind: 'staff-parked', sequence },
        rendered
      );
      return { result, mailKey };
    },

    /**
     * The daily digest: pending signatures older than `staff.digestPendingDays`, contracts waiting for the QES
     * countersignature, and mails the recipient's server refused in the same number of days.
     */
    async sendStaffDigest(): Promise<StaffDigestResult> {
      const to = config.staff.mail;
      if (!to) return { result: 'no-staff-address' };
      if (!config.staff.digestEnabled) return { result: 'switched-off' };
      const now = new Date();
      const days = config.staff.digestPendingDays;
      const cutoff = now.getTime() - days * 86_400_000;
      const values = config.crm.values;

      // "Honorarverträge verwalten": sent contracts whose signature is still pending since before the cutoff.
      const sent = await contractsReport(db, config.crm, { status: values.contractSent }, { limit: 10_000, offset: 0 });
      const pending: DigestLine[] = sent
        .filter((r) => r.signatureStatus === values.signaturePending)
        .filter((r) => r.lastStatusChange !== null && Date.parse(r.lastStatusChange) < cutoff)
        .map((r) => ({
          contractId: r.contractId,
          title: r.title,
          detail: `versendet am ${dateOnly.format(new Date(r.lastStatusChange as string))}`,
        }));

      // Contracts parked on the comfort signature, from Temporal's visibility; the reason from their status query.
      const parked: DigestLine[] = [];
      const parkedIds: number[] = [];
      for await (const wf of temporal.workflow.list({
        query: `WaitingReason = 'comfort-signature' AND ExecutionStatus = 'Running'`,
      })) {
        const contractId = wf.typedSearchAttributes.get(SA_CRM_CONTRACT_ID);
        if (contractId === undefined) continue;
        parkedIds.push(contractId);
        const state = await temporal.workflow
          .getHandle(wf.workflowId)
          .query(statusQuery)
          .catch((): ContractState | undefined => undefined);
        parked.push({ contractId, title: '', detail: state?.waitingDetail ?? 'wartet auf die Komfortsignatur' });
        if (parked.length >= DIGEST_MAX_LINES) break;
        Context.current().heartbeat();
      }

      // Mails refused for good, as the mail activity recorded them in the audit trail.
      const refusedRows: { contract_id: number; detail: string; at: unknown }[] = await db(AUDIT_TABLE)
        .where('event', 'mail-rejected')
        .where('at', '>=', new Date(cutoff))
        .orderBy('at', 'asc')
        .limit(DIGEST_MAX_LINES)
        .select('contract_id', 'detail', 'at');
      const refused: DigestLine[] = refusedRows.map((r) => {
        const detail = JSON.parse(r.detail) as { kind?: string; responseCode?: number };
        return {
          contractId: Number(r.contract_id),
          title: '',
          detail: `${detail.kind ?? 'E-Mail'} abgelehnt${detail.responseCode ? ` (SMTP ${detail.responseCode})` : ''}`,
        };
      });

      const names = await titles([...parkedIds, ...refused.map((r) => r.contractId)]);
      for (const line of [...parked, ...refused]) line.title = names.get(line.contractId) ?? '(unbekannt)';

      const shortPending = pending.slice(0, DIGEST_MAX_LINES);
      const rendered = renderStaffMail('staff-digest', {
        practiceName: config.mail.practiceName,
        date: dateOnly.format(now),
        pendingDays: days,
        pending: shortPending,
        parked,
        refused,
        nothing: pending.length + parked.length + refused.length === 0,
      });
      const mailKey = `staff-digest:${isoDay.format(now)}`;
      const result = await sendOnce(
        to,
        mailKey,
        { workflowId: mailKey, kind: 'staff-digest', sequence: null },
        rendered
      );
      return { result, mailKey, pending: pending.length, parked: parked.length, refused: refused.length };
    },
  };
}

export type StaffMailActivities = ReturnType<typeof createStaffMailActivities>;
