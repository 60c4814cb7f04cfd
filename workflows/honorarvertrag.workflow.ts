/**
 * One workflow per fee contract (Honorarvertrag): document → signature request → invitation mail → wait for the
 * contact's signature (or staff confirmation, withdrawal, expiry) with reminders → record the outcome → confirmation
 * mail. Deterministic orchestration only: every side effect is an activity, time is workflow time.
 */
import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PreparedRequest } from '../activities/types';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { ErrorCode, NON_RETRYABLE_INPUT_ERRORS } from '../domain/errors';
import {
  comfortSignatureReactivatedSignal,
  confirmManuallyUpdate,
  CONTRACT_FAILED_LOG,
  countersignProgressSignal,
  documentViewedSignal,
  resendSignal,
  SA_CONTRACT_STATUS,
  SA_SIGNATURE_STATUS,
  SA_WAITING_REASON,
  signUpdate,
  statusQuery,
  withdrawSignal,
  withdrawUpdate,
  workflowCodeGeneration,
  type ContractResult,
  type ContractState,
  type ContractWorkflowInput,
  type CountersignProgress,
  type SignatureOutcome,
  type SignInput,
  type WaitingReason,
  type WithdrawInput,
  type WithdrawOutcome,
} from './definitions';
import { createWebhookNotifier, type WebhookNotifier } from './webhook-notifier';

/*
 * Timeouts are short on purpose: a killed worker's activity is handed to another worker only after its timeout, so
 * a short step gets a short start-to-close timeout and a step that may take longer (PDF rendering, SMTP) heartbeats
 * every second and gets a short heartbeat timeout. Activity options are not part of the replayed commands, so changing
 * them needs no patch.
 */

/** Reads and validation (renders document and mails once as a check): quick; bad input is not retried. */
const LOAD: wf.ActivityOptions = {
  startToCloseTimeout: '20 seconds',
  heartbeatTimeout: '5 seconds',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: NON_RETRYABLE_INPUT_ERRORS,
  },
};

/** Database writes: one transaction each, idempotent, so retrying for as long as the database is down is safe. */
const DB_WRITE: wf.ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
};

/** Step 2 renders the PDF inside its attempt: it heartbeats, so a lost worker shows within seconds. */
const PREPARE: wf.ActivityOptions = { ...DB_WRITE, startToCloseTimeout: '1 minute', heartbeatTimeout: '5 seconds' };

/** Recording a signature: the signer waits on the Update, so retries stay short. */
const RECORD: wf.ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};

/**
 * RECORD as a local activity (generation 3 on, `LOCAL_RECORDING_GENERATION`): the same timeout and retry policy, run by
 * the worker inside the workflow task that handles the Update, so the signer waits for one workflow task instead of a
 * workflow task, an activity task and a second workflow task. Backoffs stay under the SDK's local retry threshold
 * (1 minute), so retries stay in the worker as they stayed with the server; a retry that waits longer than 8 s keeps
 * the workflow task alive by heartbeating it (one more task each time), as the SDK does for every long local activity.
 */
const RECORD_LOCAL: wf.LocalActivityOptions = {
  startToCloseTimeout: RECORD.startToCloseTimeout,
  retry: RECORD.retry,
};

/**
 * Mail before `patched('mail-while-open')`: SMTP outages are retried by Temporal for a day; a rejected recipient is
 * final (MAIL_REJECTED).
 */
const MAIL: wf.ActivityOptions = {
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '5 seconds',
  scheduleToCloseTimeout: '1 day',
  retry: {
    initialInterval: '10 seconds',
    backoffCoefficient: 2,
    maximumInterval: '30 minutes',
    nonRetryableErrorTypes: [ErrorCode.MAIL_REJECTED, ErrorCode.TEMPLATE_VALUE_MISSING],
  },
};

/**
 * Mail from `patched('mail-while-open')` on: one attempt per activity, never retried by the server; the workflow itself
 * waits between attempts, so it can show the last error and the next try (query `status`, current details) and drop an
 * invitation or reminder whose request ended meanwhile. A retry by the server would skip that check: the withdrawal is
 * written to the CRM only after the mail step, so an attempt one second after a withdrawal was accepted still found
 * the signature pending and sent the invitation. (Before, the policy allowed a second attempt after 1 s; histories
 * keep the policy they were scheduled with.)
 */
const MAIL_ATTEMPT: wf.ActivityOptions = {
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '5 seconds',
  retry: {
    initialInterval: '1 second',
    maximumAttempts: 1,
    nonRetryableErrorTypes: [ErrorCode.MAIL_REJECTED, ErrorCode.TEMPLATE_VALUE_MISSING],
  },
};
/**
 * MAIL_ATTEMPT as a local activity, for the confirmation mail from generation 4 on (`LOCAL_CONFIRMATION_GENERATION`):
 * the same one attempt of at most a minute, never retried by the SDK (the workflow's own loop waits and tries again, as
 * it does for the activity). The minute lets a slow SMTP server finish: while the attempt runs past 80 % of the
 * workflow task timeout the worker keeps the task alive by completing it empty and taking the next (the SDK's
 * workflow task heartbeat), so the task timeout does not cut it short. A local activity has no heartbeat timeout: a
 * killed worker shows as its workflow task timing out, after which the next task runs the attempt again at once (the
 * quick retry MAIL_LOST_WORKER_RETRY_MS gives the activity).
 */
const MAIL_LOCAL_ATTEMPT: wf.LocalActivityOptions = {
  startToCloseTimeout: MAIL_ATTEMPT.startToCloseTimeout,
  retry: MAIL_ATTEMPT.retry,
};
/**
 * The pause before the next attempt when the last one's worker was lost (heartbeat or start-to-close timeout): the
 * quick retry the server used to make, now through the workflow's check. Behind `patched('mail-lost-worker-retry')`,
 * met only by a contract whose mail attempt timed out.
 */
const MAIL_LOST_WORKER_RETRY_MS = 1_000;
const MAIL_LOST_WORKER_PATCH = 'mail-lost-worker-retry';
/**
 * A withdrawal that arrives while an invitation or reminder is with the mail server answers once that attempt has
 * ended: a mail already handed over cannot be called back, and answering `withdrawn` first let it arrive after the
 * answer. Met only by a contract withdrawn while such a mail is in flight.
 */
const WITHDRAW_AFTER_MAIL_PATCH = 'withdraw-answers-after-mail-in-flight';
/** Pauses between mail attempts: 10 s doubling up to 30 min; the mail fails after a day of trying. */
const MAIL_RETRY = { firstDelayMs: 10_000, maxDelayMs: 30 * 60_000, giveUpAfterMs: 24 * 60 * 60_000 };

/**
 * Steps 1 and 2 in one activity (lean path): PREPARE's timeouts (it renders the PDF and heartbeats), LOAD's refusal to
 * retry bad input, DB_WRITE's patience with a database that is down.
 */
const LOAD_AND_PREPARE: wf.ActivityOptions = {
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '5 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '5 minutes',
    nonRetryableErrorTypes: NON_RETRYABLE_INPUT_ERRORS,
  },
};

