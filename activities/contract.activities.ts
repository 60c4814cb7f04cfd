/**
 * The contract activities (workflow steps 1, 2 and 5): validate, prepare the signature request, record the outcome,
 * void a pending request. Every table, column and label goes through `config.crm`; every write is one transaction and
 * idempotent on the workflow id, so Temporal may retry any of them after a crash without doubling a row.
 *
 * Failures that retrying cannot fix are `ApplicationFailure`s with `nonRetryable: true` and a domain error code as
 * `type` (domain/errors.ts); their messages name ids only.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import type { SignflowConfig } from '../temporal.config';
import {
  readContact,
  readContractWithContact,
  readSignature,
  readSignatureWithDocumentContent,
  shapeKeyOf,
  type CrmContact,
  type CrmContract,
  type CrmSignature,
} from '../db/crm-repository';
import { contractDocumentData, renderContractDocument, type ContractDocumentData } from '../documents/render-contract';
import { checkContractMails } from '../mail/contract-mail';
import { checkContract } from '../domain/contract-validation';
import { ErrorCode } from '../domain/errors';
import { hashableSigningTime, md5Hex, sha256Hex, signatureMd5 } from '../domain/signature-hash';
import { compiledStatement, insertRow } from '../db/compiled';
import type {
  ContractRef,
  ContractSnapshot,
  PreparedRequest,
  RecordConfirmationInput,
  RecordSignatureInput,
  RevertSignatureInput,
  SignatureOutcome,
  VoidSignatureInput,
  VoidSignatureResult,
} from './types';
import { rejection, withoutPersonalData } from './contract/failures';
import { appendAudit, AUDIT_TABLE, findRequest, insertRequest, type StoredRequest } from './contract/plugin-tables';
import { decodeSignaturePng } from './contract/signature-image';
import { whileHeartbeating } from './heartbeat';
import { revertSignatureRequest, type RevertResult } from './contract/revert-request';
import { lockInFirstRead, lockRow } from '../db/row-lock';

export interface ContractActivityDeps {
  db: Knex;
  config: SignflowConfig;
}

type Db = Knex | Knex.Transaction;

/** What a confirmation writes; the signature and the staff paths differ only in these values. */
interface Confirmation {
  kind: SignatureOutcome['kind'];
  method: SignatureOutcome['method'];
  /** Kontakt id written as the signature's user and the contract's confirmed-by. */
  userContactId: number;
  /** Only the contact the document was made for may sign; staff confirm on anyone's behalf. */
  requiredSigner?: number;
  at: Date;
  image?: Buffer;
  /** The portal's client (signatures only), for the audit trail. */
  client?: { ip?: string; userAgent?: string };
  /** The Update this confirmation answers, when the workflow records it with a local activity (see `sameUpdate`). */
  updateId?: string;
}

function parseTime(value: string, field: string, contractId: number): Date {
  const date = new Date(value);
  if (typeof value !== 'string' || Number.isNaN(date.getTime())) {
    throw rejection(ErrorCode.INVALID_SIGNATURE_INPUT, `${field} of contract ${contractId} is not an ISO timestamp.`, {
      contractId,
    });
  }
  return date;
}

