/**
 * The contract doors: start (single and bulk) for the CRM, the portal's signature, staff's confirmation, withdrawal
 * and reminder, and the state of one contract. Every command goes through commands/, like the CLI and the outbox
 * poller; this file only turns HTTP into command calls and answers into HTTP.
 */
import type { FastifyInstance } from 'fastify';
import {
  confirmContract,
  contractState,
  resendInvitation,
  signContract,
  startContract,
  startContracts,
  withdrawContract,
} from '../../commands/contract-commands';
import { CommandError, CommandErrorCode } from '../../commands/errors';
import { idFromText } from '../../commands/ids';
import { describeContract } from '../../commands/temporal-answers';
import { readContract } from '../../db/crm-repository';
import { contractWorkflowId, type SignatureMethod, type WithdrawInput } from '../../workflows/definitions';
import type { ApiContext } from '../context';
import { ApiErrorCode, HTTP_STATUS } from '../errors';
import {
  acceptedSchema,
  bulkStartBody,
  bulkStartResultSchema,
  confirmBody,
  contractParams,
  contractStateSchema,
  errorResponses,
  signatureOutcomeSchema,
  signBody,
  startResultSchema,
  withdrawBody,
  withdrawResultSchema,
} from '../schemas';

/** Bulk starts run this many at once: enough to be quick, few enough not to flood the Temporal frontend. */
const BULK_CONCURRENCY = 8;

interface IdParams {
  id: string;
}

/** The path's contract id; the schema already holds it to the decimal form, this converts (and re-checks). */
const pathId = (params: IdParams): number => idFromText(params.id, 'contract id');

export function registerContractRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { client, config, db } = ctx;

  app.post<{ Params: IdParams }>(
    '/contracts/:id/signature-request',
    {
      config: { roles: ['crm'], action: 'start signature requests' },
      schema: {
        summary: 'Start the signature process for a contract (idempotent: the same contract answers the same run)',
        tags: ['contracts'],
        params: contractParams,
        response: { 202: startResultSchema, ...errorResponses(404, 409) },
      },
    },
    async (request, reply) => {
      const { contractId, workflowId, runId } = await startContract(ctx, pathId(request.params));
      return reply.code(202).send({ contractId, workflowId, runId });
    }
  );

  app.post<{ Body: { contractIds: number[] } }>(
    '/contracts/signature-requests',
    {
      config: { roles: ['crm'], action: 'start signature requests' },
      schema: {
        summary: 'Start the signature process for many contracts; answers per contract',
        tags: ['contracts'],
        body: bulkStartBody,
        response: { 200: bulkStartResultSchema, ...errorResponses(413, 415) },
      },
    },
    async (request) => {
      const outcomes = await startContracts(ctx, request.body.contractIds, { concurrency: BULK_CONCURRENCY });
      const results = outcomes.map((o) => {
        if (o.ok) return { contractId: o.contractId, ok: true, workflowId: o.workflowId, runId: o.runId };
        if (o.error instanceof CommandError) {
          const { code, message } = o.error;
          return { contractId: o.contractId, ok: false, status: HTTP_STATUS[code], code, message };
        }
        request.log.error({ err: o.error, contractId: o.contractId }, 'bulk start failed');
        return {
          contractId: o.contractId,
          ok: false,
          status: 503,
          code: ApiErrorCode.TEMPORAL_UNAVAILABLE,
          message: 'the signature request could not be started; retry later',
        };
      });
      const started = results.filter((r) => r.ok).length;
      return { started, failed: results.length - started, results };
    }
  );

  app.post<{
    Params: IdParams;
    Body: { contactId: number; method: SignatureMethod; imagePngBase64?: string; ip?: string; userAgent?: string };
  }>(
    '/contracts/:id/signature',
    {
      config: { roles: ['portal'], action: 'sign contracts' },
      schema: {
        summary: "The portal's signature, on behalf of the logged-in contact (click or drawn PNG)",
        tags: ['portal'],
        params: contractParams,
        body: signBody,
        response: { 200: signatureOutcomeSchema, ...errorResponses(404, 409, 413, 415, 422, 503) },
      },
    },
    async (request) => signContract(ctx, pathId(request.params), request.body)
  );

  app.post<{ Params: IdParams; Body: { staffContactId: number } }>(
    '/contracts/:id/confirmation',
    {
      config: { roles: ['staff'], action: 'confirm contracts' },
      schema: {
        summary: "Staff's manual confirmation instead of the contact's signature",
        tags: ['staff'],
        params: contractParams,
        body: confirmBody,
        response: { 200: signatureOutcomeSchema, ...errorResponses(404, 409, 415, 503) },
      },
    },
    async (request) => confirmContract(ctx, pathId(request.params), request.body.staffContactId)
  );

  app.post<{ Params: IdParams; Body: WithdrawInput | undefined }>(
    '/contracts/:id/withdrawal',
    {
      config: { roles: ['staff'], action: 'withdraw contracts' },
      // The body is optional: a bare POST withdraws without staff id or reason.
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
      schema: {
        summary:
          "Withdraw the contract's signature request and answer what happened: 200 withdrawn, or 409 " +
          'SIGNATURE_ALREADY_CONFIRMED with the signature that won (a valid signature never changes)',
        tags: ['staff'],
        params: contractParams,
        body: withdrawBody,
        response: { 200: withdrawResultSchema, ...errorResponses(404, 409, 415, 422, 503) },
      },
    },
    async (request) => withdrawContract(ctx, pathId(request.params), request.body ?? {})
  );

  app.post<{ Params: IdParams }>(
    '/contracts/:id/reminder',
    {
      config: { roles: ['staff'], action: 'resend invitations' },
      schema: {
        summary: 'Resend the invitation (an extra reminder mail)',
        tags: ['staff'],
        params: contractParams,
        response: { 202: acceptedSchema, ...errorResponses(404, 409) },
      },
    },
    async (request, reply) => {
      const { contractId, workflowId } = await resendInvitation(ctx, pathId(request.params));
      return reply.code(202).send({ contractId, workflowId, accepted: true });
    }
  );

  app.get<{ Params: IdParams }>(
    '/contracts/:id',
    {
      config: { roles: ['ops', 'staff', 'crm'], action: 'read contracts' },
      schema: {
        summary: "The state of one contract: its workflow, the workflow's status query and the CRM row",
        tags: ['read'],
        params: contractParams,
        response: { 200: contractStateSchema, ...errorResponses(404, 503) },
      },
    },
    async (request) => {
      const id = pathId(request.params);
      const [contract, description] = await Promise.all([
        readContract(db, config.crm, id),
        describeContract(client, id),
      ]);
      if (!contract && !description) {
        throw new CommandError(CommandErrorCode.CONTRACT_NOT_FOUND, `contract ${id} does not exist in the CRM`, {
          contractId: id,
        });
      }
      const state = description ? await contractState(ctx, id) : null;
      return {
        contractId: id,
        workflowId: contractWorkflowId(id),
        workflow: description
          ? {
              runId: description.runId,
              status: description.status.name,
              startTime: description.startTime.toISOString(),
              closeTime: description.closeTime?.toISOString() ?? null,
            }
          : null,
        state,
        crm: contract
          ? {
              title: contract.title,
              contactId: contract.contactId,
              status: contract.status,
              lastStatusChange: contract.lastStatusChange?.toISOString() ?? null,
              confirmedByFreelancer: contract.confirmedByFreelancer,
              confirmedAt: contract.confirmedAt?.toISOString() ?? null,
              confirmedBy: contract.confirmedBy,
            }
          : null,
      };
    }
  );
}
