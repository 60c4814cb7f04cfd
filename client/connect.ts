/**
 * One Temporal client per process, from the config (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS / API key variables).
 */
import fs from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { SignflowConfig } from '../temporal.config';

export function connectionOptions(config: SignflowConfig): ConnectionOptions {
  const t = config.temporal;
  const tls =
    t.tlsClientCertPath && t.tlsClientKeyPath
      ? {
          clientCertPair: { crt: fs.readFileSync(t.tlsClientCertPath), key: fs.readFileSync(t.tlsClientKeyPath) },
          serverRootCACertificate: t.tlsServerCaCertPath ? fs.readFileSync(t.tlsServerCaCertPath) : undefined,
        }
      : t.apiKey
        ? true
        : undefined;
  return { address: t.address, tls, apiKey: t.apiKey };
}

export interface ConnectedClient {
  client: Client;
  close(): Promise<void>;
}

export async function connectClient(
  config: SignflowConfig,
  options: { dataConverter?: DataConverter } = {}
): Promise<ConnectedClient> {
  const connection = await Connection.connect(connectionOptions(config));
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: options.dataConverter });
  return { client, close: () => connection.close() };
}
