/**
 * Counts contract, mail and QES events from the activities' outcomes, in one worker interceptor instead of in every
 * activity: an activity that completes did its write (retries after a completion do not happen), and the idempotent
 * ones say when they did nothing (`alreadySent`, `already-voided`…), which is not counted.
 */
import { ApplicationFailure, type Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { ErrorCode } from '../domain/errors';
import { contractEvents, mails, qesDocumentsSigned } from './signflow-metrics';

const MAIL_ACTIVITIES: Record<string, (arg: Record<string, unknown>) => string> = {
  sendContractMail: (arg) => String(arg.kind ?? 'unknown'),
  notifySignerParked: () => 'staff-parked',
  sendStaffDigest: () => 'staff-digest',
};

function count(type: string, arg: Record<string, unknown>, result: Record<string, unknown>): void {
  switch (type) {
    case 'prepareSignatureRequest':
    case 'loadAndPrepareSignatureRequest': // steps 1 and 2 in one (the lean contract path)
      contractEvents.inc({ event: 'started' });
      return;
    case 'recordSignature':
      contractEvents.inc({ event: 'signed' });
      return;
    case 'recordManualConfirmation':
      contractEvents.inc({ event: 'confirmed' });
      return;
    case 'voidSignatureRequest':
      if (result.result === 'voided') contractEvents.inc({ event: arg.reason === 'expired' ? 'expired' : 'withdrawn' });
      return;
    case 'signDocuments':
      qesDocumentsSigned.inc(Array.isArray(result.signed) ? result.signed.length : 0);
      return;
  }
  const kindOf = MAIL_ACTIVITIES[type];
  if (kindOf && result.alreadySent !== true && (result.result === undefined || result.result === 'sent')) {
    mails.inc({ kind: kindOf(arg), result: 'sent' });
  }
}

function countFailure(type: string, arg: Record<string, unknown>, err: unknown): void {
  const failure = err instanceof ApplicationFailure ? err : undefined;
  const kindOf = MAIL_ACTIVITIES[type];
  if (kindOf && failure?.type === ErrorCode.MAIL_REJECTED) mails.inc({ kind: kindOf(arg), result: 'refused' });
  // A contract that cannot be sent (not found, no valid address, wrong status…) fails its workflow at this step.
  if ((type === 'loadContract' || type === 'loadAndPrepareSignatureRequest') && failure?.nonRetryable) {
    contractEvents.inc({ event: 'failed' });
  }
  if (type === 'signDocuments' && failure) {
    const signed = (failure.details?.[0] as { signedRequestIds?: unknown[] } | undefined)?.signedRequestIds;
    if (Array.isArray(signed)) qesDocumentsSigned.inc(signed.length);
  }
}

export const activityMetricsInterceptor: ActivityInterceptorsFactory = (ctx: Context) => ({
  inbound: {
    async execute(input, next) {
      const type = ctx.info.activityType;
      const arg = (input.args[0] ?? {}) as Record<string, unknown>;
      const kindOf = MAIL_ACTIVITIES[type];
      if (kindOf && ctx.info.attempt > 1) mails.inc({ kind: kindOf(arg), result: 'retried' });
      try {
        const result = await next(input);
        count(type, arg, (result ?? {}) as Record<string, unknown>);
        return result;
      } catch (err) {
        countFailure(type, arg, err);
        throw err;
      }
    },
  },
});
