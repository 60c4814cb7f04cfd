/**
 * The API as its own process: `npx tsx api/main.ts` (the dev stack starts it the same way, or calls `runApi`).
 * Listens on `config.api.host`:`config.api.port` (default 127.0.0.1:3000) until SIGINT/SIGTERM.
 */
import type { Knex } from 'knex';
import type { FastifyInstance } from 'fastify';
import { connectClient } from '../client/connect';
import { createDataConverter } from '../codec/data-converter';
import { createDb } from '../db/connection';
import { assertMappingMatchesDatabase } from '../db/mapping-check';
import { databaseUrl, loadConfig, type SignflowConfig } from '../temporal.config';
import { buildApi, type BuildApiOptions } from './server';

export interface RunningApi {
  app: FastifyInstance;
  /** `http://host:port`, with the port actually bound (useful with port 0). */
  url: string;
  close(): Promise<void>;
}

/** Opens the database and the Temporal connection, builds the API and listens. `close` releases all three. */
export async function runApi(
  config: SignflowConfig,
  options: BuildApiOptions & {
    port?: number;
    /**
     * Share a knex pool (the dev stack passes the worker's): two better-sqlite3 connections in one process wait for
     * each other's locks synchronously and stall the event loop. Not closed by `close()`.
     */
    db?: Knex;
  } = {}
): Promise<RunningApi> {
  const ownDb = !options.db;
  const db = options.db ?? createDb(databaseUrl(config), { poolMax: config.database.poolMax });
  // Refuse to start on a mapping the database does not match: every request would fail on it later.
  await assertMappingMatchesDatabase(db, config.crm).catch(async (err: unknown) => {
    if (ownDb) await db.destroy();
    throw err;
  });
  // The payload codec of the worker: updates carry personal data and the answers come back encrypted.
  const temporal = await connectClient(config, { dataConverter: createDataConverter(config) }).catch(
    async (err: unknown) => {
      if (ownDb) await db.destroy();
      throw err;
    }
  );
  try {
    const app = await buildApi({ config, client: temporal.client, db }, options);
    const port = options.port ?? config.api.port;
    await app.listen({ host: config.api.host, port });
    const address = app.server.address();
    const bound = typeof address === 'object' && address ? address.port : port;
    const host = config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host;
    return {
      app,
      url: `http://${host}:${bound}`,
      close: async () => {
        await app.close();
        await temporal.close();
        if (ownDb) await db.destroy();
      },
    };
  } catch (err) {
    await temporal.close();
    if (ownDb) await db.destroy();
    throw err;
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const api = await runApi(config);
  api.app.log.info(`signflow API on ${api.url}/api/v1 (OpenAPI: ${api.url}/api/v1/openapi.json)`);
  if (config.api.dev) api.app.log.info(`dev signing page: ${api.url}/portal/dokumente/<documentId>`);
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    api.app.log.info(`${signal}: closing`);
    api.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      }
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
