/**
 * One long-running signing workflow per eHBA (`qes-signer-<iccsn>`): contract workflows send it their documents, it
 * signs them in batches with the comfort signature (one SignDocument call for up to `batchSize` documents, never more
 * than the session has left) and answers each contract workflow.
 *
 * A fault that needs a person (comfort signature not active, expired or used up, PIN blocked, card missing…) does not
 * fail anything: the signer parks, tells the waiting contracts why (their search attributes show it), and goes on when
 * staff signal `comfortSignatureReactivated` or a periodic GetSignatureMode check sees the session active again.
 *
 * No document is signed twice: request ids are deterministic (`<contract workflow id>/qes/<document id>`), and the
 * `signDocuments` activity records every signature before it returns, so a retry after a worker crash re-reads the
 * recorded ones instead of signing again.
 */
import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RejectedCountersign } from '../activities/konnektor/types';
import { KonnektorFailureType, isNeedsPersonFailureType } from '../domain/konnektor-errors';
import {
  comfortSignatureReactivatedSignal,
  countersignProgressSignal,
  countersignRequestedSignal,
  qesSignerStatusQuery,
  type CountersignProgress,
  type CountersignRequest,
  type QesSignerInput,
  type QesSignerState,
} from './definitions';

/** Transient Konnektor faults (busy, timeouts, network) are retried with backoff; the activity marks the rest final. */
const KONNEKTOR_CALL: wf.ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
};

/** Every Konnektor call passes its options (queue and summary); the staff mail passes its own. */
const acts = wf.proxyActivities<Activities>(KONNEKTOR_CALL);

/** A staff mail is worth a few tries, but an SMTP outage must not keep the signer from resuming: then it is logged. */
const STAFF_MAIL: wf.ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
};

/** Idle this long with nothing to sign, the signer completes; the next request starts it again. */
const IDLE_COMPLETION = '1 day';

/** From this patch on, documents the Konnektor refuses on their own leave the queue and their contracts are told. */
const REJECT_DOCUMENTS_PATCH = 'qes-reject-documents';

const requestIdOf = (r: CountersignRequest): string => `${r.workflowId}/qes/${r.documentId}`;

/** Staff get a mail when the signer parks, and one more after `staffReminderAfterMs` (released after first histories). */
const STAFF_NOTICE_PATCH = 'staff-parked-notice';

/**
 * From this patch on, the Konnektor activities go to `input.konnektorTaskQueue` (the on-site worker in the practice
 * network) when it is set. A signer already running keeps its queue until it replays past the marker-free point.
 */
const KONNEKTOR_QUEUE_PATCH = 'konnektor-task-queue';

/**
 * From this patch on, the contracts of a signed batch are told while the next batch is already being signed: the
 * signals go out with the next `signDocuments` in one workflow task, instead of one more task round trip (waiting
 * for the server to confirm every signal) between two SignDocument calls while the card idles.
 */
const TELL_WHILE_SIGNING_PATCH = 'qes-tell-while-signing';

/**
 * From this patch on, the signer keeps a second batch going while the card signs the first: its `signDocuments` reads
 * the documents, asks GetSignatureMode and GetJobNumber and builds the request meanwhile, then waits in the worker's
 * per-card queue and goes out the moment the card answers (before, the card idled through one activity's end, a
 * workflow task and the next activity's preparation between two calls). The second batch is told how many signatures
 * are ahead of it (`ahead`), so both together never ask for more than the comfort session has left. Implies
 * `qes-tell-while-signing` and `qes-reject-documents`.
 */
const SIGN_AHEAD_PATCH = 'qes-sign-ahead';

/**
 * From this patch on, a staff reactivation signal that carries the activation's own confirmation (the session active
 * with signatures left, `ComfortSignatureReactivatedInput.activation`) resumes the parked signer without a
 * GetSignatureMode of its own: the first batch goes out at once, and its `signDocuments` asks GetSignatureMode before
 * SignDocument anyway. The resumption is tentative until a batch comes back: the waiting contracts are told `resumed`
 * only then (not while the card is about to start), and a batch that fails before any SignDocument was sent (the
 * session ended in between, the activation did not take) leaves the signer parked as it was: same reason, no new staff
 * mail, the reminder still due when it was, exactly as when its own check found no session.
 */
