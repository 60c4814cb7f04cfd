/**
 * What a contract mail says, from the CRM's contract and contact: one function used by the mail activity (to send)
 * and by the contract check before the first write (to prove every mail of the contract renders before anything is
 * written, so a template or data problem never leaves a half-sent contract behind).
 *
 * Failures are non-retryable `ApplicationFailure`s with a domain code and ids only (no names, no addresses).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { SignflowConfig } from '../temporal.config';
import type { CrmContact, CrmContract } from '../db/crm-repository';
import { ErrorCode } from '../domain/errors';
import type { MailKind } from '../activities/types';
import { portalDocumentUrl, renderMail, TemplateValueMissingError, type RenderedMail } from './render-mail';

/** Deliberately loose: the contract activity validates addresses before anything is written; this guards the SMTP call. */
const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

function nonRetryable(type: string, message: string, details: Record<string, unknown>): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: [details] });
}

export interface ContractMailInput {
  kind: MailKind;
  /** The contract document's id; only its portal link goes into the mail. */
  documentId: number;
  /** 1-based number of a reminder. */
  sequence?: number;
  /** Confirmation only: whether the contact signed (else staff confirmed). Defaults to what the contract row says. */
  signedByContact?: boolean;
}

/** Renders one mail of a contract for its contact. Throws CONTACT_EMAIL_INVALID or TEMPLATE_VALUE_MISSING. */
export function composeContractMail(
  config: SignflowConfig,
  contract: CrmContract,
  contact: CrmContact,
  mail: ContractMailInput
): { to: string; rendered: RenderedMail } {
  const to = contact.email?.trim() ?? '';
  if (!EMAIL.test(to)) {
    throw nonRetryable(ErrorCode.CONTACT_EMAIL_INVALID, `contact ${contact.id} has no valid e-mail address`, {
      contractId: contract.id,
      contactId: contact.id,
    });
  }
  const common = {
    practiceName: config.mail.practiceName,
    recipientName: [contact.firstName, contact.lastName]
      .map((s) => s.trim())
      .filter(Boolean)
      .join(' '),
    contractTitle: contract.title,
    documentUrl: portalDocumentUrl(config.portal, mail.documentId),
  };
  try {
    let rendered: RenderedMail;
    if (mail.kind === 'reminder') {
      rendered = renderMail('reminder', { ...common, reminderNumber: mail.sequence ?? Number.NaN });
    } else if (mail.kind === 'confirmation') {
      rendered = renderMail('confirmation', {
        ...common,
        contractStatus: config.crm.values.contractInProgress,
        // Staff may confirm instead of the contact; then the mail must not thank them for a signature.
        signedByContact: mail.signedByContact ?? contract.confirmedBy === contact.id,
      });
    } else if (mail.kind === 'withdrawal') {
      rendered = renderMail('withdrawal', common);
    } else {
      rendered = renderMail('invitation', common);
    }
    return { to, rendered };
  } catch (err) {
    if (err instanceof TemplateValueMissingError) {
      throw nonRetryable(ErrorCode.TEMPLATE_VALUE_MISSING, err.message, {
        contractId: contract.id,
        template: err.template,
        placeholder: err.placeholder,
      });
    }
    throw err;
  }
}

/**
 * Renders every mail the contract can get (invitation, a reminder, the confirmation after a signature and after a
 * staff confirmation, the withdrawal notice) and throws the first failure. The document id is not known yet; any id gives the same check.
 */
export function checkContractMails(config: SignflowConfig, contract: CrmContract, contact: CrmContact): void {
  const documentId = 1;
  composeContractMail(config, contract, contact, { kind: 'invitation', documentId });
  composeContractMail(config, contract, contact, { kind: 'reminder', documentId, sequence: 1 });
  composeContractMail(config, contract, contact, { kind: 'confirmation', documentId, signedByContact: true });
  composeContractMail(config, contract, contact, { kind: 'confirmation', documentId, signedByContact: false });
  composeContractMail(config, contract, contact, { kind: 'withdrawal', documentId });
}
