/**
 * Whether a contract may be sent: the one rule both the doors (commands/, for an immediate answer) and the workflow's
 * first activity (for the truth at the moment of writing, since the CRM can change in between) apply. Pure: the caller
 * reads the rows, this decides. Messages name ids and labels only (they end up in histories and logs).
 */
import { isValidEmailAddress } from './email-address';
import { ErrorCode } from './errors';

export interface ContractFacts {
  id: number;
  contactId: number;
  status: string;
}

export interface ContactFacts {
  id: number;
  email: string | null;
}

/** Why a contract cannot be sent: a domain code, a sentence and the ids that explain it. */
export interface ContractViolation {
  code: ErrorCode;
  message: string;
  details: Record<string, number | string>;
}

export type ContractCheck<C extends ContractFacts, K extends ContactFacts> =
  { ok: true; contract: C; contact: K } | ({ ok: false } & ContractViolation);

/**
 * The contract and its contact when it can be sent, else the first reason it cannot. `contact` is the contract's contact as read
 * (undefined when the row is missing); `sendableStatuses` is `crm.values.contractSendableStatuses`. With
 * `requireSendable` false only the data is checked (a workflow resuming its own prepared request).
 */
export function checkContract<C extends ContractFacts, K extends ContactFacts>(
  contractId: number,
  contract: C | undefined,
  contact: K | undefined,
  sendableStatuses: readonly string[],
  requireSendable = true
): ContractCheck<C, K> {
  if (!contract) {
    return {
      ok: false,
      code: ErrorCode.CONTRACT_NOT_FOUND,
      message: `Contract ${contractId} does not exist.`,
      details: { contractId },
    };
  }
  if (!contact) {
    return {
      ok: false,
      code: ErrorCode.CONTACT_NOT_FOUND,
      message: `Contact ${contract.contactId} of contract ${contract.id} does not exist.`,
      details: { contractId: contract.id, contactId: contract.contactId },
    };
  }
  if (!isValidEmailAddress(contact.email)) {
    return {
      ok: false,
      code: ErrorCode.CONTACT_EMAIL_INVALID,
      message: `Contact ${contact.id} of contract ${contract.id} has no valid e-mail address.`,
      details: { contractId: contract.id, contactId: contact.id },
    };
  }
  if (requireSendable && !sendableStatuses.includes(contract.status)) {
    return {
      ok: false,
      code: ErrorCode.CONTRACT_NOT_SENDABLE,
      message:
        `Contract ${contract.id} has status "${contract.status}", which does not allow sending ` +
        `(allowed: ${sendableStatuses.map((s) => `"${s}"`).join(', ')}).`,
      details: { contractId: contract.id, status: contract.status },
    };
  }
  return { ok: true, contract, contact };
}