const RESUME_ON_ACTIVATION_PATCH = 'qes-resume-on-activation';

/** Batches in flight at once with `SIGN_AHEAD_PATCH`: the one on the card and the next one, prepared and waiting. */
const BATCHES_IN_FLIGHT = 2;

interface FailureInfo {
  failureType: string;
  gematikCode?: number;
  message: string;
  signedRequestIds: string[];
  /** The Konnektor operation that failed (`SignDocument`, `GetSignatureMode`…), when the activity said. */
  operation?: string;
}

/** The needs-a-person failure behind an activity failure, or undefined for anything else (a bug: rethrown). */
function needsPerson(err: unknown): FailureInfo | undefined {
  if (!(err instanceof wf.ActivityFailure) || !(err.cause instanceof wf.ApplicationFailure)) return undefined;
  const cause = err.cause;
  if (!cause.nonRetryable && !isNeedsPersonFailureType(cause.type)) return undefined;
  const details = (cause.details?.[0] ?? {}) as {
    gematikCode?: number;
    staffAction?: string;
    signedRequestIds?: string[];
    operation?: string;
  };
  return {
    failureType: cause.type ?? KonnektorFailureType.KONNEKTOR_UNKNOWN_ERROR,
    gematikCode: details.gematikCode,
    message: details.staffAction ?? cause.message,
    signedRequestIds: details.signedRequestIds ?? [],
    operation: details.operation,
  };
}

