/**
 * JSON schemas of every route: Fastify validates requests with them and @fastify/swagger turns them into the OpenAPI
 * document, so the documentation cannot drift from what the server accepts. Unknown properties are rejected (400), not
 * silently dropped.
 */
import { CommandErrorCode } from '../commands/errors';
import { ID_PATTERN, MAX_ID } from '../commands/ids';
import { ApiErrorCode } from './errors';
import { CONTRACT_REPORT_COLUMNS, SIGNATURE_REPORT_COLUMNS } from '../db/reports';

/** An id in a JSON body: a JSON number (never a string, boolean or array; the API does not coerce). */
export const ZId = { type: 'integer', minimum: 1, maximum: MAX_ID } as const;

/** An id in a path or query: decimal text without sign, space, leading zero, exponent or hex prefix. */
export const ZTextId = { type: 'string', pattern: ID_PATTERN } as const;

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every rejection: a machine-readable code and a sentence that says what is wrong.',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', enum: [...Object.values(ApiErrorCode), ...Object.values(CommandErrorCode)] },
    message: { type: 'string' },
    details: { type: 'object', additionalProperties: true, description: 'Ids and facts behind the refusal.' },
  },
} as const;

const errorRef = { $ref: 'Error#' } as const;

/** The error answers a route can give, for the OpenAPI document. */
export function errorResponses(...statuses: number[]): Record<number, unknown> {
  const descriptions: Record<number, string> = {
    400: 'The request does not match the schema.',
    401: 'Missing or invalid credentials.',
    403: "The caller's role may not use this route.",
    404: 'The contract, contact or signature request does not exist.',
    409: 'The contract is in a state that does not allow this.',
    413: 'The body or the signature image is too large.',
    415: 'The body is not application/json.',
    422: 'The request is well-formed but cannot apply (wrong signer, invalid image).',
    503:
      'NO_WORKER: no signflow worker answered within SIGNFLOW_WORKER_ANSWER_TIMEOUT; retry after `Retry-After` ' +
      'seconds (read the contract first: an admitted signature may still be recorded).',
  };
  const out: Record<number, unknown> = {};
  for (const s of [400, 401, 403, ...statuses]) out[s] = { description: descriptions[s], ...errorRef };
  return out;
}

export const contractParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { ...ZTextId, description: 'Honorarvertrag id in the CRM' } },
} as const;

export const contactParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { ...ZTextId, description: 'Kontakt id in the CRM' } },
} as const;

export const startResultSchema = {
  type: 'object',
  required: ['contractId', 'workflowId', 'runId'],
  properties: {
    contractId: { type: 'integer' },
    workflowId: { type: 'string', description: '`honorarvertrag-<contractId>`' },
    runId: { type: 'string', description: 'The same for every start of the same running request (idempotent).' },
  },
} as const;

export const bulkStartBody = {
  type: 'object',
  required: ['contractIds'],
  additionalProperties: false,
  properties: {
    contractIds: { type: 'array', items: ZId, minItems: 1, maxItems: 1000, uniqueItems: true },
  },
} as const;

export const bulkStartResultSchema = {
  type: 'object',
  required: ['started', 'failed', 'results'],
  properties: {
    started: { type: 'integer' },
    failed: { type: 'integer' },
    results: {
      type: 'array',
      items: {
        type: 'object',
        required: ['contractId', 'ok'],
        properties: {
          contractId: { type: 'integer' },
          ok: { type: 'boolean' },
          workflowId: { type: 'string' },
          runId: { type: 'string' },
          status: { type: 'integer', description: 'HTTP status this contract alone would have had.' },
          code: { type: 'string' },
          message: { type: 'string' },
        },
      },
    },
  },
} as const;

export const signBody = {
  type: 'object',
  required: ['contactId', 'method'],
  additionalProperties: false,
  properties: {
    contactId: { ...ZId, description: 'The contact logged in to the portal, on whose behalf the portal signs.' },
    method: {
      type: 'string',
      enum: ['click', 'drawn'],
      description: '`click` = "Dieses Dokument unterzeichnen"; `drawn` = a PNG from the signature pad',
    },
    imagePngBase64: {
      type: 'string',
      description: 'Base64 PNG (a `data:image/png;base64,` prefix is accepted); required for `drawn` only.',
    },
    ip: { type: 'string', maxLength: 64, description: "The client's IP address as the portal saw it (optional)." },
    userAgent: {
      type: 'string',
      maxLength: 512,
      description: "The client's user agent as the portal saw it (optional).",
    },
  },
} as const;

export const signatureOutcomeSchema = {
  type: 'object',
  required: ['kind', 'signatureId', 'userContactId', 'method', 'confirmedAt', 'md5Hash'],
  properties: {
    kind: { type: 'string', enum: ['signed', 'confirmed'] },
    signatureId: { type: 'integer' },
    userContactId: { type: 'integer' },
    method: { type: 'string', enum: ['click', 'drawn', 'staff'] },
    confirmedAt: { type: 'string', format: 'date-time' },
    md5Hash: { type: 'string' },
  },
} as const;

export const confirmBody = {
  type: 'object',
  required: ['staffContactId'],
  additionalProperties: false,
  properties: { staffContactId: { ...ZId, description: "The staff member's Kontakt id." } },
} as const;

export const withdrawBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    staffContactId: { ...ZId, description: "The staff member's Kontakt id, for the audit trail." },
    reason: { type: 'string', maxLength: 500 },
  },
} as const;