export function createContractActivities(deps: ContractActivityDeps) {
  const { db, config } = deps;
  const crm = config.crm;
  const values = crm.values;

  async function validate(
    q: Db,
    ref: ContractRef,
    requireSendable: boolean,
    lock?: 'forUpdate'
  ): Promise<{ contract: CrmContract; contact: CrmContact }> {
    const check = await checked(q, ref, requireSendable, lock);
    if (!check.ok) throw rejection(check.code, check.message, check.details);
    return check;
  }

  /** The same rule the doors apply before starting (commands/), so both give the same code; contract and contact in one read. */
  async function checked(q: Db, ref: ContractRef, requireSendable: boolean, lock?: 'forUpdate') {
    const read = await readContractWithContact(q, crm, ref.contractId, undefined, lock);
    return checkContract(
      ref.contractId,
      read?.contract,
      read?.contact,
      values.contractSendableStatuses,
      requireSendable
    );
  }

  function documentData(contract: CrmContract, contact: CrmContact, createdAt: Date): ContractDocumentData {
    return contractDocumentData(contract, contact, config.mail.practiceName, createdAt);
  }

  /** Renders what step 2 and the mails will render; throws the non-retryable failure a real run would meet later. */
  async function checkRenders(contract: CrmContract, contact: CrmContact): Promise<void> {
    checkContractMails(config, contract, contact);
    await renderMapped(contract, documentData(contract, contact, new Date()));
  }

  /** The document, with a template or data problem as its domain failure (TEMPLATE_VALUE_MISSING, …). */
  async function renderMapped(contract: CrmContract, data: ContractDocumentData) {
    try {
      return await renderContractDocument(data);
    } catch (err) {
      const missing = err instanceof Error ? /^"([^"]+)" not defined in /.exec(err.message) : null;
      throw rejection(
        missing ? ErrorCode.TEMPLATE_VALUE_MISSING : ErrorCode.DOCUMENT_RENDER_FAILED,
        missing
          ? `document template has no value for placeholder "${missing[1]}" (contract ${contract.id}).`
          : `The document of contract ${contract.id} cannot be rendered (${err instanceof Error ? err.name : 'error'}).`,
        { contractId: contract.id }
      );
    }
  }

  function preparedFrom(stored: StoredRequest, ref: ContractRef): PreparedRequest {
    if (stored.contractId !== ref.contractId) {
      throw rejection(
        ErrorCode.CONTRACT_NOT_SENDABLE,
        `Workflow ${ref.workflowId} already prepared contract ${stored.contractId}, not contract ${ref.contractId}.`,
        { contractId: ref.contractId }
      );
    }
    return {
      contractId: stored.contractId,
      contactId: stored.contactId,
      documentId: stored.documentId,
      signatureId: stored.signatureId,
      documentMd5: stored.documentMd5,
      documentSha256: stored.documentSha256,
      sentAt: stored.createdAt.toISOString(),
    };
  }

  /** The signature row of this contract, locked; anything else is a caller bug and changes nothing. */
  async function lockedSignature(trx: Knex.Transaction, ref: ContractRef, signatureId: number): Promise<CrmSignature> {
    await lockRow(trx, crm.signatures.table, crm.signatures.id, signatureId);
    return ofContract(await readSignature(trx, crm, signatureId), ref, signatureId);
  }

  /**
   * `lockedSignature` with the content of the signature's document read in the same statement (a confirmation hashes
   * it): one read instead of two.
   */
  async function lockedSignatureWithContent(
    trx: Knex.Transaction,
    ref: ContractRef,
    signatureId: number
  ): Promise<{ signature: CrmSignature; content: Buffer | null }> {
    // On MySQL the read takes the row lock itself (one statement); elsewhere `lockRow` first.
    const lockingRead = lockInFirstRead(trx);
    if (!lockingRead) await lockRow(trx, crm.signatures.table, crm.signatures.id, signatureId);
    const read = await readSignatureWithDocumentContent(trx, crm, signatureId, lockingRead ? 'forUpdate' : undefined);
    return { signature: ofContract(read?.signature, ref, signatureId), content: read?.content ?? null };
  }

  /** The signature when it exists and belongs to this contract; anything else is a caller bug and changes nothing. */
  function ofContract(signature: CrmSignature | undefined, ref: ContractRef, signatureId: number): CrmSignature {
    if (
      !signature ||
      signature.linkedObjectType !== values.contractObjectType ||
      signature.linkedObjectId !== ref.contractId
    ) {
      throw rejection(
        ErrorCode.INVALID_SIGNATURE_INPUT,
        `Signature ${signatureId} does not exist or does not belong to contract ${ref.contractId}.`,
        { contractId: ref.contractId, signatureId }
      );
    }
    return signature;
  }

  function notPending(signature: CrmSignature, contractId: number) {
    const details = { contractId, signatureId: signature.id, status: signature.status };
    if (signature.status === values.signatureValid) {
      return rejection(
        ErrorCode.SIGNATURE_ALREADY_CONFIRMED,
        `Signature ${signature.id} of contract ${contractId} is already confirmed; a confirmed signature never changes.`,
        details
      );
    }
    if (signature.status === values.signatureExpired) {
      return rejection(
        ErrorCode.SIGNATURE_EXPIRED,
        `Signature ${signature.id} of contract ${contractId} has expired.`,
        details
      );
    }
    // Withdrawn, or any other label staff set in the CRM: either way it can no longer be signed.
    return rejection(
      ErrorCode.SIGNATURE_WITHDRAWN,
      `Signature ${signature.id} of contract ${contractId} is "${signature.status}", not pending; it was withdrawn.`,
      details
    );
  }

  /**
   * Step 5 for both doors (portal signature, staff confirmation), in the caller's transaction. Returns the stored
   * outcome unchanged when the same confirmation was already recorded (an activity retry).
   */
  async function confirm(
    trx: Knex.Transaction,
    ref: ContractRef & { signatureId: number },
    confirmation: Confirmation
  ): Promise<SignatureOutcome> {
    // Whole seconds: what the CRM's DATETIME column stores must be exactly what was hashed (domain/signature-hash.ts).
    const c = { ...confirmation, at: hashableSigningTime(confirmation.at) };
    const s = crm.signatures;
    const { signature, content } = await lockedSignatureWithContent(trx, ref, ref.signatureId);
    if (c.requiredSigner !== undefined && signature.contactId !== c.requiredSigner) {
      throw rejection(
        ErrorCode.WRONG_SIGNER,
        `Contact ${c.requiredSigner} may not sign signature ${signature.id} of contract ${ref.contractId}; ` +
          `it was made for contact ${signature.contactId}.`,
        { contractId: ref.contractId, signatureId: signature.id }
      );
    }
    if (!content) {
      // Written in the same transaction as the signature, so this is a CRM-side change; retryable as the code says,
      // the activity's retry policy bounds it.
      throw ApplicationFailure.create({
        type: ErrorCode.SIGNATURE_NOT_READY,
        message: `Document ${signature.documentId} of signature ${signature.id} (contract ${ref.contractId}) has no content.`,
        nonRetryable: false,
      });
    }
    const imageSha256 = c.image ? sha256Hex(c.image) : undefined;
    const md5Hash = signatureMd5({
      documentSha256: sha256Hex(content),
      signerContactId: c.userContactId,
      method: c.method,
      imageSha256,
      signedAt: c.at,
    });
    const outcome: SignatureOutcome = {
      kind: c.kind,
      signatureId: signature.id,
      userContactId: c.userContactId,
      method: c.method,
      confirmedAt: c.at.toISOString(),
      md5Hash,
    };

    if (signature.status !== values.signaturePending) {
      // The hash covers document, signer, method, image and time: equal hash = this very confirmation, retried.
      if (signature.status === values.signatureValid && signature.md5Hash === md5Hash) return outcome;
      const again = signature.status === values.signatureValid ? await sameUpdate(trx, ref, signature, c) : undefined;
      if (again) return again;
      throw notPending(signature, ref.contractId);
    }

    let imageDocumentId: number | null = null;
    if (c.image) {
      const d = crm.documents;
      const id = await insertRow(trx, d.table, {
        [d.title]: `Unterschriftenbild zu Honorarvertrag ${ref.contractId}`,
        [d.templateKind]: values.signatureImageTemplateKind,
        [d.mimeType]: 'image/png',
        [d.content]: c.image,
        [d.md5]: md5Hex(c.image),
        [d.sha256]: imageSha256,
        [d.linkedObjectType]: values.contractObjectType,
        [d.linkedObjectId]: ref.contractId,
        [d.createdAt]: c.at,
      });
      imageDocumentId = Number(id);
    }

    // Compiled once per mapping (db/compiled.ts); labels are values, never part of the text.
    const updated = await compiledStatement<number>(
      trx,
      `confirmSignature\u0000${shapeKeyOf(crm)}`,
      (id, pending, valid, byClick, image, user, md5, at) =>
        trx(s.table)
          .where(s.id, id)
          .andWhere(s.status, pending)
          .update({
            [s.status]: valid,
            [s.byAuthenticatedClick]: byClick,
            [s.image]: image,
            [s.userId]: user,
            [s.md5Hash]: md5,
            [s.signedAt]: at,
          }),
      [
        signature.id,
        values.signaturePending,
        values.signatureValid,
        c.method === 'drawn' ? values.no : values.yes,
        imageDocumentId,
        c.userContactId,
        md5Hash,
        c.at,
      ]
    );
    if (updated !== 1) {
      // Only reachable if something bypassed the row lock; the rollback keeps the image row out too.
      throw rejection(
        ErrorCode.SIGNATURE_ALREADY_CONFIRMED,
        `Signature ${signature.id} of contract ${ref.contractId} changed concurrently; nothing was written.`,
        { contractId: ref.contractId, signatureId: signature.id }
      );
    }

    const k = crm.contracts;
    const contractUpdated = await compiledStatement<number>(
      trx,
      `confirmContract\u0000${shapeKeyOf(crm)}`,
      (id, yes, inProgress, at, by) =>
        trx(k.table)
          .where(k.id, id)
          .update({
            [k.confirmedByFreelancer]: yes,
            [k.status]: inProgress,
            [k.lastStatusChange]: at,
            [k.confirmedAt]: at,
            [k.confirmedBy]: by,
          }),
      [ref.contractId, values.yes, values.contractInProgress, c.at, c.userContactId]
    );
    if (contractUpdated !== 1) {
      throw rejection(ErrorCode.CONTRACT_NOT_FOUND, `Contract ${ref.contractId} does not exist.`, {
        contractId: ref.contractId,
      });
    }

    await appendAudit(trx, {
      workflowId: ref.workflowId,
      contractId: ref.contractId,
      event: c.kind === 'signed' ? 'signature-recorded' : 'signature-confirmed-manually',
      at: c.at,
      detail: {
        signatureId: signature.id,
        userContactId: c.userContactId,
        method: c.method,
        imageDocumentId,
        md5Hash,
        ...(c.client ? { ip: c.client.ip ?? null, userAgent: c.client.userAgent ?? null } : {}),
        ...(c.updateId ? { updateId: c.updateId } : {}),
      },
    });
    return outcome;
  }

  /**
   * The stored outcome when this signature was confirmed by the same Update (`updateId` in its audit row), whatever
   * time the workflow passes now. A local activity's input is not in the history: when the workflow task that recorded
   * the signature is lost (a worker crash after the commit), the Update comes again in a new task, whose workflow time
   * is later, so the time and the hash differ although it is the same signature. Any other confirmation of a `gültig`
   * signature stays refused (SIGNATURE_ALREADY_CONFIRMED).
   */
  async function sameUpdate(
    trx: Knex.Transaction,
    ref: ContractRef,
    signature: CrmSignature,
    c: Confirmation
  ): Promise<SignatureOutcome | undefined> {
    if (!c.updateId || !signature.md5Hash || !signature.signedAt) return undefined;
    const event = c.kind === 'signed' ? 'signature-recorded' : 'signature-confirmed-manually';
    const rows = (await trx(AUDIT_TABLE).where({ workflow_id: ref.workflowId, event }).select('detail')) as Array<{
      detail: unknown;
    }>;
    const recorded = rows
      .map((r) => JSON.parse(String(r.detail)) as Record<string, unknown>)
      .find((d) => d.updateId === c.updateId && d.signatureId === signature.id && d.md5Hash === signature.md5Hash);
    if (!recorded || recorded.userContactId !== c.userContactId || recorded.method !== c.method) return undefined;
    return {
      kind: c.kind,
      signatureId: signature.id,
      userContactId: c.userContactId,
      method: c.method,
      confirmedAt: signature.signedAt.toISOString(),
      md5Hash: signature.md5Hash,
    };
  }

  /**
   * Step 2's write, in one transaction, from a document rendered before it (so the rendering holds no lock and, on
   * SQLite, does not block the process's only connection while pdfkit works); rendered again inside if the data
   * changed meanwhile.
   */
  async function prepareFrom(
    ref: ContractRef,
    now: Date,
    before: { data: ContractDocumentData; rendered: Awaited<ReturnType<typeof renderContractDocument>> }
  ): Promise<PreparedRequest> {
    let { data, rendered } = before;

    try {
      return await db.transaction(async (trx) => {
        // The contract row's lock first: on MySQL taken by the read of contract and contact itself (one statement).
        const lockingRead = lockInFirstRead(trx);
        if (!lockingRead) await lockRow(trx, crm.contracts.table, crm.contracts.id, ref.contractId);
        // No look for a request stored meanwhile (a concurrent attempt of this workflow id that committed first): its
        // contract is `versendet` now, so the check refuses, or, were that status sendable, the request row's unique
        // workflow id refuses our insert; either way the catch below returns the stored request.
        const { contract, contact } = await validate(trx, ref, true, lockingRead ? 'forUpdate' : undefined);
        const current = documentData(contract, contact, now);
        if (JSON.stringify(current) !== JSON.stringify(data)) {
          data = current;
          rendered = await renderContractDocument(data);
        }

        const documentMd5 = md5Hex(rendered.pdf);
        const documentSha256 = sha256Hex(rendered.pdf);
        const d = crm.documents;
        const documentId = await insertRow(trx, d.table, {
          [d.title]: contract.title || `Honorarvertrag ${contract.id}`,
          [d.templateKind]: values.contractTemplateKind,
          [d.mimeType]: 'application/pdf',
          [d.content]: rendered.pdf,
          [d.md5]: documentMd5,
          [d.sha256]: documentSha256,
          [d.linkedObjectType]: values.contractObjectType,
          [d.linkedObjectId]: contract.id,
          [d.createdAt]: now,
        });

        const s = crm.signatures;
        const signatureId = await insertRow(trx, s.table, {
          [s.status]: values.signaturePending,
          [s.contactId]: contact.id,
          [s.documentId]: Number(documentId),
          [s.linkedObjectType]: values.contractObjectType,
          [s.linkedObjectId]: contract.id,
        });

        const k = crm.contracts;
        const sendable = values.contractSendableStatuses;
        const updated = await compiledStatement<number>(
          trx,
          `contractSent\u0000${shapeKeyOf(crm)}\u0000${sendable.length}`,
          (id, sent, at, ...from) =>
            trx(k.table)
              .where(k.id, id)
              .whereIn(k.status, from as string[])
              .update({ [k.status]: sent, [k.lastStatusChange]: at }),
          [contract.id, values.contractSent, now, ...sendable]
        );
        if (updated !== 1) {
          throw rejection(
            ErrorCode.CONTRACT_NOT_SENDABLE,
            `Contract ${contract.id} changed its status while the signature request was prepared; nothing was written.`,
            { contractId: contract.id }
          );
        }

        const request: StoredRequest = {
          workflowId: ref.workflowId,
          contractId: contract.id,
          contactId: contact.id,
          documentId: Number(documentId),
          signatureId: Number(signatureId),
          documentMd5,
          documentSha256,
          createdAt: now,
        };
        await insertRequest(trx, request, rendered.html);
        await appendAudit(trx, {
          workflowId: ref.workflowId,
          contractId: contract.id,
          event: 'signature-request-prepared',
          at: now,
          // The status before `versendet`: what a revert restores.
          detail: {
            documentId: request.documentId,
            signatureId: request.signatureId,
            documentSha256,
            previousStatus: contract.status,
          },
        });
        return preparedFrom(request, ref);
      });
    } catch (err) {
      // A concurrent attempt for the same workflow id may have committed first (our insert then hits the unique key,
      // or the contract is already `versendet`): its result is this activity's result.
      const winner = await findRequest(db, ref.workflowId).catch(() => undefined);
      if (winner) return preparedFrom(winner, ref);
      throw err;
    }
  }

  return {
    /**
     * Step 1: validates without writing. `alreadyPrepared` when this workflow id already prepared the request. Before
     * the first write it also renders the document and every mail the contract can get with the contract's data, so
     * a template or data problem (TEMPLATE_VALUE_MISSING, DOCUMENT_RENDER_FAILED) fails here and writes nothing.
     */
    loadContract(ref: ContractRef): Promise<ContractSnapshot> {
      return withoutPersonalData('loadContract', ref.contractId, () =>
        whileHeartbeating(async () => {
          const prepared = await findRequest(db, ref.workflowId);
          if (prepared) preparedFrom(prepared, ref);
          const { contract, contact } = await validate(db, ref, !prepared);
          if (!prepared) await checkRenders(contract, contact);
          return {
            contractId: contract.id,
            contactId: contract.contactId,
            status: contract.status,
            alreadyPrepared: prepared !== undefined,
          };
        })
      );
    },

    /**
     * Step 2 in one transaction: document (PDF/A) in `dokumente`, signature `ausstehend`, contract `versendet`, the
     * `signflow_requests` row (its unique workflow id makes the step idempotent) and an audit event. A retry returns
     * the stored result and writes nothing.
     */
    prepareSignatureRequest(ref: ContractRef): Promise<PreparedRequest> {
      return withoutPersonalData('prepareSignatureRequest', ref.contractId, () =>
        whileHeartbeating(async () => {
          const now = new Date();
          const stored = await findRequest(db, ref.workflowId);
          if (stored) return preparedFrom(stored, ref);
          const before = await validate(db, ref, true);
          const data = documentData(before.contract, before.contact, now);
          return prepareFrom(ref, now, { data, rendered: await renderContractDocument(data) });
        })
      );
    },

    /**
     * Steps 1 and 2 in one activity (the contract workflow from `patched('lean-contract-path')` on): validate, check
     * every mail renders, render the document once and write it as `prepareSignatureRequest` does. A problem with the
     * data fails before the transaction with the same non-retryable code `loadContract` gives, and writes nothing; a
     * retry after the commit returns the stored request.
     */
    loadAndPrepareSignatureRequest(ref: ContractRef): Promise<PreparedRequest> {
      return withoutPersonalData('loadAndPrepareSignatureRequest', ref.contractId, () =>
        whileHeartbeating(async () => {
          const now = new Date();
          // A retry after the commit finds the contract `versendet` (no longer sendable), so the stored request is
          // looked for only when the check refuses: one read less on every first attempt. A check that passes with a
          // request stored meanwhile meets it again inside the transaction.
          const check = await checked(db, ref, true);
          if (!check.ok) {
            const stored = await findRequest(db, ref.workflowId);
            if (stored) return preparedFrom(stored, ref);
            throw rejection(check.code, check.message, check.details);
          }
          const { contract, contact } = check;
          checkContractMails(config, contract, contact);
          const data = documentData(contract, contact, now);
          return prepareFrom(ref, now, { data, rendered: await renderMapped(contract, data) });
        })
      );
    },

    /** Step 5, portal door: the contact signs by click or by a drawn PNG. */
    recordSignature(input: RecordSignatureInput): Promise<SignatureOutcome> {
      return withoutPersonalData('recordSignature', input.contractId, async () => {
        const at = parseTime(input.signedAt, 'signedAt', input.contractId);
        let image: Buffer | undefined;
        if (input.method === 'drawn') {
          if (!input.imagePngBase64) {
            throw rejection(
              ErrorCode.INVALID_SIGNATURE_INPUT,
              `A drawn signature for contract ${input.contractId} needs an image.`,
              { contractId: input.contractId }
            );
          }
          image = decodeSignaturePng(input.imagePngBase64, config.signature.maxImageBytes, input.contractId);
        } else if (input.method === 'click') {
          if (input.imagePngBase64) {
            throw rejection(
              ErrorCode.INVALID_SIGNATURE_INPUT,
              `A click signature for contract ${input.contractId} must not carry an image.`,
              { contractId: input.contractId }
            );
          }
        } else {
          throw rejection(
            ErrorCode.INVALID_SIGNATURE_INPUT,
            `Unknown signature method for contract ${input.contractId}.`,
            { contractId: input.contractId }
          );
        }
        return db.transaction((trx) =>
          confirm(trx, input, {
            kind: 'signed',
            method: input.method,
            userContactId: input.contactId,
            requiredSigner: input.contactId,
            at,
            image,
            client: { ip: input.ip, userAgent: input.userAgent },
            updateId: input.updateId,
          })
        );
      });
    },

    /**
     * Step 5, staff door. The signature becomes `gültig` too (a confirmed contract must not stay on anyone's pending
     * list), by authenticated click, with the staff member as its user and `staff` as the method in the hash.
     */
    recordManualConfirmation(input: RecordConfirmationInput): Promise<SignatureOutcome> {
      return withoutPersonalData('recordManualConfirmation', input.contractId, async () => {
        const at = parseTime(input.confirmedAt, 'confirmedAt', input.contractId);
        return db.transaction(async (trx) => {
          // Checked after the signature (whose row lock must be the transaction's first statement); a failure here
          // rolls everything back.
          const outcome = await confirm(trx, input, {
            kind: 'confirmed',
            method: 'staff',
            userContactId: input.staffContactId,
            at,
            updateId: input.updateId,
          });
          if (!(await readContact(trx, crm, input.staffContactId))) {
            throw rejection(
              ErrorCode.CONTACT_NOT_FOUND,
              `Staff contact ${input.staffContactId} does not exist (contract ${input.contractId}).`,
              { contractId: input.contractId, contactId: input.staffContactId }
            );
          }
          return outcome;
        });
      });
    },

    /**
     * Compensation: undoes step 2 when the workflow fails or is cancelled before a signature (see
     * contract/revert-request.ts). Idempotent.
     */
    revertSignatureRequest(input: RevertSignatureInput): Promise<RevertResult> {
      return withoutPersonalData('revertSignatureRequest', input.contractId, () =>
        revertSignatureRequest(db, config, { ...input, at: parseTime(input.at, 'at', input.contractId) })
      );
    },

    /** Withdraw or expire a pending signature. A `gültig` one is never touched; the contract is not changed. */
    voidSignatureRequest(input: VoidSignatureInput): Promise<VoidSignatureResult> {
      return withoutPersonalData('voidSignatureRequest', input.contractId, async () => {
        const at = parseTime(input.at, 'at', input.contractId);
        if (input.reason !== 'withdrawn' && input.reason !== 'expired') {
          throw rejection(ErrorCode.INVALID_SIGNATURE_INPUT, `Unknown void reason for contract ${input.contractId}.`, {
            contractId: input.contractId,
          });
        }
        const target = input.reason === 'withdrawn' ? values.signatureWithdrawn : values.signatureExpired;
        return db.transaction(async (trx) => {
          const signature = await lockedSignature(trx, input, input.signatureId);
          if (signature.status === values.signatureValid) return { result: 'already-valid' };
          if (signature.status !== values.signaturePending) return { result: 'already-voided' };
          const s = crm.signatures;
          const updated = await trx(s.table)
            .where(s.id, signature.id)
            .andWhere(s.status, values.signaturePending)
            .update({ [s.status]: target });
          if (updated !== 1) throw new Error(`signature ${signature.id} changed under its row lock`);
          await appendAudit(trx, {
            workflowId: input.workflowId,
            contractId: input.contractId,
            event: input.reason === 'withdrawn' ? 'signature-withdrawn' : 'signature-expired',
            at,
            detail: {
              signatureId: signature.id,
              staffContactId: input.staffContactId ?? null,
              ...(input.reason === 'withdrawn' ? { reason: input.withdrawalReason?.slice(0, 500) ?? null } : {}),
            },
          });
          return { result: 'voided' };
        });
      });
    },
  };
}

export type ContractActivities = ReturnType<typeof createContractActivities>;
