/**
 * The contract doors: start (single and bulk) for the CRM, the portal's signature, staff's confirmation, withdrawal
 * and reminder, and the state of one contract. Every call goes through `client/contract-client.ts`, like the CLI and
 * the outbox poller, so the doors cannot drift apart.
 */
import type { FastifyInstance } from 'fastify';
import { contractStatus } from '../../client/contract-client';
import { readContract } from '../../db/crm-repository';
import { ErrorCode } from '../../domain/errors';
import {
  contractWorkflowId,
  type SignatureMethod,
  type SignInput,
  type WithdrawInput,
} from '../../workflows/definitions';
import { confirm, describeContract, resend, sign, startSignatureRequest, withdraw } from '../contract-commands';
import type { ApiContext } from '../context';
import { ApiError, ApiErrorCode, workflowRejection } from '../errors';
import { checkSignaturePng } from '../png';
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
} from '../schemas';

/** Bulk starts run this many at once: enough to be quick, few enough not to flood the Temporal frontend. */
const BULK_CONCURRENCY = 8;

interface IdParams {
  id: number;
}

export function registerContractRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { client, config, db } = ctx;
  const startOne = (contractId: number) => startSignatureRequest(ctx, contractId);

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
      const id = request.params.id;
      const started = await startOne(id);
      return reply.code(202).send({ contractId: id, ...started });
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
      const ids = request.body.contractIds;
      const results: Record<string, unknown>[] = new Array(ids.length);
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let i = next++; i < ids.length; i = next++) {
          const contractId = ids[i] as number;
          try {
            results[i] = { contractId, ok: true, ...(await startOne(contractId)) };
          } catch (err) {
            if (!(err instanceof ApiError)) request.log.error({ err, contractId }, 'bulk start failed');
            const e = err instanceof ApiError ? err : undefined;
            results[i] = {
              contractId,
              ok: false,
              status: e?.statusCode ?? 503,
              code: e?.code ?? ApiErrorCode.TEMPORAL_UNAVAILABLE,
              message: e?.message ?? 'the signature request could not be started; retry later',
            };
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(BULK_CONCURRENCY, ids.length) }, worker));
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
        response: { 200: signatureOutcomeSchema, ...errorResponses(404, 409, 413, 415, 422) },
      },
    },
    async (request) => {
      const id = request.params.id;
      const { contactId, method, imagePngBase64, ip, userAgent } = request.body;
      const input: SignInput = { contactId, method, ip, userAgent };
      if (method === 'click' && imagePngBase64 !== undefined) {
        throw new ApiError(
          422,
          ErrorCode.INVALID_SIGNATURE_INPUT,
          'a click signature carries no image; send method "drawn" with an image'
        );
      }
      if (method === 'drawn') {
        if (imagePngBase64 === undefined) {
          throw new ApiError(422, ErrorCode.INVALID_SIGNATURE_INPUT, 'a drawn signature needs imagePngBase64 (a PNG)');
        }
        input.imagePngBase64 = checkSignaturePng(imagePngBase64, config.signature.maxImageBytes).bytes.toString(
          'base64'
        );
      }
      return sign(ctx, id, input);
    }
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
        response: { 200: signatureOutcomeSchema, ...errorResponses(404, 409, 415) },
      },
    },
    async (request) => {
      const id = request.params.id;
      return confirm(ctx, id, request.body.staffContactId);
    }
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
        summary: "Withdraw the contract's signature request (a valid signature never changes)",
        tags: ['staff'],
        params: contractParams,
        body: withdrawBody,
        response: { 202: acceptedSchema, ...errorResponses(404, 409, 415) },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      await withdraw(ctx, id, request.body ?? {});
      return reply.code(202).send({ contractId: id, workflowId: contractWorkflowId(id), accepted: true });
    }
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
      const id = request.params.id;
      await resend(ctx, id);
      return reply.code(202).send({ contractId: id, workflowId: contractWorkflowId(id), accepted: true });
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
        response: { 200: contractStateSchema, ...errorResponses(404) },
      },
    },
    async (request) => {
      const id = request.params.id;
      const [contract, description] = await Promise.all([
        readContract(db, config.crm, id),
        describeContract(client, id),
      ]);
      if (!contract && !description) throw workflowRejection(ErrorCode.CONTRACT_NOT_FOUND, id);
      const state = description ? await contractStatus(client, id) : null;
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
