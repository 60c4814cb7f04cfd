/**
 * The Konnektor activities the contract workflow and the batching signing workflow call.
 *
 * Every Konnektor failure leaves here as an `ApplicationFailure` from `toKonnektorApplicationFailure`: transient ones
 * retryable (Temporal backs off), needs-a-person ones non-retryable with the cause as `type` and the gematik code and
 * the staff action in `details[0]` (`KonnektorFailureDetails`).
 *
 * No document is signed twice: the RequestID of a document is deterministic (`<workflowId>/qes/<documentId>`), each
 * SignDocument call's signatures are recorded in `signflow_qes` before the next call and before the activity returns,
 * and a retried or repeated batch returns recorded signatures instead of signing again. (A worker that dies between
 * the Konnektor's answer and the insert loses that answer: the retry signs again, and only that second signature is
 * stored. The Konnektor cannot be asked for a signature it already made.)
 */
import { createHash, randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import {
  KonnektorError,
  KonnektorFailureType,
  staffActionFor,
  toKonnektorApplicationFailure,
  type KonnektorFailureDetails,
} from '../../domain/konnektor-errors';
import { dialectOfDb } from '../../db/connection';
import { md5Hex, sha256Hex } from '../../domain/signature-hash';
import type { SignflowConfig } from '../../temporal.config';
import type { CardInfo, KonnektorClient, SignRequestInput } from './konnektor-client';
import {
  findComfortSession,
  findQesRow,
  findQesRows,
  insertQesRows,
  markComfortSessionDeactivated,
  saveComfortSession,
  type QesRowSummary,
} from './qes-tables';
import { shortTextFor } from './signature-formats';
import {
  countersignRequestId,
  type ActivateComfortSignatureInput,
  type CardSelector,
  type ComfortSignatureStatus,
  type CountersignatureVerification,
  type CountersignResult,
  type DeactivateComfortSignatureResult,
  type HbaCard,
  type RejectedCountersign,
  type ResetCardResult,
  type SignDocumentsInput,
  type SignDocumentsResult,
  type StoreCountersignatureInput,
  type StoredCountersignature,
  type VerifyCountersignatureInput,
} from './types';

export interface KonnektorActivityDeps {
  konnektor: KonnektorClient;
  db: Knex;
  config: SignflowConfig;
  /** Clock for tests. @default () => new Date() */
  now?: () => Date;
}

function attempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

function heartbeat(details?: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // Outside an activity (CLI, tests): nothing to report to.
  }
}

/** Runs `fn`; a `KonnektorError` becomes the classified ApplicationFailure, anything else passes unchanged. */
async function classified<T>(fn: () => Promise<T>, extra?: () => Partial<KonnektorFailureDetails>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof KonnektorError)) throw err;
    const failure = toKonnektorApplicationFailure(err, attempt());
    const more = extra?.();
    if (more && failure.details?.[0]) Object.assign(failure.details[0] as object, more);
    throw failure;
  }
}

function needsPerson(type: KonnektorFailureType, message: string, operation: string): KonnektorError {
  return new KonnektorError(message, { failureType: type, faultClass: 'needs-person', operation });
}

