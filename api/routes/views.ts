/**
 * `POST /contracts/{id}/views` (portal): the portal tells that the contact opened the document. The contract's
 * workflow counts the views, tells the webhook subscribers of the first (`contract.viewed`) and writes each to the
 * audit trail with the client's IP address and user agent as the portal passes them (optional).
 */
import type { FastifyInstance } from 'fastify';
import { recordView } from '../../commands/contract-commands';
import { idFromText } from '../../commands/ids';
import type { DocumentViewedInput } from '../../workflows/definitions';
import type { ApiContext } from '../context';
import { acceptedSchema, contractParams, errorResponses, ZId } from '../schemas';

export const viewBody = {
  type: 'object',
  required: ['contactId'],
  additionalProperties: false,
  properties: {
    contactId: { ...ZId, description: 'The contact logged in to the portal who opened it.' },
    ip: { type: 'string', maxLength: 64, description: "The client's IP address as the portal saw it (optional)." },
    userAgent: { type: 'string', maxLength: 512, description: "The client's user agent (optional)." },
  },
} as const;

export function registerViewRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Params: { id: string }; Body: DocumentViewedInput }>(
    '/contracts/:id/views',
    {
      config: { roles: ['portal'], action: 'record document views' },
      schema: {
        summary: 'The contact opened the document in the portal (first view → contract.viewed; every view audited)',
        tags: ['portal'],
        params: contractParams,
        body: viewBody,
        response: { 202: acceptedSchema, ...errorResponses(404, 409, 415) },
      },
    },
    async (request, reply) => {
      const answer = await recordView(ctx, idFromText(request.params.id, 'contract id'), request.body);
      return reply.code(202).send({ ...answer, accepted: true });
    }
  );
}
