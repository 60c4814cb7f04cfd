/**
 * Which contracts' invitations have gone out, read from where it is true: `signflow_mails`, the row the mail activity
 * marks `sent` once the mail server accepted the invitation (or `refused` when it turned the recipient away for good).
 * A contract whose request ended before its invitation went out (signed, confirmed by staff, withdrawn, expired: the
 * mail activity then skips the invitation) will not get one: it is counted as skipped, so the run does not wait for it.
 * Incremental: each poll asks only about contracts not settled yet, in chunks, so a poll costs less as the bulk
 * proceeds and a large bulk never runs one slow count over everything.
 */
import type { Knex } from 'knex';
import { closedRequests } from '../activities/contract/request-status';
import { MAILS_TABLE } from '../activities/contract/revert-request';
import type { CrmMapping } from '../db/crm-mapping';

/** Contract ids per query (well under every driver's limit on bound parameters). */
const CHUNK = 500;
/**
 * Ended requests are looked for on every this many polls only (about once a second at the bar's 250 ms): they are
 * rare, and the bar's lag behind the mails table is what a poll's cost would add to.
 */
const CLOSED_CHECK_EVERY = 4;

export interface InvitationCounts {
  sent: number;
  /** The recipient's mail server refused the invitation for good (the contract needs a person). */
  refused: number;
  /** The request ended before its invitation went out (signed, confirmed, withdrawn, expired): none will be sent. */
  skipped: number;
}

export class InvitationProgress {
  private readonly pending = new Set<number>();
  private readonly sent = new Set<number>();
  private readonly refused = new Set<number>();
  private readonly skipped = new Set<number>();
  private polls = 0;

  constructor(
    private readonly db: Knex,
    private readonly crm: CrmMapping
  ) {}

  /** Contracts to follow (started or joined by this run); a contract already followed is not counted twice. */
  follow(contractId: number): void {
    if (!this.sent.has(contractId) && !this.refused.has(contractId) && !this.skipped.has(contractId)) {
      this.pending.add(contractId);
    }
  }

  get counts(): InvitationCounts {
    return { sent: this.sent.size, refused: this.refused.size, skipped: this.skipped.size };
  }

  /** True when every followed contract's invitation is sent, refused or skipped. */
  get settled(): boolean {
    return this.pending.size === 0;
  }

  /** Asks the database about the pending contracts; `onChange` after each chunk that moved something. */
  async poll(onChange?: (counts: InvitationCounts) => void): Promise<void> {
    const ids = [...this.pending];
    const checkClosed = this.polls++ % CLOSED_CHECK_EVERY === 0;
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      // The current request's invitation (first or sent again): a reverted request's rows carry `#reverted-` keys.
      const rows = (await this.db(MAILS_TABLE)
        .whereIn('contract_id', chunk)
        .andWhere('kind', 'invitation')
        .whereIn('status', ['sent', 'refused'])
        .andWhere('mail_key', 'not like', '%#reverted-%')
        .select('contract_id', 'status')) as { contract_id: number | string; status: 'sent' | 'refused' }[];
      let moved = false;
      // A refusal followed by a successful resend is sent: `sent` wins over `refused` for the same contract.
      for (const status of ['sent', 'refused'] as const) {
        for (const row of rows) {
          const id = Number(row.contract_id);
          if (row.status !== status || !this.pending.has(id)) continue;
          this.pending.delete(id);
          (status === 'sent' ? this.sent : this.refused).add(id);
          moved = true;
        }
      }
      // Only then the requests that ended without a sent or refused invitation (an invitation marked sent by the
      // time of the poll counts as sent, even if the request ended after it).
      const rest = checkClosed ? chunk.filter((id) => this.pending.has(id)) : [];
      if (rest.length > 0) {
        for (const id of (await closedRequests(this.db, this.crm, rest)).keys()) {
          this.pending.delete(id);
          this.skipped.add(id);
          moved = true;
        }
      }
      if (moved) onChange?.(this.counts);
    }
  }
}