/**
 * LOAD_AND_PREPARE as a local activity, for step 2 of a lean contract from generation 5 on (`LOCAL_PREPARE_GENERATION`):
 * the same minute per attempt and the same retry policy (bad input fails at once; a database that is down is retried
 * with backoff, past the SDK's local retry threshold of a minute by a timer in the workflow). The minute lets the PDF
 * renderer's cold start finish: while an attempt runs past 80 % of the workflow task timeout the worker keeps the task
 * alive (the SDK's workflow task heartbeat). A local activity has no heartbeat timeout (`whileHeartbeating` does not
 * beat in one): a killed worker shows as its workflow task timing out, and the next task runs the attempt again, which
 * finds the request stored under the workflow id.
 */
const LOAD_AND_PREPARE_LOCAL: wf.LocalActivityOptions = {
  startToCloseTimeout: LOAD_AND_PREPARE.startToCloseTimeout,
  retry: LOAD_AND_PREPARE.retry,
};

/** Every call passes its own options with a summary (what the Temporal UI shows per step). */
const acts = wf.proxyActivities<Activities>(DB_WRITE);
/**
 * The recording steps (generation 3 on), the confirmation mail (generation 4 on) and step 2 of a lean contract
 * (generation 5 on) run in the workflow's own worker; every call passes its own options.
 */
const localActs = wf.proxyLocalActivities<Activities>(RECORD_LOCAL);

/** The PNG signature bytes, base64: the validator's cheap check; the activity decodes the whole image. */
const PNG_BASE64_PREFIX = 'iVBORw0KGgo';

