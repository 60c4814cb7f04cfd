/**
 * What a command needs, made on first use and closed once at the end: the config (validated from the environment), the
 * Temporal client (with the payload codec, so signals and updates are encrypted like the worker's), the database.
 * A verb that only reads the database never connects to Temporal, and the other way round.
 */
import type { Client } from '@temporalio/client';
import type { Knex } from 'knex';
import { connectClient, type ConnectedClient } from '../client/connect';
import { createDataConverter } from '../codec/data-converter';
import { createDb } from '../db/connection';
import { databaseUrl, loadConfig, type SignflowConfig } from '../temporal.config';
import { CliError, ExitCode } from './exit-codes';
import { Output, type Io } from './output';

export class CliContext {
  private cachedConfig?: SignflowConfig;
  private connected?: Promise<ConnectedClient>;
  private knex?: Knex;

  constructor(
    readonly io: Io,
    readonly out: Output
  ) {}

  get config(): SignflowConfig {
    this.cachedConfig ??= loadConfig({}, this.io.env);
    return this.cachedConfig;
  }

  async temporal(): Promise<Client> {
    const config = this.config;
    this.connected ??= connectClient(config, { dataConverter: createDataConverter(config) }).catch((err: unknown) => {
      this.connected = undefined;
      throw new CliError(
        ExitCode.UNAVAILABLE,
        'TEMPORAL_UNAVAILABLE',
        `cannot reach Temporal at ${config.temporal.address} (namespace ${config.temporal.namespace}): ${(err as Error).message}`
      );
    });
    return (await this.connected).client;
  }

  /** The Temporal client if this command already connected, without connecting for it (for `--verbose` lines). */
  async temporalIfConnected(): Promise<Client | undefined> {
    return this.connected ? (await this.connected.catch(() => undefined))?.client : undefined;
  }

  get db(): Knex {
    this.knex ??= createDb(databaseUrl(this.config), { poolMax: 2 });
    return this.knex;
  }

  async close(): Promise<void> {
    const connected = this.connected;
    this.connected = undefined;
    if (connected) await connected.then((c) => c.close()).catch(() => undefined);
    if (this.knex) await this.knex.destroy();
  }
}

export function createContext(io: Io, json: boolean): CliContext {
  return new CliContext(io, new Output(io, json));
}
