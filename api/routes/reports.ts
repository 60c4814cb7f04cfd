/**
 * Read routes over the CRM tables: the two reports of the seed (JSON, or CSV with `Accept: text/csv`) and the
 * contact's pending signatures ("Ausstehende Unterschriften").
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { idFromText } from '../../commands/ids';
import { readContact } from '../../db/crm-repository';
import { ErrorCode } from '../../domain/errors';
import type { ApiContext } from '../context';
import { ApiError } from '../errors';
import { portalDocumentUrl } from '../context';
import {
  CONTRACT_REPORT_COLUMNS,
  contractsReport,
  reportCsv,
  pendingSignatures,
  SIGNATURE_REPORT_COLUMNS,
  signaturesReport,
  type Column,
} from '../../db/reports';
import {
  contactParams,
  contractsReportQuery,
  contractsReportResponse,
  errorResponses,
  pendingSignaturesSchema,
  signaturesReportQuery,
  signaturesReportResponse,
} from '../schemas';

/** Kept as the route's name for it; the rendering (and its CSV-injection guard) lives in db/reports.ts. */
export const toCsv = reportCsv;

/** True when the caller prefers CSV over JSON (plain `Accept: text/csv`, or listed before JSON). */
export function wantsCsv(request: FastifyRequest): boolean {
  const accept = String(request.headers.accept ?? '').toLowerCase();
  const csv = accept.indexOf('text/csv');
  if (csv < 0) return false;
  const json = accept.indexOf('application/json');
  return json < 0 || csv < json;
}

function sendReport<Row>(
  request: FastifyRequest,
  reply: FastifyReply,
  name: string,
  columns: Column<Row>[],
  rows: Row[],
  page: { limit: number; offset: number }
) {
  if (wantsCsv(request)) {
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${name}.csv"`)
      .send(toCsv(columns, rows));
  }
  return reply.send({ report: name, limit: page.limit, offset: page.offset, rows });
}

/** As received: text, held to decimal form by the schema. */
interface SignatureQuery {
  status?: string;
  contactId?: string;
  contractId?: string;
  limit: string;
  offset: string;
}

/** Converts the query's decimal texts (already checked by the schema) to numbers. */
function numbers(q: SignatureQuery) {
  const id = (v: string | undefined, field: string) => (v === undefined ? undefined : idFromText(v, field));
  return {
    status: q.status,
    contactId: id(q.contactId, 'contactId'),
    contractId: id(q.contractId, 'contractId'),
    limit: Number(q.limit),
    offset: Number(q.offset),
  };
}

export function registerReadRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { config, db } = ctx;
  const readers = ['ops', 'staff', 'crm'] as const;

  app.get<{ Querystring: SignatureQuery }>(
    '/reports/signatures',
    {
      config: { roles: readers, action: 'read reports' },
      schema: {
        summary: 'Report "Unterschriften zu Dokumenten" (JSON, or CSV with Accept: text/csv)',
        tags: ['read'],
        querystring: signaturesReportQuery,
        response: { 200: signaturesReportResponse, ...errorResponses() },
      },
    },
    async (request, reply) => {
      const { status, contactId, contractId, limit, offset } = numbers(request.query);
      const rows = await signaturesReport(db, config.crm, { status, contactId, contractId }, { limit, offset });
      return sendReport(request, reply, 'unterschriften-zu-dokumenten', SIGNATURE_REPORT_COLUMNS, rows, {
        limit,
        offset,
      });
    }
  );

  app.get<{ Querystring: Omit<SignatureQuery, 'contractId'> }>(
    '/reports/contracts',
    {
      config: { roles: readers, action: 'read reports' },
      schema: {
        summary: 'Report "Honorarverträge verwalten" (JSON, or CSV with Accept: text/csv)',
        tags: ['read'],
        querystring: contractsReportQuery,
        response: { 200: contractsReportResponse, ...errorResponses() },
      },
    },
    async (request, reply) => {
      const { status, contactId, limit, offset } = numbers(request.query);
      const rows = await contractsReport(db, config.crm, { status, contactId }, { limit, offset });
      return sendReport(request, reply, 'honorarvertraege-verwalten', CONTRACT_REPORT_COLUMNS, rows, { limit, offset });
    }
  );

  app.get<{ Params: { id: string } }>(
    '/contacts/:id/pending-signatures',
    {
      // The portal shows a contact their own list; like signing, it trusts the portal's login for the contact id.
      config: { roles: ['portal', 'staff', 'ops', 'crm'], action: 'read pending signatures' },
      schema: {
        summary: 'Ausstehende Unterschriften: the signatures a contact still has to give',
        tags: ['portal'],
        params: contactParams,
        response: { 200: pendingSignaturesSchema, ...errorResponses(404) },
      },
    },
    async (request) => {
      const contactId = idFromText(request.params.id, 'contact id');
      if (!(await readContact(db, config.crm, contactId))) {
        throw new ApiError(404, ErrorCode.CONTACT_NOT_FOUND, `contact ${contactId} does not exist in the CRM`);
      }
      const items = await pendingSignatures(db, config.crm, contactId);
      return { contactId, items: items.map((i) => ({ ...i, portalUrl: portalDocumentUrl(config, i.documentId) })) };
    }
  );
}