export const withdrawResultSchema = {
  type: 'object',
  required: ['contractId', 'workflowId', 'result'],
  properties: {
    contractId: { type: 'integer' },
    workflowId: { type: 'string' },
    result: { type: 'string', enum: ['withdrawn'], description: 'What happened (a signature that won is a 409).' },
  },
} as const;

export const acceptedSchema = {
  type: 'object',
  required: ['contractId', 'workflowId', 'accepted'],
  properties: {
    contractId: { type: 'integer' },
    workflowId: { type: 'string' },
    accepted: { type: 'boolean' },
  },
} as const;

export const contractStateSchema = {
  type: 'object',
  required: ['contractId', 'workflowId', 'workflow', 'state', 'crm'],
  properties: {
    contractId: { type: 'integer' },
    workflowId: { type: 'string' },
    workflow: {
      type: ['object', 'null'],
      description: 'The latest workflow execution of the contract, or null when none was started.',
      properties: {
        runId: { type: 'string' },
        status: { type: 'string', description: 'RUNNING, COMPLETED, FAILED, TERMINATED, …' },
        startTime: { type: 'string', format: 'date-time' },
        closeTime: { type: ['string', 'null'], format: 'date-time' },
      },
    },
    state: {
      type: ['object', 'null'],
      description: "The workflow's `status` query (phase, reminders, outcome), or null when none was started.",
      additionalProperties: true,
    },
    crm: {
      type: ['object', 'null'],
      description: "The contract's row in the CRM, or null when it is not there.",
      properties: {
        title: { type: 'string' },
        contactId: { type: 'integer' },
        status: { type: 'string' },
        lastStatusChange: { type: ['string', 'null'], format: 'date-time' },
        confirmedByFreelancer: { type: 'boolean' },
        confirmedAt: { type: ['string', 'null'], format: 'date-time' },
        confirmedBy: { type: ['integer', 'null'] },
      },
    },
  },
} as const;

export const pendingSignaturesSchema = {
  type: 'object',
  required: ['contactId', 'items'],
  properties: {
    contactId: { type: 'integer' },
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['signatureId', 'documentId', 'portalUrl'],
        properties: {
          signatureId: { type: 'integer' },
          documentId: { type: 'integer' },
          documentTitle: { type: ['string', 'null'] },
          contractId: { type: ['integer', 'null'] },
          contractTitle: { type: ['string', 'null'] },
          requestedAt: { type: ['string', 'null'], format: 'date-time' },
          portalUrl: { type: 'string', description: "The document's detail page in the portal." },
        },
      },
    },
  },
} as const;

/** Query values are text: `limit` 1–10000 (default 1000), `offset` ≥ 0 (default 0), both decimal. */
const pageQuery = {
  limit: { type: 'string', pattern: '^(10000|[1-9][0-9]{0,3})$', default: '1000' },
  offset: { type: 'string', pattern: '^(0|[1-9][0-9]{0,9})$', default: '0' },
} as const;

export const signaturesReportQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', maxLength: 64, description: 'e.g. `ausstehend`, `gültig`' },
    contactId: ZTextId,
    contractId: ZTextId,
    ...pageQuery,
  },
} as const;

export const contractsReportQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', maxLength: 64, description: 'e.g. `versendet`, `in Durchführung`' },
    contactId: ZTextId,
    ...pageQuery,
  },
} as const;

const nullable = (type: string) => ({ type: [type, 'null'] });

const signatureRowSchema = {
  type: 'object',
  properties: {
    signatureId: { type: 'integer' },
    status: { type: 'string' },
    contactId: { type: 'integer' },
    contactName: nullable('string'),
    documentId: { type: 'integer' },
    documentTitle: nullable('string'),
    linkedObjectType: nullable('string'),
    linkedObjectId: nullable('integer'),
    byAuthenticatedClick: nullable('boolean'),
    imageDocumentId: nullable('integer'),
    userId: nullable('integer'),
    md5Hash: nullable('string'),
    signedAt: nullable('string'),
  },
} as const;

const contractRowSchema = {
  type: 'object',
  properties: {
    contractId: { type: 'integer' },
    title: { type: 'string' },
    contactId: { type: 'integer' },
    contactName: nullable('string'),
    status: { type: 'string' },
    lastStatusChange: nullable('string'),
    confirmedByFreelancer: { type: 'boolean' },
    confirmedAt: nullable('string'),
    confirmedBy: nullable('integer'),
    start: nullable('string'),
    end: nullable('string'),
    feeCents: nullable('integer'),
    signatureId: nullable('integer'),
    signatureStatus: nullable('string'),
  },
} as const;

function reportResponse(rowSchema: object, labels: string[], title: string) {
  return {
    description: `${title}: JSON by default; CSV (header row: ${labels.join(', ')}) with \`Accept: text/csv\`.`,
    content: {
      'application/json': {
        schema: {
          type: 'object',
          required: ['rows', 'limit', 'offset'],
          properties: {
            report: { type: 'string' },
            limit: { type: 'integer' },
            offset: { type: 'integer' },
            rows: { type: 'array', items: rowSchema },
          },
        },
      },
      'text/csv': { schema: { type: 'string' } },
    },
  };
}

export const signaturesReportResponse = reportResponse(
  signatureRowSchema,
  SIGNATURE_REPORT_COLUMNS.map((c) => c.label),
  'Unterschriften zu Dokumenten'
);
export const contractsReportResponse = reportResponse(
  contractRowSchema,
  CONTRACT_REPORT_COLUMNS.map((c) => c.label),
  'Honorarverträge verwalten'
);