export function createKonnektorActivities(deps: KonnektorActivityDeps) {
  const { konnektor, db, config } = deps;
  const crm = config.crm;
  const now = deps.now ?? (() => new Date());
  const iccsnOf = (sel: CardSelector | undefined) => sel?.iccsn ?? config.konnektor.hbaIccsn;
  const cardKey = (card: CardInfo) => card.iccsn ?? card.cardHandle;

  const toHbaCard = (c: CardInfo): HbaCard => ({
    iccsn: c.iccsn,
    cardHandle: c.cardHandle,
    cardHolderName: c.cardHolderName,
    certificateExpirationDate: c.certificateExpirationDate,
    cardTerminalId: c.ctId,
  });

  /** The UserId signflow's session runs under: ours (activated by signflow), else the configured one. */
  async function sessionUserId(card: CardInfo): Promise<{ userId?: string; activatedAt?: Date; ours: boolean }> {
    const stored = await findComfortSession(db, cardKey(card));
    if (stored && !stored.deactivatedAt) return { userId: stored.userId, activatedAt: stored.activatedAt, ours: true };
    return { userId: config.konnektor.userId, ours: false };
  }

  async function modeOf(card: CardInfo): Promise<ComfortSignatureStatus> {
    const session = await sessionUserId(card);
    // GetSignatureMode needs all four context ids; without a session a random UserId still reports the configuration.
    const mode = await konnektor.getSignatureMode(card.cardHandle, session.userId ?? randomUUID());
    const s = session.userId ? mode.session : undefined;
    const active = !!s && s.mode === 'COMFORT' && s.countRemaining > 0 && s.timeRemainingSeconds > 0;
    return {
      iccsn: card.iccsn,
      comfortSupported: mode.comfortSupported,
      comfortEnabled: mode.comfortEnabled,
      comfortMax: mode.comfortMax,
      comfortTimerSeconds: mode.comfortTimerSeconds,
      active,
      countRemaining: active ? s.countRemaining : 0,
      timeRemainingSeconds: active ? s.timeRemainingSeconds : 0,
      activatedAt: session.activatedAt?.toISOString(),
      checkedAt: now().toISOString(),
    };
  }

  async function loadDocument(
    documentId: number
  ): Promise<{ content: Buffer; mimeType: string; title: string; sha256: string }> {
    const d = crm.documents;
    const row = (await db(d.table).where(d.id, documentId).first()) as Record<string, unknown> | undefined;
    const raw = row?.[d.content];
    if (!row || raw == null) throw documentMissing(documentId);
    const content = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
    return {
      content,
      mimeType: String(row[d.mimeType] ?? 'application/octet-stream'),
      title: String(row[d.title] ?? ''),
      sha256: sha256Hex(content),
    };
  }

  function documentMissing(documentId: number): KonnektorError {
    return needsPerson(
      KonnektorFailureType.DOCUMENT_REJECTED,
      `document ${documentId} not found or without content`,
      'SignDocument'
    );
  }

  /**
   * What signing needs to know of the documents before their bytes are read: size, MIME type, title. One query for the
   * batch: it runs before the SignDocument call, while the card waits.
   */
  async function documentMetas(
    documentIds: number[]
  ): Promise<Map<number, { size: number; mimeType: string; title: string }>> {
    const d = crm.documents;
    const out = new Map<number, { size: number; mimeType: string; title: string }>();
    const unique = [...new Set(documentIds)];
    for (let i = 0; i < unique.length; i += 200) {
      const rows = (await db(d.table)
        .whereIn(d.id, unique.slice(i, i + 200))
        .select(db.ref(d.id).as('doc_id'), d.mimeType, d.title, db.raw('length(??) as size', [d.content]))) as Record<
        string,
        unknown
      >[];
      for (const row of rows) {
        if (row.size == null) continue;
        out.set(Number(row.doc_id), {
          size: Number(row.size),
          mimeType: String(row[d.mimeType] ?? 'application/octet-stream'),
          title: String(row[d.title] ?? ''),
        });
      }
    }
    for (const id of unique) if (!out.has(id)) throw documentMissing(id);
    return out;
  }

  /** The document's bytes (when its SignDocument call is written). */
  async function documentContent(documentId: number): Promise<Buffer> {
    const d = crm.documents;
    const row = (await db(d.table).where(d.id, documentId).first(d.content)) as Record<string, unknown> | undefined;
    const raw = row?.[d.content];
    if (raw == null) throw documentMissing(documentId);
    return Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
  }

  /**
   * Stores the recorded signature of `requestId` as a `dokumente` row linked to the contract (template kind
   * `crm.values.qesTemplateKind`, with MD5 and SHA-256), inside `trx`; one stored before is returned as it is.
   * Undefined when nothing is recorded for the request id.
   */
  async function storeQesDocument(
    trx: Knex.Transaction,
    requestId: string
  ): Promise<StoredCountersignature | undefined> {
    // Row lock on MySQL so two attempts cannot both insert a document; SQLite serialises writers anyway.
    if (dialectOfDb(db) === 'mysql') await trx('signflow_qes').where('request_id', requestId).forUpdate().first();
    const qes = await findQesRow(trx, { requestId });
    if (!qes) return undefined;
    const base = {
      requestId: qes.requestId,
      contractId: qes.contractId,
      variant: qes.variant,
      sha256: qes.signatureSha256,
      md5: md5Hex(qes.signature),
    };
    if (qes.qesDocumentId !== null) return { ...base, qesDocumentId: qes.qesDocumentId, alreadyStored: true };
    const d = crm.documents;
    // Its title only: the document's bytes are not needed here.
    const source = (await trx(d.table).where(d.id, qes.sourceDocumentId).first(d.title)) as
      Record<string, unknown> | undefined;
    const sourceTitle = source ? String(source[d.title] ?? '') : '';
    const extension = qes.variant === 'PAdES' ? 'pdf' : 'p7s';
    const [inserted] = await trx(d.table).insert({
      [d.title]: `QES-Gegenzeichnung ${sourceTitle || `Honorarvertrag ${qes.contractId}`} (${extension})`.slice(0, 255),
      [d.templateKind]: crm.values.qesTemplateKind,
      [d.mimeType]: qes.mimeType,
      [d.content]: qes.signature,
      [d.md5]: base.md5,
      [d.sha256]: base.sha256,
      [d.linkedObjectType]: crm.values.contractObjectType,
      [d.linkedObjectId]: qes.contractId,
      [d.createdAt]: now(),
    });
    const qesDocumentId = Number(
      typeof inserted === 'object' && inserted !== null ? Object.values(inserted)[0] : inserted
    );
    await trx('signflow_qes')
      .where('request_id', qes.requestId)
      .update({ qes_document_id: qesDocumentId, stored_at: now() });
    return { ...base, qesDocumentId, alreadyStored: false };
  }

  const resultOf = (row: QesRowSummary, documentId: number, alreadySigned: boolean): CountersignResult => ({
    requestId: row.requestId,
    contractId: row.contractId,
    workflowId: row.workflowId,
    documentId,
    variant: row.variant,
    signatureSha256: row.signatureSha256,
    alreadySigned,
    ...(row.qesDocumentId !== null ? { qesDocumentId: row.qesDocumentId } : {}),
  });

  return {
    /** The eHBA and its current card handle (EventService GetCards). `CARD_MISSING`, `CERTIFICATE_INVALID`. */
    async findHbaCard(input: CardSelector = {}): Promise<HbaCard> {
      return classified(async () => toHbaCard(await konnektor.findHbaCard(iccsnOf(input), now())));
    },

    /** GetSignatureMode for signflow's session on the eHBA: is comfort signature active, how many, how long. */
    async getSignatureMode(input: CardSelector = {}): Promise<ComfortSignatureStatus> {
      return classified(() => konnektor.withCard(iccsnOf(input), (card) => modeOf(card)));
    },

    /**
     * ActivateComfortSignature with a fresh UUIDv4 UserId: the card terminal asks the card holder for the PIN once.
     * Long-running (up to `konnektor.activationTimeout`); heartbeats while it waits. Stores the UserId for the eHBA.
     */
    async activateComfortSignature(input: ActivateComfortSignatureInput = {}): Promise<ComfortSignatureStatus> {
      const timer = setInterval(() => heartbeat('waiting for PIN entry'), 5_000);
      try {
        return await classified(() =>
          konnektor.withCard(iccsnOf(input), async (card) => {
            heartbeat('activating');
            const { userId } = await konnektor.activateComfortSignature(card.cardHandle);
            await saveComfortSession(db, {
              cardIccsn: cardKey(card),
              userId,
              activatedAt: now(),
              activatedBy: input.staffContactId,
            });
            return modeOf(card);
          })
        );
      } finally {
        clearInterval(timer);
      }
    },

    /**
     * Staff action after 4018 (`signflow konnektor reset-card`, gemILF_PS A_21528): EjectCard and RequestCard on the
     * eHBA's slot through the Konnektor's CardTerminalService. Every card session ends (signflow's comfort session is
     * marked ended); afterwards staff activate the comfort signature again.
     */
    async resetCard(input: CardSelector = {}): Promise<ResetCardResult> {
      return classified(async () => {
        const r = await konnektor.resetCard(iccsnOf(input));
        await markComfortSessionDeactivated(db, cardKey(r.before), now());
        return {
          iccsn: r.after.iccsn,
          cardTerminalId: r.after.ctId,
          slotId: r.after.slotId,
          alreadyInserted: r.alreadyInserted,
        };
      });
    },

    /** DeactivateComfortSignature: ends ALL comfort sessions of the eHBA (every client system and UserId). */
    async deactivateComfortSignature(input: CardSelector = {}): Promise<DeactivateComfortSignatureResult> {
      return classified(() =>
        konnektor.withCard(iccsnOf(input), async (card) => {
          const { warnings } = await konnektor.deactivateComfortSignature([card.cardHandle]);
          await markComfortSessionDeactivated(db, cardKey(card), now());
          return { iccsn: card.iccsn, warnings: warnings.map((w) => w.code) };
        })
      );
    },

    /**
     * QES countersignature of contract documents with the comfort signature, `konnektor.batchSize` per SignDocument
     * call. Already-signed request ids are returned from `signflow_qes` without signing. Never signs more than the
     * session has left: what fits is signed and recorded, then `COMFORT_SIGNATURE_EXPIRED` is thrown with the recorded
     * request ids in `details[0].signedRequestIds`; calling again after re-activation signs the rest.
     */
    async signDocuments(input: SignDocumentsInput): Promise<SignDocumentsResult> {
      const items = [...new Map(input.items.map((i) => [countersignRequestId(i), i])).entries()];
      const recorded = new Map(
        (
          await findQesRows(
            db,
            items.map(([id]) => id)
          )
        ).map((r) => [r.requestId, r])
      );
      const previouslyRecorded = new Set(recorded.keys());
      let calls = 0;
      let countRemaining: number | undefined;
      const rejected: RejectedCountersign[] = [];
      const ahead = Math.max(0, input.ahead ?? 0);
      let deferred: string[] = [];
      const signedIds = () => [...recorded.keys()];
      // A prepared call may wait for the card while an earlier call of this eHBA is signed: keep heartbeating then.
      let progress: { done: number; total: number } | undefined;
      const beat = setInterval(() => heartbeat(progress), 10_000);
      try {
        await classified(
          async () => {
            const todo = items.filter(([id]) => !recorded.has(id));
            if (todo.length === 0) return;
            // Sizes and types only: the bytes are read per SignDocument call, so a batch of large documents never sits in
            // the worker's memory whole (their SHA-256 is taken as they are read).
            const metas = await documentMetas(todo.map(([, item]) => item.documentId));
            const docs = new Map(todo.map(([id, item]) => [id, metas.get(item.documentId)!]));
            const sha256Of = new Map<string, string>();
            await konnektor.withCard(iccsnOf(input), async (card) => {
              const endpoints = await konnektor.discover();
              const pending = todo.filter(([id]) => !recorded.has(id));
              let userId: string;
              let capacity = pending.length;
              if (endpoints.signature.comfortSignature) {
                const session = await sessionUserId(card);
                const mode = await modeOf(card);
                if (!mode.comfortEnabled) {
                  throw needsPerson(
                    KonnektorFailureType.COMFORT_SIGNATURE_DISABLED,
                    'comfort signature is switched off in the Konnektor',
                    'GetSignatureMode'
                  );
                }
                if (!session.userId || !mode.active) {
                  // A session signflow activated that is gone now ran out (time or count) or was ended.
                  throw needsPerson(
                    session.ours
                      ? KonnektorFailureType.COMFORT_SIGNATURE_EXPIRED
                      : KonnektorFailureType.COMFORT_SIGNATURE_NOT_ACTIVE,
                    session.ours
                      ? 'the comfort signature session has ended (time or count used up, or deactivated)'
                      : 'no comfort signature session is active for the eHBA',
                    'GetSignatureMode'
                  );
                }
                userId = session.userId;
                // The calls ahead of this one may not have been counted by the Konnektor yet: reserve theirs.
                const left = ahead > 0 ? Math.max(0, mode.countRemaining - ahead) : mode.countRemaining;
                capacity = Math.min(pending.length, left);
                countRemaining = left;
                if (ahead > 0 && capacity < pending.length) {
                  deferred = pending.slice(capacity).map(([id]) => id);
                  if (capacity === 0) return;
                }
              } else {
                // SignatureService 7.4: no comfort signature; each call asks for the PIN at the terminal.
                userId = randomUUID();
              }
              const requests: SignRequestInput[] = pending.slice(0, capacity).map(([id, item]) => {
                const doc = docs.get(id)!;
                return {
                  requestId: id,
                  document: {
                    size: doc.size,
                    load: async () => {
                      const content = await documentContent(item.documentId);
                      sha256Of.set(id, sha256Hex(content));
                      return content;
                    },
                  },
                  mimeType: doc.mimeType,
                  shortText: shortTextFor(doc.title || 'Vertrag'),
                };
              });
              const byId = new Map(items);
              const res = await konnektor.signDocuments(card.cardHandle, userId, requests, {
                // The signatures are recorded per call below; only their ids and hashes are kept for the result.
                keepSignatures: false,
                onProgress: (done, total) => {
                  progress = { done, total };
                  heartbeat(progress);
                },
                onSigned: async (results) => {
                  const signedAt = now();
                  const rows = results.map((r) => {
                    const item = byId.get(r.requestId)!;
                    return {
                      requestId: r.requestId,
                      workflowId: item.workflowId,
                      contractId: item.contractId,
                      sourceDocumentId: item.documentId,
                      sourceSha256: sha256Of.get(r.requestId)!,
                      cardIccsn: card.iccsn ?? null,
                      variant: r.variant,
                      mimeType: r.signatureMimeType,
                      signature: r.signature,
                      signatureSha256: createHash('sha256').update(r.signature).digest('hex'),
                      signedAt,
                    };
                  });
                  // The signed documents are stored with their signatures, the batch in one transaction: the
                  // contracts then need no step (and no wait) of their own for it.
                  await db.transaction(async (trx) => {
                    await insertQesRows(trx, rows);
                    for (const row of rows) await storeQesDocument(trx, row.requestId);
                  });
                  // Re-read: an insert that lost a race keeps the first signature; report that one.
                  for (const row of await findQesRows(
                    db,
                    rows.map((x) => x.requestId)
                  ))
                    recorded.set(row.requestId, row);
                  if (countRemaining !== undefined) countRemaining = Math.max(0, countRemaining - results.length);
                },
              });
              calls += res.calls;
              for (const r of res.rejected) {
                const item = byId.get(r.requestId)!;
                rejected.push({
                  requestId: r.requestId,
                  contractId: item.contractId,
                  workflowId: item.workflowId,
                  documentId: item.documentId,
                  failureType: r.error.failureType,
                  gematikCode: r.error.gematikCode,
                  message: `${r.error.message}. ${staffActionFor(r.error.failureType)}`,
                });
              }
              if (capacity < pending.length && deferred.length === 0) {
                throw needsPerson(
                  KonnektorFailureType.COMFORT_SIGNATURE_EXPIRED,
                  `the comfort signature has ${capacity} signature(s) left for ${pending.length} document(s); ${pending.length - capacity} wait for re-activation`,
                  'SignDocument'
                );
              }
            });
          },
          () => ({ signedRequestIds: signedIds() })
        );
      } finally {
        clearInterval(beat);
      }
      const rejectedIds = new Set(rejected.map((r) => r.requestId));
      return {
        signed: items
          .filter(([id]) => !rejectedIds.has(id) && recorded.has(id))
          .map(([id, item]) => resultOf(recorded.get(id)!, item.documentId, previouslyRecorded.has(id))),
        rejected,
        signDocumentCalls: calls,
        countRemaining,
        ...(deferred.length > 0 ? { deferred } : {}),
      };
    },

    /**
     * Stores a recorded signature as a `dokumente` row linked to the contract (template kind
     * `crm.values.qesTemplateKind`, with MD5 and SHA-256). Idempotent per request id. `signDocuments` stores them
     * itself with the batch; this stays for contracts whose signer did not (and answers `alreadyStored` otherwise).
     */
    async storeCountersignature(input: StoreCountersignatureInput): Promise<StoredCountersignature> {
      return db.transaction(async (trx) => {
        const stored = await storeQesDocument(trx, input.requestId);
        if (!stored) {
          throw ApplicationFailure.create({
            type: 'COUNTERSIGNATURE_NOT_FOUND',
            message: `no recorded QES signature for request ${input.requestId}; call signDocuments first`,
            nonRetryable: true,
          });
        }
        return stored;
      });
    },

    /** VerifyDocument of a stored countersignature at the Konnektor, plus a check that the stored bytes are unchanged. */
    async verifyDocument(input: VerifyCountersignatureInput): Promise<CountersignatureVerification> {
      const qes = await findQesRow(db, input);
      if (!qes) {
        throw ApplicationFailure.create({
          type: 'COUNTERSIGNATURE_NOT_FOUND',
          message: `no recorded QES signature for ${JSON.stringify(input)}`,
          nonRetryable: true,
        });
      }
      const d = crm.documents;
      let stored = qes.signature;
      if (qes.qesDocumentId !== null) {
        const row = (await db(d.table).where(d.id, qes.qesDocumentId).first()) as Record<string, unknown> | undefined;
        const raw = row?.[d.content];
        if (raw != null) stored = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
      }
      const storedHashMatches = sha256Hex(stored) === qes.signatureSha256;
      const result = await classified(async () => {
        if (qes.variant === 'PAdES') return konnektor.verifyDocument({ document: stored, mimeType: 'application/pdf' });
        const source = await loadDocument(qes.sourceDocumentId);
        return konnektor.verifyDocument({ document: source.content, mimeType: source.mimeType, signature: stored });
      });
      return {
        requestId: qes.requestId,
        qesDocumentId: qes.qesDocumentId ?? undefined,
        highLevelResult: result.highLevelResult,
        valid: result.valid && storedHashMatches,
        storedHashMatches,
        verifiedAt: now().toISOString(),
      };
    },
  };
}

export type KonnektorActivities = ReturnType<typeof createKonnektorActivities>;
