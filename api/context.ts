/**
 * What every route handler needs, built once by `buildApi`, plus the Fastify type extensions the routes rely on.
 */
import type { Client } from '@temporalio/client';
import type { Knex } from 'knex';
import type { SignflowConfig } from '../temporal.config';
import type { Role } from './auth';

export interface ApiDeps {
  config: SignflowConfig;
  client: Client;
  db: Knex;
}

export interface ApiContext extends ApiDeps {
  /** Largest accepted request body in bytes (config `api.bodyLimit` or derived from the image limit). */
  bodyLimit: number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Roles that may call the route. A route under /api/v1 without roles and without `public` is refused. */
    roles?: readonly Role[];
    /** What the route does, for the 403 sentence ("the portal role may not confirm contracts"). */
    action?: string;
    /** No credentials needed (OpenAPI document, dev portal pages). */
    public?: boolean;
  }
  interface FastifyRequest {
    /** The body bytes as received (HMAC is computed over them); empty when there was no body. */
    rawBody?: Buffer;
    /** The authenticated caller's role. */
    role?: Role;
  }
}

/** The portal URL of a document's detail page, as the invitation mail links it. */
export function portalDocumentUrl(config: SignflowConfig, documentId: number): string {
  return config.portal.baseUrl + config.portal.documentPath.replace('{documentId}', String(documentId));
}