function reject(type: ErrorCode, message: string): never {
  throw wf.ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** Makes an activity's domain failure the update's failure, so callers see the code (e.g. WRONG_SIGNER), not a wrapper. */
function unwrapActivityFailure(err: unknown): unknown {
  if (err instanceof wf.ActivityFailure && err.cause instanceof wf.ApplicationFailure && err.cause.type) {
    return wf.ApplicationFailure.create({
      type: err.cause.type,
      message: err.cause.message,
      nonRetryable: true,
      details: err.cause.details as unknown[] | undefined,
    });
  }
  return err;
}

/**
 * A local activity's final failure in the shape an activity's has. The SDK hands a local attempt's own failure (a
 * non-retryable ApplicationFailure, a timeout) to the workflow as it is, where an activity's always comes wrapped in an
 * ActivityFailure; the mail loop reads the domain code, `nonRetryable` and a lost worker from that wrapper, so without
 * it a local confirmation refused for good (MAIL_REJECTED) was retried for a day instead of keeping the contract.
 * A cancellation is left as it is.
 */
function asActivityFailure(err: unknown, activityType: string): unknown {
  if (err instanceof wf.ActivityFailure || wf.isCancellation(err) || !(err instanceof wf.TemporalFailure)) return err;
  const retryState =
    err instanceof wf.TimeoutFailure
      ? 'TIMEOUT'
      : err instanceof wf.ApplicationFailure && err.nonRetryable
        ? 'NON_RETRYABLE_FAILURE'
        : 'MAXIMUM_ATTEMPTS_REACHED';
  return new wf.ActivityFailure('Local activity failed', activityType, undefined, retryState, undefined, err);
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** An ISO 8601 time with an explicit zone (`Z` or `±hh:mm`), as `Date.toISOString()` writes it. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** The domain code behind an activity's failure, if any. */
function failureType(err: unknown): string | undefined {
  return err instanceof wf.ActivityFailure && err.cause instanceof wf.ApplicationFailure
    ? (err.cause.type ?? undefined)
    : undefined;
}

/**
 * The contract workflow. Every change is told to the webhook subscribers (`contract.*`), and a failing contract says so
 * (`contract.failed`) before it fails; deliveries still running are waited for, never the contract's own steps.
 */
export async function honorarvertrag(input: ContractWorkflowInput): Promise<ContractResult> {
  // One patch for the whole cheaper path (one marker and one search-attribute upsert, not one per change): webhook
  // activities only for subscribed events, steps 1 and 2 in one activity, the first search-attribute upsert merged
  // into the one after the invitation.
  // From `search-attributes-from-start` on, its marker stands for the lean path's too (again one marker per contract).
  // A contract whose first workflow task a worker of generation 2 or later completed needs no marker at all: the
  // server recorded that worker's build id with the task, and the SDK reads it back on every replay (see
  // WORKFLOW_CODE_GENERATION). That code always takes the path of the newest patch here; no `patched()` call means no
  // marker and no `TemporalChangeVersion` upsert. Read here, in the first activation, where it names the first task.
  const generation = workflowCodeGeneration(wf.workflowInfo().currentDeploymentVersion?.buildId);
  const markerless = generation >= MARKERLESS_GENERATION;
  const fromStart = markerless || wf.patched(START_ATTRIBUTES_PATCH);
  const lean = fromStart || wf.patched(LEAN_PATH_PATCH);
  const notify = createWebhookNotifier(input.contractId, lean ? input.webhookEvents : undefined);
  try {
    const result = await runContract(input, notify, {
      lean,
      fromStart,
      localRecording: generation >= LOCAL_RECORDING_GENERATION,
      localConfirmation: generation >= LOCAL_CONFIRMATION_GENERATION,
      localPrepare: generation >= LOCAL_PREPARE_GENERATION,
    });
    await settle(notify, lean);
    return result;
  } catch (err) {
    if (!wf.isCancellation(err)) {
      const failure = err instanceof wf.ApplicationFailure ? err : undefined;
      // One line with the code (the worker's logger then leaves out the SDK's line with the stack for this run).
      if (failure?.type) wf.log.warn(CONTRACT_FAILED_LOG, { code: failure.type, errorMessage: failure.message });
      notify.emit('contract.failed', { errorCode: failure?.type ?? 'WORKFLOW_FAILED' });
      await settle(notify, lean);
    }
    throw err;
  }
}

/**
 * Messages keep arriving while the last webhook deliveries run (a portal view, a late resend): their handlers may
 * start activities (the view's audit record) and emit deliveries of their own. Returning then would drop that work
 * and trip the SDK's unfinished-handlers warning (TMPRL1102), so from this patch on the workflow ends only when every
 * handler has finished and every delivery has settled. Histories from before it end after the first drain.
 */
const HANDLERS_FINISH_PATCH = 'handlers-finish-before-return';

/** `lean`: see `runContract`'s `has`; the lean path always settles this way. */
async function settle(notify: WebhookNotifier, lean: boolean): Promise<void> {
  await notify.drain();
  if (!(lean || wf.patched(HANDLERS_FINISH_PATCH))) return;
  while (!(wf.allHandlersFinished() && notify.settled())) {
    await wf.condition(wf.allHandlersFinished);
    await notify.drain();
  }
}

/** See `honorarvertrag`: what `patched('lean-contract-path')` changes. */
const LEAN_PATH_PATCH = 'lean-contract-path';

/**
 * The lean path, plus: a search attribute is upserted only when its value changes, counted from the values the start
 * gave. The client gives the values of a contract waiting for its signature with the start (`startContractWorkflow`,
 * free, where an upsert is a billable action), so the upsert after the invitation changes nothing and is not sent. A
 * start without them (an older client) gets the upsert as before. Where the start's values turn out wrong (the
 * preparation is refused, the invitation waits for a retry) an upsert corrects them.
 */
const START_ATTRIBUTES_PATCH = 'search-attributes-from-start';

/**
 * From this generation of the workflow code on (`WORKFLOW_CODE_GENERATION`), a contract started on it takes the path
 * of `search-attributes-from-start` without calling `patched()`. Its histories replay on that branch because the build
 * id that chose it is in the history; histories of workers without it (or of an older generation) keep their markers.
 */
const MARKERLESS_GENERATION = 2;

/**
 * From this generation on, the `sign` and `confirmManually` Updates record the outcome with a local activity
 * (`RECORD_LOCAL`) instead of an activity: the Update is accepted, recorded and answered in one workflow task, and its
 * history has one `MarkerRecorded` where it had `ActivityTaskScheduled/Started/Completed` and a second workflow task.
 * Chosen like `MARKERLESS_GENERATION`, by the build id recorded with the first workflow task: older contracts keep the
 * activity. A local activity's input is not in the history: when a workflow task is lost after the recording committed
 * (a worker crash), the Update comes again in a new task with a later workflow time, and the recording sees its own
 * earlier write through the Update's id (`updateId`, see `recordSignature`).
 */
const LOCAL_RECORDING_GENERATION = 3;

/**
 * From this generation on, the confirmation mail is a local activity (`MAIL_LOCAL_ATTEMPT`) run in the workflow task
 * that the Prüfprotokoll's completion starts: that task sends the mail and completes the workflow, one activity, one
 * workflow task and one activity task trip less per contract, one `MarkerRecorded` instead. The workflow's own retry
 * loop, its backoff, give-up and `status` are the same for both (`sendMail`). Only the confirmation: an invitation,
 * reminder or withdrawal mail races with `sign` and stays an activity. Chosen like `LOCAL_RECORDING_GENERATION`: older
 * contracts keep the activity. A lost local attempt (worker killed while it runs) leaves no event of its own, only the
 * workflow task's timeout before the marker; the chaos count reads that as a lost attempt (chaos/lost-mail-attempts.ts),
 * and the next task's attempt finds the key's `sending` row and sends with the same Message-ID, as after a lost activity.
 */
const LOCAL_CONFIRMATION_GENERATION = 4;

/**
 * From this generation on, step 2 of a lean contract (`loadAndPrepareSignatureRequest`: document, signature record and
 * contract status) is a local activity (`LOAD_AND_PREPARE_LOCAL`) run in the contract's first workflow task: that task
 * prepares the request and schedules the invitation, one activity, one workflow task and one activity task trip less
 * per contract, one `MarkerRecorded` instead. Its final failure reaches the step's `.catch` wrapped as an activity's
 * (`asActivityFailure`), so the search attributes, the workflow's failure and its domain code are the activity's.
 * Updates that come before the preparation ended are answered as before (SIGNATURE_NOT_READY): one that comes with the
 * first task runs its validator before the step, one that comes later waits for the next task. Chosen like
 * `LOCAL_CONFIRMATION_GENERATION`: older contracts keep the activity. A worker lost inside the attempt loses the first
 * task; the next task's attempt finds the request stored under the workflow id and returns it (one document, one
 * signature record).
 */
const LOCAL_PREPARE_GENERATION = 5;

/** The status search attributes the workflow keeps (CrmContractId is set once, at the start). */
const STATUS_ATTRIBUTES = [SA_CONTRACT_STATUS, SA_SIGNATURE_STATUS, SA_WAITING_REASON] as const;

/** See `progressQueue` in `runContract`: the signing workflow's progress signals handled one by one, in order. */
const COUNTERSIGN_PROGRESS_IN_ORDER_PATCH = 'countersign-progress-in-order';

/**
 * From this patch on, a contract whose signer says it stored the countersignature already (`qesDocumentId` in the
 * `signed` progress) takes that document instead of running `storeCountersignature`: one activity less per QES
 * contract, and the last batch's contracts finish sooner after the card's last answer. Only QES contracts meet it.
 */
const COUNTERSIGN_STORED_BY_SIGNER_PATCH = 'countersign-stored-by-signer';

/** The branches a contract takes, chosen in its first activation (see `honorarvertrag`). */
interface ContractPath {
  /** `patched('lean-contract-path')` or later. */
  lean: boolean;
  /** `patched('search-attributes-from-start')` or generation 2 on. */
  fromStart: boolean;
  /** Generation 3 on: the Updates record with a local activity. */
  localRecording: boolean;
  /** Generation 4 on: the confirmation mail is a local activity. */
  localConfirmation: boolean;
  /** Generation 5 on: step 2 of the lean path is a local activity. */
  localPrepare: boolean;
}

async function runContract(
  input: ContractWorkflowInput,
  notify: WebhookNotifier,
  { lean, fromStart, localRecording, localConfirmation, localPrepare }: ContractPath
): Promise<ContractResult> {
  const { contractId, timing, labels } = input;
  /**
   * A patch older than the lean path holds on it without a marker of its own: the code that wrote a lean history had
   * every one of them. One marker (and one TemporalChangeVersion upsert, an action) per contract instead of one each.
   */
  const has = (patchId: string): boolean => lean || wf.patched(patchId);
  const workflowId = wf.workflowInfo().workflowId;
  // Activities key their writes by `ref.workflowId`: the request key when this is a contract's later request.
  const ref = { contractId, workflowId: input.requestKey ?? workflowId };

  const state: ContractState = { contractId, phase: 'preparing', remindersSent: 0 };
  // Set once step 2 has run; the update handlers read it before that to answer SIGNATURE_NOT_READY.
  let prepared: PreparedRequest | undefined = undefined;
  /** A sign or confirm handler is writing; nothing else may start meanwhile. */
  let recording = false;
  let withdrawal: WithdrawInput | undefined;
  /** Invitation or reminder attempts running now (a withdrawal answers once none is: WITHDRAW_AFTER_MAIL_PATCH). */
  let askingMailsInFlight = 0;
  let resendsRequested = 0;
  let resendsHandled = 0;
  let automaticReminders = 0;
  let invitationSent = false;
  /** Workflow time at which the prepared request (document, signature record) became known. */
  let preparedAtMs = 0;

  /** Search-attribute values held back to go out with the next upsert (`setSearch(…, defer)`). */
  let deferredSearch: Map<string, SearchAttributeUpdatePair> | undefined;
  /**
   * `fromStart`: the status attributes' values as they stand (read from the start, which is in the history, so a
   * replay reads the same), so that an upsert changing nothing is left out. Otherwise every upsert goes out, as before.
   */
  const shown = fromStart
    ? new Map<string, unknown>(
        STATUS_ATTRIBUTES.map((key) => [key.name, wf.workflowInfo().typedSearchAttributes.get(key)])
      )
    : undefined;
  const upsert = (pairs: SearchAttributeUpdatePair[]) => {
    const changed = shown ? pairs.filter((p) => (shown.get(p.key.name) ?? null) !== p.value) : pairs;
    if (changed.length === 0) return;
    for (const p of changed) shown?.set(p.key.name, p.value ?? undefined);
    wf.upsertSearchAttributes(changed);
  };
  const setSearch = (
    contractStatus: string | undefined,
    signatureStatus: string | undefined,
    waiting: WaitingReason,
    defer = false
  ) => {
    const pairs = new Map<string, SearchAttributeUpdatePair>(deferredSearch);
    if (contractStatus) pairs.set(SA_CONTRACT_STATUS.name, { key: SA_CONTRACT_STATUS, value: contractStatus });
    if (signatureStatus) pairs.set(SA_SIGNATURE_STATUS.name, { key: SA_SIGNATURE_STATUS, value: signatureStatus });
    pairs.set(SA_WAITING_REASON.name, { key: SA_WAITING_REASON, value: waiting });
    if (defer) {
      deferredSearch = pairs;
      return;
    }
    deferredSearch = undefined;
    upsert([...pairs.values()]);
  };
  /** Sends what `setSearch(…, defer)` held back, before the workflow waits for longer than a step. */
  const flushSearch = () => {
    if (!deferredSearch) return;
    const pairs = [...deferredSearch.values()];
    deferredSearch = undefined;
    upsert(pairs);
  };

  wf.setHandler(statusQuery, () => state);

  /** Rejections shared by `sign` and `confirmManually`: the request must exist and still be open. */
  const assertOpen = (): PreparedRequest => {
    if (state.outcome || recording) {
      reject(ErrorCode.SIGNATURE_ALREADY_CONFIRMED, `contract ${contractId} is already signed or being signed`);
    }
    if (state.phase === 'withdrawn' || withdrawal) {
      reject(ErrorCode.SIGNATURE_WITHDRAWN, `the signature request of contract ${contractId} was withdrawn`);
    }
    if (state.phase === 'expired') {
      reject(ErrorCode.SIGNATURE_EXPIRED, `the signature request of contract ${contractId} has expired`);
    }
    // Open as soon as the signature record exists: a fast signer may click before the mail activity reports back.
    if (!prepared) {
      reject(ErrorCode.SIGNATURE_NOT_READY, `the signature request of contract ${contractId} is still being prepared`);
    }
    return prepared;
  };

  /**
   * The time the signer (or staff) acted, as the door took it, bounded by what the workflow knows: not before the
   * request was prepared (nobody can sign what did not exist; a door clock behind), not after the workflow's now (a
   * door clock ahead). A worker that comes back minutes after the click records the click, not its own time. Before
   * `patched('acted-at-from-door')`, and for callers that send no time: the workflow's now.
   */
  const actedAtOf = (actedAt: string | undefined): string => {
    const now = Date.now();
    if (!has('acted-at-from-door') || actedAt === undefined) return iso(now);
    return iso(Math.min(now, Math.max(Date.parse(actedAt), preparedAtMs)));
  };

  /** A door's time must be an ISO timestamp (the validators refuse anything else). */
  const assertActedAt = (actedAt: unknown): void => {
    if (actedAt === undefined) return;
    if (typeof actedAt !== 'string' || !ISO_TIME.test(actedAt) || !Number.isFinite(Date.parse(actedAt))) {
      reject(
        ErrorCode.INVALID_SIGNATURE_INPUT,
        `actedAt must be an ISO time with zone, not ${JSON.stringify(actedAt)}`
      );
    }
  };

  /** Runs a recording activity with the handler lock held; the outcome ends the wait in the main loop. */
  const record = async (write: (request: PreparedRequest) => Promise<SignatureOutcome>): Promise<SignatureOutcome> => {
    // Not checked again here: the validator ran right before, in the same synchronous step, so nothing can have
    // closed the request in between, and the lock is taken before any other message is handled. A second check would
    // be a nondeterminism hazard: on replay validators do not run, and a `withdraw` signal of the same workflow task
    // may be applied before this handler, so the check could take another path than the original execution did.
    const request = prepared as PreparedRequest;
    recording = true;
    state.phase = 'recording';
    try {
      const outcome = await write(request);
      state.outcome = outcome;
      return outcome;
    } catch (err) {
      state.phase = invitationSent ? 'awaiting-signature' : 'sending';
      throw unwrapActivityFailure(err);
    } finally {
      recording = false;
    }
  };

  /** The Update's id on the local path (the recording's key for a re-run after a lost workflow task). */
  const updateKey = (): { updateId?: string } => (localRecording ? { updateId: wf.currentUpdateInfo()?.id } : {});

  wf.setHandler(
    signUpdate,
    (sign: SignInput) =>
      record((request) => {
        const summary = `Unterschrift (${sign.method === 'click' ? 'Klick' : 'Bild'}) von Kontakt ${sign.contactId} speichern`;
        const entry = {
          ...ref,
          signatureId: request.signatureId,
          contactId: sign.contactId,
          method: sign.method,
          imagePngBase64: sign.imagePngBase64,
          signedAt: actedAtOf(sign.actedAt),
          ip: sign.ip?.slice(0, 64),
          userAgent: sign.userAgent?.slice(0, 512),
          ...updateKey(),
        };
        return localRecording
          ? localActs.recordSignature.executeWithOptions({ ...RECORD_LOCAL, summary }, [entry])
          : acts.recordSignature.executeWithOptions({ ...RECORD, summary }, [entry]);
      }),
    {
      validator: (sign: SignInput) => {
        const request = assertOpen();
        assertActedAt(sign.actedAt);
        if (sign.contactId !== request.contactId) {
          reject(ErrorCode.WRONG_SIGNER, `contact ${sign.contactId} may not sign contract ${contractId}`);
        }
        if (sign.method === 'click') {
          if (sign.imagePngBase64) reject(ErrorCode.INVALID_SIGNATURE_INPUT, 'a click signature carries no image');
        } else if (sign.method === 'drawn') {
          if (!sign.imagePngBase64?.startsWith(PNG_BASE64_PREFIX)) {
            reject(ErrorCode.INVALID_SIGNATURE_INPUT, 'a drawn signature needs a PNG image (base64)');
          }
        } else {
          reject(ErrorCode.INVALID_SIGNATURE_INPUT, `unknown signature method: ${String(sign.method)}`);
        }
      },
    }
  );

  wf.setHandler(
    confirmManuallyUpdate,
    ({ staffContactId, actedAt }) =>
      record((request) => {
        const summary = `Manuelle Bestätigung durch Kontakt ${staffContactId} speichern`;
        const entry = {
          ...ref,
          signatureId: request.signatureId,
          staffContactId,
          confirmedAt: actedAtOf(actedAt),
          ...updateKey(),
        };
        return localRecording
          ? localActs.recordManualConfirmation.executeWithOptions({ ...RECORD_LOCAL, summary }, [entry])
          : acts.recordManualConfirmation.executeWithOptions({ ...RECORD, summary }, [entry]);
      }),
    {
      validator: ({ staffContactId, actedAt }) => {
        assertOpen();
        assertActedAt(actedAt);
        if (!Number.isSafeInteger(staffContactId) || staffContactId <= 0) {
          reject(ErrorCode.INVALID_SIGNATURE_INPUT, 'staffContactId must be a positive integer');
        }
      },
    }
  );

  wf.setHandler(
    withdrawUpdate,
    async (request: WithdrawInput): Promise<WithdrawOutcome> => {
      // A signature being recorded decides the race: wait for its outcome instead of answering "accepted". When none
      // is, the withdrawal is taken in this same synchronous step (no await before it), so a `sign` handled in the
      // same activation is refused by its validator instead of also succeeding.
      while (recording) await wf.condition(() => !recording);
      if (state.outcome) return { result: 'already-signed', outcome: state.outcome };
      // From here on `sign` and `confirmManually` refuse (assertOpen), so the withdrawal has won.
      withdrawal ??= request;
      // No new invitation or reminder starts from now on (the mail loop checks before every attempt); one already with
      // the mail server may still go out, so the answer waits for it instead of preceding it.
      if (askingMailsInFlight > 0 && wf.patched(WITHDRAW_AFTER_MAIL_PATCH)) {
        await wf.condition(() => askingMailsInFlight === 0);
      }
      return { result: 'withdrawn' };
    },
    {
      validator: (request: WithdrawInput) => {
        // Withdrawn already (this is a second withdrawal while the workflow still voids the request or tells the
        // contact): the same answer every door gives once the workflow has ended. A signature recorded meanwhile is
        // the handler's to report (`already-signed`, with its outcome).
        if (!state.outcome && (withdrawal || state.phase === 'withdrawn')) {
          reject(ErrorCode.SIGNATURE_WITHDRAWN, `the signature request of contract ${contractId} was withdrawn`);
        }
        if (state.phase === 'expired') {
          reject(ErrorCode.SIGNATURE_EXPIRED, `the signature request of contract ${contractId} has expired`);
        }
        // Nothing to withdraw yet, and accepting would promise what may never happen (a stuck preparation).
        if (!prepared && !state.outcome) {
          reject(
            ErrorCode.SIGNATURE_NOT_READY,
            `the signature request of contract ${contractId} is still being prepared; nothing was withdrawn. ` +
              'Retry once its status shows awaiting-signature, or see the status for what blocks it.'
          );
        }
        const staff = request?.staffContactId;
        if (staff !== undefined && (!Number.isSafeInteger(staff) || staff <= 0)) {
          reject(ErrorCode.VALIDATION_FAILED, 'staffContactId must be a positive integer');
        }
      },
    }
  );

  wf.setHandler(withdrawSignal, (request?: WithdrawInput) => {
    // Signals cannot be rejected; one that arrives after the outcome is recorded changes nothing.
    const apply = () => {
      if (!state.outcome && !withdrawal) withdrawal = request ?? {};
    };
    // Lean path: applied once every job of this activation has run. The SDK unblocks conditions after each job, and
    // a replay may hand a `sign` Update and this signal of the same task over in the other order than the original
    // run had them; applied at once, the wait in step 4 ended after the signal in one order and not in the other
    // (a nondeterminism error on replay, seen in the withdrawal-races-signature test). Applied after the jobs, both
    // orders give the same commands.
    if (lean) void Promise.resolve().then(apply);
    else apply();
  });
  wf.setHandler(resendSignal, () => {
    resendsRequested++;
  });
  wf.setHandler(documentViewedSignal, async (view) => {
    // Only the views of the contact the document was made for count; a view before the document exists cannot be.
    if (!prepared || view.contactId !== prepared.contactId) return;
    const viewNumber = (state.views ?? 0) + 1;
    const at = iso(Date.now());
    state.views = viewNumber;
    if (viewNumber === 1) {
      state.firstViewedAt = at;
      notify.emit('contract.viewed', { documentId: prepared.documentId, contactId: view.contactId, firstViewedAt: at });
    }
    await acts.recordDocumentView.executeWithOptions(
      { ...DB_WRITE, summary: `Ansicht ${viewNumber} des Dokuments durch Kontakt ${view.contactId} protokollieren` },
      [
        {
          ...ref,
          documentId: prepared.documentId,
          contactId: view.contactId,
          viewNumber,
          at,
          ip: view.ip?.slice(0, 64),
          userAgent: view.userAgent?.slice(0, 512),
        },
      ]
    );
  });

  /** Latest word from the eHBA's signing workflow about this contract's countersignature (before the queue patch). */
  let countersign: CountersignProgress | undefined;
  /**
   * From `patched('countersign-progress-in-order')` on: every word from the signing workflow, in arrival order, each
   * handled on its own. Keeping only the latest made the workflow's commands depend on how many progress signals one
   * workflow task happened to carry (two in one task: one search-attribute upsert; in two tasks: two), which is
   * delivery timing, not the contract's history. Unset until the countersignature is requested.
   */
  let progressQueue: CountersignProgress[] | undefined;
  /**
   * The signing workflow that took this contract's document: the activity picks it from the contract's Mandant and
   * eHBA in the CRM (routing/countersign-route.ts); before that, the default one of the input.
   */
  let signerWorkflowId: string | undefined;
  wf.setHandler(countersignProgressSignal, (progress) => {
    if (progressQueue) progressQueue.push(progress);
    else if (countersign?.kind !== 'signed') countersign = progress;
  });
  wf.setHandler(comfortSignatureReactivatedSignal, async (request) => {
    // Staff may address the contract they look at; the signing workflow is the one that acts on it.
    if (input.qes && state.phase === 'waiting-for-comfort-signature') {
      await wf
        .getExternalWorkflowHandle(signerWorkflowId ?? input.qes.signerWorkflowId)
        .signal(comfortSignatureReactivatedSignal, request);
    }
  });

  // 1. Load and validate. Bad input fails the workflow with the activity's code and changes nothing. On the lean
  // path this is done by step 2's activity, which validates before it writes.
  const snapshot = lean
    ? undefined
    : await acts.loadContract
        .executeWithOptions(
          {
            ...LOAD,
            summary: `Honorarvertrag ${contractId} laden und prüfen`,
          },
          [ref]
        )
        .catch((err: unknown) => {
          throw unwrapActivityFailure(err);
        });
  if (snapshot) state.contactId = snapshot.contactId;

  /**
   * Compensation: a failure (or cancellation) after step 2 wrote and before a signature would leave a pending
   * signature nobody can sign and a contract that cannot be sent again. Undo step 2, then fail as before.
   */
  async function revertOnFailure<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (err) {
      if (state.outcome || !has('revert-on-failure')) throw err;
      const reason = wf.isCancellation(err)
        ? 'cancelled'
        : (err instanceof wf.ActivityFailure && err.cause instanceof wf.ApplicationFailure && err.cause.type) ||
          (err instanceof wf.ApplicationFailure && err.type) ||
          'failed';
      await wf.CancellationScope.nonCancellable(async () => {
        await acts.revertSignatureRequest.executeWithOptions(
          { ...DB_WRITE, summary: 'Unterschriftsanfrage rückgängig machen (Workflow fehlgeschlagen)' },
          [{ ...ref, reason, at: iso(Date.now()) }]
        );
      });
      state.phase = 'reverted';
      state.mailTrouble = undefined;
      setSearch(undefined, labels.signatureWithdrawn, 'none');
      wf.setCurrentDetails(
        `Fehlgeschlagen (${reason}); Unterschrift zurückgezogen, Vertragsstatus wiederhergestellt. ` +
          'Nach der Korrektur im CRM neu starten.'
      );
      // The workflow fails with the domain code (e.g. CONTACT_EMAIL_INVALID), as a failed load does.
      throw unwrapActivityFailure(err);
    }
  }

  // 2. Document, signature record and contract status in one transaction.
  const leanSummary = `Honorarvertrag ${contractId} prüfen, Dokument erzeugen, Unterschrift anlegen, Vertrag auf versendet setzen`;
  const request = lean
    ? await (
        localPrepare
          ? localActs.loadAndPrepareSignatureRequest
              .executeWithOptions({ ...LOAD_AND_PREPARE_LOCAL, summary: leanSummary }, [ref])
              .catch((err: unknown) => {
                throw asActivityFailure(err, 'loadAndPrepareSignatureRequest');
              })
          : acts.loadAndPrepareSignatureRequest.executeWithOptions({ ...LOAD_AND_PREPARE, summary: leanSummary }, [ref])
      ).catch((err: unknown) => {
        // Nothing was prepared: the start's values (sent, pending, waiting for the signature) never came true.
        if (fromStart) {
          upsert([
            { key: SA_CONTRACT_STATUS, value: null },
            { key: SA_SIGNATURE_STATUS, value: null },
            { key: SA_WAITING_REASON, value: 'none' },
          ]);
        }
        throw unwrapActivityFailure(err);
      })
    : await acts.prepareSignatureRequest.executeWithOptions(
        {
          ...PREPARE,
          summary: 'Dokument erzeugen, Unterschrift anlegen, Vertrag auf versendet setzen',
        },
        [ref]
      );
  prepared = request;
  preparedAtMs = Date.now();
  Object.assign(state, {
    contactId: request.contactId,
    documentId: request.documentId,
    signatureId: request.signatureId,
  });
  // Lean: told to the search attributes together with the invitation's WaitingReason (one upsert, not two), or when
  // the invitation has to wait for a retry.
  setSearch(labels.contractSent, labels.signaturePending, 'none', lean);

  /** When the request expires; set once the invitation went out (until then `state.expiresAt` is unset). */
  let expiresAtMs = Number.POSITIVE_INFINITY;

  // 3. Invitation mail (keyed: one per contract).
  state.phase = 'sending';
  const invitationResult = await revertOnFailure(() =>
    sendMail('invitation', `Einladung zur Unterschrift an Kontakt ${request.contactId} senden`)
  );
  // From here on a `resend` after a refused invitation sends the invitation again, not "1. Erinnerung" to someone who
  // never got the first mail (the address is fixed in the CRM first).
  const resendsInvitation = has('resend-refused-invitation');
  let invitationsSent = 1;
  if (resendsInvitation) state.invitationDelivered = invitationResult === 'sent';
  const waitStart = Date.now();
  state.sentAt = iso(waitStart);
  const expiresAt = waitStart + timing.expiryMs;
  expiresAtMs = expiresAt;
  state.expiresAt = iso(expiresAt);
  invitationSent = true;
  if (!recording && !state.outcome) state.phase = 'awaiting-signature';
  setSearch(undefined, undefined, 'signature');
  notify.emit('contract.sent', {
    documentId: request.documentId,
    signatureId: request.signatureId,
    contractStatus: labels.contractSent,
    signatureStatus: labels.signaturePending,
    expiresAt: state.expiresAt,
    mailRejected: state.mailsRejected?.includes('invitation') ?? false,
  });

  /** When the next automatic reminder is due, or undefined when none is left before expiry. */
  const nextReminderAt = (): number | undefined => {
    if (!timing.remindersEnabled || automaticReminders >= timing.reminderMax) return undefined;
    const due = waitStart + timing.reminderDelayMs + automaticReminders * timing.reminderIntervalMs;
    return due < expiresAt ? due : undefined;
  };

  const describeWait = (next: number | undefined) => {
    const reminders = `${state.remindersSent} Erinnerung${state.remindersSent === 1 ? '' : 'en'} gesendet`;
    const refused = state.mailsRejected?.length
      ? ` Vom Mailserver abgelehnt: ${state.mailsRejected.join(', ')} (E-Mail-Adresse im CRM prüfen, dann erneut senden).`
      : '';
    const nextText = next === undefined ? 'keine weitere Erinnerung geplant' : `nächste Erinnerung ${iso(next)}`;
    wf.setCurrentDetails(
      `Wartet seit ${state.sentAt} auf die Unterschrift von Kontakt ${request.contactId} ` +
        `(Dokument ${request.documentId}); ${reminders}; ${nextText}; läuft ab ${state.expiresAt}.${refused}`
    );
  };

  /**
   * Sends one keyed mail. A recipient the mail server refuses for good (MAIL_REJECTED) does not fail the contract:
   * the document is in the portal and staff can confirm, withdraw, or fix the address and `resend`. The contract
   * records the refusal (query `status`, current details) and goes on.
   */
  async function sendMail(
    kind: 'invitation' | 'reminder' | 'confirmation' | 'withdrawal',
    summary: string,
    sequence?: number
  ): Promise<'sent' | 'skipped' | 'rejected'> {
    const mailName = sequence === undefined ? kind : `${kind}:${sequence}`;
    // Ids only. The certificate id spares the confirmation a read (activity inputs are not compared on replay).
    const certificateDocumentId = kind === 'confirmation' ? state.certificateDocumentId : undefined;
    const mailInput = {
      ...ref,
      kind,
      documentId: request.documentId,
      sequence,
      ...(certificateDocumentId === undefined ? {} : { certificateDocumentId }),
    };
    if (!has('mail-while-open')) {
      try {
        await acts.sendContractMail.executeWithOptions({ ...MAIL, summary }, [mailInput]);
        return 'sent';
      } catch (err) {
        if (failureType(err) !== ErrorCode.MAIL_REJECTED || !has('mail-rejected-keeps-contract')) throw err;
        return mailRejected(mailName);
      }
    }

    // An invitation or reminder asks for a signature: once the request is over it is no longer true.
    const asksForSignature = kind === 'invitation' || kind === 'reminder';
    const requestOver = () =>
      asksForSignature &&
      (state.outcome !== undefined ||
        withdrawal !== undefined ||
        (state.expiresAt !== undefined && Date.now() >= expiresAtMs));
    const started = Date.now();
    let delay = MAIL_RETRY.firstDelayMs;
    for (let attempt = 1; ; attempt++) {
      // A signature being written decides whether the request is still open.
      if (asksForSignature) await wf.condition(() => !recording);
      if (requestOver()) {
        // An earlier attempt failed and left its row `sending`: the row and the audit trail say skipped, as they do
        // when the activity itself finds the request closed. No attempt runs now, so nothing of this key goes out.
        if (attempt > 1 && wf.patched('mail-skip-recorded')) {
          await acts.recordMailSkipped.executeWithOptions(
            { ...DB_WRITE, summary: `Mail ${mailName} als übersprungen vermerken` },
            [{ ...ref, kind, sequence }]
          );
        }
        return mailSkipped(mailName);
      }
      try {
        if (asksForSignature) askingMailsInFlight++;
        let sent;
        try {
          sent =
            kind === 'confirmation' && localConfirmation
              ? await localActs.sendContractMail
                  .executeWithOptions({ ...MAIL_LOCAL_ATTEMPT, summary }, [mailInput])
                  .catch((err: unknown) => {
                    throw asActivityFailure(err, 'sendContractMail');
                  })
              : await acts.sendContractMail.executeWithOptions({ ...MAIL_ATTEMPT, summary }, [mailInput]);
        } finally {
          if (asksForSignature) askingMailsInFlight--;
        }
        state.mailTrouble = undefined;
        return sent.skipped ? mailSkipped(mailName) : 'sent';
      } catch (err) {
        if (failureType(err) === ErrorCode.MAIL_REJECTED) {
          state.mailTrouble = undefined;
          return mailRejected(mailName);
        }
        const final =
          err instanceof wf.ActivityFailure && err.cause instanceof wf.ApplicationFailure && err.cause.nonRetryable;
        if (final || Date.now() - started + delay > MAIL_RETRY.giveUpAfterMs) {
          state.mailTrouble = undefined;
          throw err;
        }
        const cause = err instanceof wf.ActivityFailure ? err.cause : err;
        const lastError =
          cause instanceof wf.ApplicationFailure
            ? `${cause.type ?? 'Error'}: ${cause.message}`
            : cause instanceof Error
              ? `${cause.name}: ${cause.message}`
              : String(cause);
        // A lost worker is tried again at once (as the server's own retry did), a failed send after the backoff.
        const lostWorker =
          err instanceof wf.ActivityFailure &&
          err.cause instanceof wf.TimeoutFailure &&
          wf.patched(MAIL_LOST_WORKER_PATCH);
        const pause = lostWorker ? MAIL_LOST_WORKER_RETRY_MS : delay;
        state.mailTrouble = {
          mail: mailName,
          attempts: attempt,
          lastError,
          since: iso(started),
          nextRetryAt: iso(Date.now() + pause),
        };
        wf.setCurrentDetails(
          `Mail ${mailName} an Kontakt ${request.contactId} konnte nicht gesendet werden ` +
            `(Versuch ${attempt} seit ${state.mailTrouble.since}: ${lastError}); nächster Versuch ${state.mailTrouble.nextRetryAt}.`
        );
        flushSearch();
        // Ends early when the request is over meanwhile (signed, withdrawn): the mail is then skipped.
        await wf.condition(requestOver, pause);
        if (!lostWorker) delay = Math.min(delay * 2, MAIL_RETRY.maxDelayMs);
      }
    }
  }

  /** The withdrawal notice. Its failure does not undo the withdrawal: the contract stays withdrawn, the log says why. */
  async function sendWithdrawalMail(): Promise<NonNullable<ContractState['withdrawalMail']>> {
    try {
      return await sendMail('withdrawal', `Rückzug der Unterschriftsanfrage an Kontakt ${request.contactId} mitteilen`);
    } catch (err) {
      wf.log.warn('withdrawal mail not sent', { contractId, error: failureType(err) ?? String(err) });
      return 'failed';
    }
  }

  function mailRejected(mailName: string): 'rejected' {
    state.mailsRejected = [...(state.mailsRejected ?? []), mailName];
    wf.log.warn('mail refused by the recipient server', { contractId, mail: mailName });
    return 'rejected';
  }

  function mailSkipped(mailName: string): 'skipped' {
    state.mailsSkipped = [...(state.mailsSkipped ?? []), mailName];
    wf.log.info('mail skipped (the signature request is over, or the mail is switched off)', {
      contractId,
      mail: mailName,
    });
    return 'skipped';
  }

  /** The invitation once more, under its own mail key (`invitation:<n>`), after the previous one was refused. */
  const resendInvitation = async (why: string) => {
    const sequence = invitationsSent + 1;
    const result = await sendMail(
      'invitation',
      `Einladung erneut an Kontakt ${request.contactId} senden (${why})`,
      sequence
    );
    if (result === 'skipped') return;
    invitationsSent = sequence;
    if (result === 'sent') state.invitationDelivered = true;
    notify.emit('contract.sent', {
      documentId: request.documentId,
      signatureId: request.signatureId,
      invitation: sequence,
      mailRejected: result === 'rejected',
    });
  };

  const sendReminder = async (why: string) => {
    if (resendsInvitation && state.invitationDelivered === false) return resendInvitation(why);
    const sequence = state.remindersSent + 1;
    const result = await sendMail('reminder', `${sequence}. Erinnerung senden (${why})`, sequence);
    // A skipped reminder was not sent; its number goes to the next one (and no webhook says it was sent).
    if (result === 'skipped') return;
    state.remindersSent = sequence;
    notify.emit('contract.reminded', {
      sequence,
      requestedBy: why === 'automatisch' ? 'schedule' : 'staff',
      mailRejected: state.mailsRejected?.includes(`reminder:${sequence}`) ?? false,
    });
  };

  /**
   * Hands the document to the eHBA's signing workflow and waits for its answer. While the signer is parked (a fault
   * that needs a person), the contract shows why and waits; it never fails for it.
   */
  async function countersignContract(
    qes: NonNullable<ContractWorkflowInput['qes']>,
    documentId: number
  ): Promise<number | undefined> {
    // Before anything the signer can answer: its progress signals then go to the queue from the first one on.
    if (wf.patched(COUNTERSIGN_PROGRESS_IN_ORDER_PATCH)) progressQueue = [];
    state.phase = 'countersigning';
    setSearch(undefined, undefined, 'countersignature');
    wf.setCurrentDetails(`Qualifizierte Gegenzeichnung der Praxis angefordert (Dokument ${documentId}).`);
    // The answer is recorded in the history, so a replay forwards to the same signer (for a contract without a Mandant
    // or eHBA of its own it is `qes.signerWorkflowId`, as before).
    const requested = await acts.requestCountersign.executeWithOptions(
      { ...DB_WRITE, summary: 'Gegenzeichnung (QES) beim eHBA des Vertrags anfordern' },
      [{ request: { contractId, workflowId, documentId }, signer: qes }]
    );
    signerWorkflowId = requested.signerWorkflowId;
    wf.setCurrentDetails(`Qualifizierte Gegenzeichnung bei ${signerWorkflowId} angefordert (Dokument ${documentId}).`);
    for (;;) {
      let progress: CountersignProgress;
      if (progressQueue) {
        const queue = progressQueue;
        await wf.condition(() => queue.length > 0);
        progress = queue.shift() as CountersignProgress;
      } else {
        await wf.condition(() => countersign !== undefined);
        progress = countersign as CountersignProgress;
      }
      if (progress.kind === 'signed') {
        // A signer from `qes-sign-ahead` on stored the countersignature with its batch: nothing left to do here.
        const stored =
          progress.qesDocumentId !== undefined && wf.patched(COUNTERSIGN_STORED_BY_SIGNER_PATCH)
            ? { qesDocumentId: progress.qesDocumentId }
            : await acts.storeCountersignature.executeWithOptions(
                { ...DB_WRITE, summary: 'Gegenzeichnung (QES) als Dokument speichern' },
                [{ requestId: progress.requestId }]
              );
        wf.setCurrentDetails(`Gegengezeichnet (QES), Dokument ${stored.qesDocumentId}.`);
        // The signer may answer `signed` without a `resumed` first (the activation's own batch): the contract no
        // longer waits for anything, so its status must not keep the last parked reason (queries only, not history).
        state.waitingDetail = undefined;
        setSearch(undefined, undefined, 'none');
        notify.emit('contract.countersigned', { documentId, qesDocumentId: stored.qesDocumentId });
        return stored.qesDocumentId;
      }
      countersign = undefined;
      if (progress.kind === 'rejected' && has('countersign-document-rejected')) {
        // The Konnektor will not sign this document (size, format, content): only this countersignature fails, with
        // its code in the status and the current details; the contract itself goes on to its confirmation.
        state.countersignFailure = `${progress.failureType}${progress.gematikCode ? ` (gematik ${progress.gematikCode})` : ''}: ${progress.message}`;
        state.waitingDetail = undefined;
        setSearch(undefined, undefined, 'none');
        wf.setCurrentDetails(`Gegenzeichnung (QES) fehlgeschlagen: ${state.countersignFailure}`);
        return undefined;
      }
      if (progress.kind === 'parked') {
        state.phase = 'waiting-for-comfort-signature';
        state.waitingDetail = `${progress.failureType}${progress.gematikCode ? ` (gematik ${progress.gematikCode})` : ''}`;
        setSearch(undefined, undefined, 'comfort-signature');
        wf.setCurrentDetails(`Wartet auf die Komfortsignatur: ${state.waitingDetail}. ${progress.message}`);
        notify.emit('contract.countersign.waiting', {
          waitingReason: 'comfort-signature',
          failureType: progress.failureType,
          gematikCode: progress.gematikCode,
        });
      } else {
        state.phase = 'countersigning';
        state.waitingDetail = undefined;
        setSearch(undefined, undefined, 'countersignature');
        wf.setCurrentDetails(`Komfortsignatur wieder aktiv; Gegenzeichnung läuft (Dokument ${documentId}).`);
      }
    }
  }

  // 4. Wait for a signature, a confirmation, a withdrawal, reminders and expiry.
  const ending = await revertOnFailure(async () => {
    let ending: 'signed' | 'withdrawn' | 'expired' | undefined;
    while (ending === undefined) {
      if (state.outcome) {
        ending = 'signed';
      } else if (withdrawal && !recording) {
        ending = 'withdrawn';
      } else if (resendsRequested > resendsHandled && !recording) {
        resendsHandled = resendsRequested;
        await sendReminder('von Mitarbeitenden angefordert');
      } else if (Date.now() >= expiresAt && !recording) {
        ending = 'expired';
      } else {
        const next = nextReminderAt();
        if (next !== undefined && Date.now() >= next && !recording) {
          automaticReminders++;
          await sendReminder('automatisch');
          continue;
        }
        state.nextReminderAt = next === undefined ? undefined : iso(next);
        describeWait(next);
        const deadline = Math.min(next ?? expiresAt, expiresAt);
        const wake = () =>
          state.outcome !== undefined ||
          (!recording && (withdrawal !== undefined || resendsRequested > resendsHandled));
        if (recording) {
          // A handler is writing; the outcome (or its failure) decides what comes next, not the clock.
          await wf.condition(() => !recording);
        } else {
          await wf.condition(wake, Math.max(deadline - Date.now(), 1), {
            summary: next === undefined || next >= expiresAt ? 'Ablauf der Anfrage' : 'nächste Erinnerung',
          });
        }
      }
    }
    return ending;
  });
  state.nextReminderAt = undefined;

  if (ending !== 'signed') {
    // Withdrawn or expired: the signature is voided; the contract itself is not changed.
    const voided = await revertOnFailure(() =>
      acts.voidSignatureRequest.executeWithOptions(
        {
          ...DB_WRITE,
          summary: ending === 'withdrawn' ? 'Unterschrift zurückziehen' : 'Unterschrift als abgelaufen markieren',
        },
        [
          {
            ...ref,
            signatureId: request.signatureId,
            reason: ending,
            at: iso(Date.now()),
            staffContactId: withdrawal?.staffContactId,
            withdrawalReason: ending === 'withdrawn' ? withdrawal?.reason : undefined,
          },
        ]
      )
    );
    state.phase = ending;
    const signatureStatus = ending === 'withdrawn' ? labels.signatureWithdrawn : labels.signatureExpired;
    setSearch(undefined, voided.result === 'already-valid' ? labels.signatureValid : signatureStatus, 'none');
    wf.setCurrentDetails(
      ending === 'withdrawn'
        ? `Unterschriftsanfrage zurückgezogen${withdrawal?.staffContactId ? ` von Kontakt ${withdrawal.staffContactId}` : ''}.`
        : `Unterschriftsanfrage abgelaufen am ${iso(Date.now())}.`
    );
    notify.emit(ending === 'withdrawn' ? 'contract.withdrawn' : 'contract.expired', {
      signatureId: request.signatureId,
      signatureStatus: voided.result === 'already-valid' ? labels.signatureValid : signatureStatus,
      staffContactId: withdrawal?.staffContactId,
    });
    if (ending === 'withdrawn' && voided.result === 'voided' && has('withdrawal-mail')) {
      state.withdrawalReason = withdrawal?.reason;
      // Only a contact who got an invitation hears that it is void; one mail per request (keyed), switchable.
      if (state.invitationDelivered !== false) state.withdrawalMail = await sendWithdrawalMail();
    }
    await wf.condition(wf.allHandlersFinished);
    return {
      contractId,
      outcome: ending,
      documentId: request.documentId,
      signatureId: request.signatureId,
      remindersSent: state.remindersSent,
    };
  }

  // 5. Recorded by the update handler in one transaction; now the rest of the confirmation.
  const outcome = state.outcome as SignatureOutcome;
  setSearch(labels.contractInProgress, labels.signatureValid, 'none');
  notify.emit(outcome.kind === 'signed' ? 'contract.signed' : 'contract.confirmed', {
    documentId: request.documentId,
    signatureId: outcome.signatureId,
    method: outcome.method,
    confirmedAt: outcome.confirmedAt,
    confirmedBy: outcome.userContactId,
    md5Hash: outcome.md5Hash,
    contractStatus: labels.contractInProgress,
    signatureStatus: labels.signatureValid,
  });

  // 5b. The practice's QES countersignature (comfort signature through the Konnektor), batched per eHBA.
  if (input.countersign && input.qes && has('qes-countersign')) {
    state.qesDocumentId = await countersignContract(input.qes, request.documentId);
  }

  // 5c. The completion certificate (Prüfprotokoll), stored with the contract's documents, its hash audited.
  if (has('completion-certificate')) {
    const certificate = await acts.createCompletionCertificate.executeWithOptions(
      { ...DB_WRITE, summary: 'Prüfprotokoll erstellen und beim Vertrag speichern' },
      [
        {
          contractId,
          workflowId,
          runId: wf.workflowInfo().runId,
          documentId: request.documentId,
          signatureId: request.signatureId,
          completedAt: iso(Date.now()),
          requestKey: input.requestKey,
        },
      ]
    );
    state.certificateDocumentId = certificate.certificateDocumentId;
  }

  // 6. Confirmation mail.
  state.phase = 'confirming';
  wf.setCurrentDetails(
    `${outcome.kind === 'signed' ? 'Unterschrieben' : 'Manuell bestätigt'} von Kontakt ${outcome.userContactId} ` +
      `am ${outcome.confirmedAt}; Bestätigung wird gesendet.`
  );
  await sendMail('confirmation', `Bestätigung an Kontakt ${request.contactId} senden`);
  state.phase = 'completed';
  notify.emit('contract.completed', {
    outcome: outcome.kind,
    certificateDocumentId: state.certificateDocumentId,
    documentId: request.documentId,
    signatureId: request.signatureId,
    qesDocumentId: state.qesDocumentId,
    remindersSent: state.remindersSent,
  });
  wf.setCurrentDetails(
    `Abgeschlossen: ${outcome.kind === 'signed' ? 'unterschrieben' : 'manuell bestätigt'} von Kontakt ` +
      `${outcome.userContactId} am ${outcome.confirmedAt}.` +
      (state.countersignFailure ? ` Gegenzeichnung (QES) fehlgeschlagen: ${state.countersignFailure}` : '')
  );
  await wf.condition(wf.allHandlersFinished);
  return {
    contractId,
    outcome: outcome.kind,
    documentId: request.documentId,
    signatureId: request.signatureId,
    remindersSent: state.remindersSent,
    signature: outcome,
    qesDocumentId: state.qesDocumentId,
  };
}