export async function qesCountersigner(input: QesSignerInput): Promise<void> {
  const { iccsn } = input;
  // Where GetSignatureMode and SignDocument run: the on-site worker's queue, or (unset) this workflow's own.
  const konnektorCall: wf.ActivityOptions =
    input.konnektorTaskQueue && wf.patched(KONNEKTOR_QUEUE_PATCH)
      ? { ...KONNEKTOR_CALL, taskQueue: input.konnektorTaskQueue }
      : KONNEKTOR_CALL;
  const pending = new Map<string, CountersignRequest>();
  for (const r of input.pending ?? []) pending.set(requestIdOf(r), r);
  const state: QesSignerState = { pending: pending.size, signed: 0, signDocumentCalls: 0 };
  let reactivated = false;
  /** The last reactivation signal carried the activation's confirmation that the session is usable. */
  let activationConfirmed = false;
  /**
   * Set while a resumption on a confirmed activation (`RESUME_ON_ACTIVATION_PATCH`) is not yet borne out by a batch:
   * the parking it left and that parking's reminder time, restored if the first batch finds no session, and the
   * requests that arrived meanwhile (they were not told of a parking then, so they are if it is restored).
   */
  let tentative:
    { parked: NonNullable<QesSignerState['parked']>; reminderAt?: number; joined: CountersignRequest[] } | undefined;
  /** When the current parking's one reminder mail is due (workflow time, ms); unset = none due. */
  let staffReminderAt: number | undefined;

  const tell = async (requests: CountersignRequest[], progress: CountersignProgress) => {
    // A contract workflow that is gone (terminated by ops) must not stop the others from hearing back.
    await Promise.all(
      requests.map((r) =>
        wf
          .getExternalWorkflowHandle(r.workflowId)
          .signal(countersignProgressSignal, progress)
          .catch((err: unknown) => wf.log.warn('contract workflow not reachable', { workflowId: r.workflowId, err }))
      )
    );
  };

  wf.setHandler(countersignRequestedSignal, (request) => {
    pending.set(requestIdOf(request), request);
    state.pending = pending.size;
    if (state.parked) {
      // Tell a newcomer at once why it waits.
      void tell([request], { kind: 'parked', ...state.parked });
    } else tentative?.joined.push(request);
  });
  wf.setHandler(comfortSignatureReactivatedSignal, (signal) => {
    reactivated = true;
    const activation = signal?.activation;
    activationConfirmed = !!activation?.active && activation.countRemaining > 0;
  });
  wf.setHandler(qesSignerStatusQuery, () => state);

  const describe = () => {
    wf.setCurrentDetails(
      state.parked
        ? `Geparkt seit ${state.parked.since}: ${state.parked.failureType}` +
            `${state.parked.gematikCode ? ` (gematik ${state.parked.gematikCode})` : ''}. ${state.parked.message} ` +
            `${pending.size} Dokument(e) warten.`
        : `${state.signed} Dokument(e) signiert in ${state.signDocumentCalls} SignDocument-Aufruf(en); ${pending.size} wartend.`
    );
  };

  const park = async (failure: FailureInfo) => {
    state.parked = {
      failureType: failure.failureType,
      gematikCode: failure.gematikCode,
      message: failure.message,
      since: new Date(Date.now()).toISOString(),
    };
    reactivated = false;
    describe();
    await tell([...pending.values()], { kind: 'parked', ...state.parked });
    staffReminderAt = undefined;
    if (wf.patched(STAFF_NOTICE_PATCH)) {
      await notifyStaff('parked');
      if (input.staffReminderAfterMs !== undefined) staffReminderAt = Date.now() + input.staffReminderAfterMs;
    }
  };

  const notifyStaff = async (notice: 'parked' | 'still-parked') => {
    if (!state.parked) return;
    await acts.notifySignerParked
      .executeWithOptions(
        { ...STAFF_MAIL, summary: notice === 'parked' ? 'Praxis-Team benachrichtigen' : 'Praxis-Team erinnern' },
        [
          {
            signerWorkflowId: wf.workflowInfo().workflowId,
            iccsn,
            failureType: state.parked.failureType,
            gematikCode: state.parked.gematikCode,
            parkedSince: state.parked.since,
            waiting: pending.size,
            notice,
          },
        ]
      )
      .catch((err: unknown) => wf.log.warn('staff mail about the parked signer not sent', { notice, err }));
  };

  /** Signals to contracts still on their way (`TELL_WHILE_SIGNING_PATCH`); awaited before the signer ends or moves on. */
  const telling = new Set<Promise<void>>();
  const track = (told: Promise<unknown>): void => {
    // `tell` never rejects (an unreachable contract is logged), so nothing is lost by not awaiting here.
    const settled = told.then(() => {
      telling.delete(settled);
    });
    telling.add(settled);
  };
  const toldAll = async () => {
    while (telling.size > 0) await Promise.all([...telling]);
  };

  /** `stored`: the documents the signatures are stored in, by request id (sent along, so the contract need not). */
  const finishSigned = async (requestIds: string[], overlap = false, stored?: Map<string, number>) => {
    const done = requestIds.map((id) => pending.get(id)).filter((r): r is CountersignRequest => r !== undefined);
    for (const r of done) pending.delete(requestIdOf(r));
    state.pending = pending.size;
    state.signed += done.length;
    const told = Promise.all(
      done.map((r) => {
        const qesDocumentId = stored?.get(requestIdOf(r));
        return tell([r], {
          kind: 'signed',
          requestId: requestIdOf(r),
          ...(qesDocumentId !== undefined ? { qesDocumentId } : {}),
        });
      })
    );
    if (overlap) track(told);
    else await told;
  };

  /** A document the Konnektor refused on its own leaves the queue and its contract is told; undefined if it had left. */
  const rejectOne = (r: RejectedCountersign): Promise<void> | undefined => {
    if (!pending.delete(r.requestId)) return undefined;
    state.rejected = (state.rejected ?? 0) + 1;
    return tell([{ contractId: r.contractId, workflowId: r.workflowId, documentId: r.documentId }], {
      kind: 'rejected',
      requestId: r.requestId,
      failureType: r.failureType,
      gematikCode: r.gematikCode,
      message: r.message,
    });
  };

  const finishRejected = async (rejected: RejectedCountersign[]) => {
    for (const r of rejected) await rejectOne(r);
    state.pending = pending.size;
  };

  /** A batch came back from the Konnektor after a tentative resumption: the session is real, the waiting hear it. */
  const resumeConfirmed = (): void => {
    if (!tentative) return;
    tentative = undefined;
    track(tell([...pending.values()], { kind: 'resumed' }));
  };

  /**
   * Whether `failure` of a tentative resumption's first batch means only that no session was there (the check the
   * signer skipped would have said so: nothing signed, no SignDocument sent); then the parking it left is restored.
   */
  const resumeRefuted = (failure: FailureInfo): boolean => {
    const trial = tentative;
    tentative = undefined;
    if (!trial || failure.signedRequestIds.length > 0 || failure.operation === 'SignDocument') return false;
    state.parked = trial.parked;
    staffReminderAt = trial.reminderAt;
    const joined = trial.joined.filter((r) => pending.has(requestIdOf(r)));
    if (joined.length > 0) track(tell(joined, { kind: 'parked', ...trial.parked }));
    return true;
  };

  /**
   * Signs what is pending with up to `BATCHES_IN_FLIGHT` batches at once (`SIGN_AHEAD_PATCH`), until nothing is left,
   * continue-as-new is due, or a batch fails for a reason that needs a person: then, once every batch in flight has
   * settled, that failure is returned (the caller parks). A failure of any other kind (a bug) is thrown.
   */
  const signAhead = async (): Promise<FailureInfo | undefined> => {
    /** Request ids in a running batch; each running batch with its size (for `ahead`). */
    const inFlight = new Set<string>();
    const running = new Set<{ size: number }>();
    let failure: FailureInfo | undefined;
    let fatal: { err: unknown } | undefined;
    /** A batch left some for after the ones ahead of it: start nothing more until every batch has settled. */
    let holdUntilIdle = false;
    let settled = 0;
    const waiting = () => [...pending.values()].filter((r) => !inFlight.has(requestIdOf(r)));
    // A batch goes ahead (waits for the card behind another) only when it is full: a partial one starts when the
    // card is free, so the requests that arrive meanwhile still join it instead of costing a call of their own.
    const canStart = () =>
      !failure &&
      !fatal &&
      !(holdUntilIdle && running.size > 0) &&
      running.size < BATCHES_IN_FLIGHT &&
      !wf.workflowInfo().continueAsNewSuggested &&
      waiting().length >= (running.size === 0 ? 1 : input.batchSize);

    const start = (batch: CountersignRequest[]): void => {
      const ahead = [...running].reduce((sum, b) => sum + b.size, 0);
      const mine = { size: batch.length };
      running.add(mine);
      for (const r of batch) inFlight.add(requestIdOf(r));
      const settle = () => {
        running.delete(mine);
        for (const r of batch) inFlight.delete(requestIdOf(r));
        if (running.size === 0) holdUntilIdle = false;
        settled++;
      };
      void acts.signDocuments
        .executeWithOptions(
          {
            ...konnektorCall,
            summary: `${batch.length} Dokument(e) qualifiziert signieren (Komfortsignatur)`,
          },
          [{ iccsn, items: batch, ...(ahead > 0 ? { ahead } : {}) }]
        )
        .then(
          (result) => {
            state.signDocumentCalls += result.signDocumentCalls;
            const stored = new Map<string, number>();
            for (const s of result.signed) if (s.qesDocumentId !== undefined) stored.set(s.requestId, s.qesDocumentId);
            void finishSigned(
              result.signed.map((s) => s.requestId),
              true,
              stored
            );
            if (result.rejected?.length) track(rejectAll(result.rejected));
            resumeConfirmed();
            settle();
            if (result.deferred?.length && running.size > 0) holdUntilIdle = true;
          },
          (err: unknown) => {
            const info = needsPerson(err);
            if (info) {
              void finishSigned(info.signedRequestIds, true);
              failure ??= info;
            } else fatal ??= { err };
            settle();
          }
        );
    };

    for (;;) {
      while (canStart()) start(waiting().slice(0, input.batchSize));
      describe();
      if (running.size === 0) break;
      const seen = settled;
      await wf.condition(() => settled !== seen || canStart());
    }
    if (fatal) throw fatal.err;
    return failure;
  };

  /** Parks for `failure`, unless it only refutes a tentative resumption: then the parking before it stands. */
  const parkUnlessRefuted = async (failure: FailureInfo): Promise<void> => {
    if (!resumeRefuted(failure)) {
      await park(failure);
      return;
    }
    describe();
    // As after a check that found no session: the one reminder, if it is due.
    if (staffReminderAt !== undefined && Date.now() >= staffReminderAt) {
      staffReminderAt = undefined;
      await notifyStaff('still-parked');
    }
  };

  /** The documents the Konnektor refuses on their own leave the queue at once; their contracts are told. */
  const rejectAll = (rejected: RejectedCountersign[]): Promise<void> => {
    const told = rejected.map(rejectOne).filter((t): t is Promise<void> => t !== undefined);
    state.pending = pending.size;
    return Promise.all(told).then(() => undefined);
  };

  for (;;) {
    describe();
    if (state.parked) {
      // Wait for staff or the next periodic check, then ask the Konnektor whether the session is usable again.
      // Wake up for the staff reminder too, if it is due before the next check.
      const untilReminder = staffReminderAt === undefined ? Infinity : Math.max(1_000, staffReminderAt - Date.now());
      const signalled = await wf.condition(() => reactivated, Math.min(input.recheckIntervalMs, untilReminder), {
        summary: 'Komfortsignatur erneut prüfen',
      });
      reactivated = false;
      const confirmed = signalled && activationConfirmed;
      activationConfirmed = false;
      if (confirmed && pending.size > 0 && wf.patched(RESUME_ON_ACTIVATION_PATCH)) {
        // Staff just activated and the activation read the session as usable: sign at once (see the patch).
        tentative = { parked: state.parked, reminderAt: staffReminderAt, joined: [] };
        state.parked = undefined;
        staffReminderAt = undefined;
        continue;
      }
      const mode = await acts.getSignatureMode
        .executeWithOptions({ ...konnektorCall, summary: 'Signaturmodus abfragen (geparkt)' }, [{ iccsn }])
        .catch((err: unknown) => {
          if (needsPerson(err)) return undefined;
          throw err;
        });
      // 7.4 (no comfort signature) has no session to wait for: staff fixed the cause (card, PIN), try again.
      if (!mode || (mode.comfortSupported && (!mode.active || mode.countRemaining < 1))) {
        if (staffReminderAt !== undefined && Date.now() >= staffReminderAt) {
          staffReminderAt = undefined;
          await notifyStaff('still-parked');
        }
        continue;
      }
      state.parked = undefined;
      staffReminderAt = undefined;
      const resumed = tell([...pending.values()], { kind: 'resumed' });
      // As after a batch: the first SignDocument need not wait until every waiting contract has heard of it.
      if (wf.patched(TELL_WHILE_SIGNING_PATCH)) track(resumed);
      else await resumed;
      continue;
    }

    if (pending.size === 0) {
      const gotWork = await wf.condition(
        () => pending.size > 0 || wf.workflowInfo().continueAsNewSuggested,
        IDLE_COMPLETION
      );
      if (!gotWork) {
        await toldAll();
        await wf.condition(wf.allHandlersFinished);
        if (pending.size === 0) return;
      }
    }

    if (wf.workflowInfo().continueAsNewSuggested) {
      await toldAll();
      await wf.condition(wf.allHandlersFinished);
      await wf.continueAsNew<typeof qesCountersigner>({ ...input, pending: [...pending.values()] });
    }
    if (pending.size === 0) continue;

    if (wf.patched(SIGN_AHEAD_PATCH)) {
      const failure = await signAhead();
      if (failure) await parkUnlessRefuted(failure);
      continue;
    }

    // The activity reads the signature mode itself and never asks for more signatures than the session has left (an
    // exhausted session would mean a PIN prompt): what it could not sign comes back as a needs-a-person failure with
    // the ids it did sign. Asking here as well would cost one more Konnektor call per batch.
    const size = Math.min(input.batchSize, pending.size);
    const batch = [...pending.values()].slice(0, size);
    try {
      const result = await acts.signDocuments.executeWithOptions(
        { ...konnektorCall, summary: `${batch.length} Dokument(e) qualifiziert signieren (Komfortsignatur)` },
        [{ iccsn, items: batch }]
      );
      state.signDocumentCalls += result.signDocumentCalls;
      // The card is free again: the next batch starts in this workflow task, its contracts hear back meanwhile.
      await finishSigned(
        result.signed.map((s) => s.requestId),
        wf.patched(TELL_WHILE_SIGNING_PATCH)
      );
      // One unfit document fails only its own contract's countersignature; without this it would stay pending and be
      // sent again with every batch.
      if (result.rejected?.length && wf.patched(REJECT_DOCUMENTS_PATCH)) await finishRejected(result.rejected);
      resumeConfirmed();
    } catch (err) {
      const failure = needsPerson(err);
      if (!failure) throw err;
      await finishSigned(failure.signedRequestIds);
      await parkUnlessRefuted(failure);
    }
  }
}
