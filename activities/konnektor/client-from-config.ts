/** Builds the worker's one KonnektorClient from the `konnektor` section of the config. */
import fs from 'node:fs';
import { KonnektorError, KonnektorFailureType } from '../../domain/konnektor-errors';
import type { SignflowConfig } from '../../temporal.config';
import { loadClientCredentials } from './credentials';
import { KonnektorClient } from './konnektor-client';

export type KonnektorConfig = SignflowConfig['konnektor'];

function readPemBundle(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw new Error(`${file} holds no PEM certificate`);
  return pems;
}

/** Throws a needs-a-person `KonnektorError` naming the missing setting. */
export function createKonnektorClient(cfg: KonnektorConfig, overrides: { clientZip?: Buffer } = {}): KonnektorClient {
  if (!cfg.sdsUrl) {
    throw new KonnektorError('SIGNFLOW_KONNEKTOR_SDS_URL is not set', {
      failureType: KonnektorFailureType.KONNEKTOR_CONFIGURATION,
      faultClass: 'needs-person',
    });
  }
  return new KonnektorClient({
    sdsUrl: cfg.sdsUrl,
    credentials: loadClientCredentials({
      clientZip: overrides.clientZip,
      clientZipPath: cfg.clientZipPath,
      p12Path: cfg.p12Path,
      p12Password: cfg.p12Password,
    }),
    trust: {
      caPem: cfg.caPath ? readPemBundle(cfg.caPath) : undefined,
      fingerprintSha256: cfg.serverFingerprint,
      expectedIdentity: cfg.serverIdentity,
      insecureDevOnly: cfg.devInsecure,
    },
    context: { mandantId: cfg.mandantId, clientSystemId: cfg.clientSystemId, workplaceId: cfg.workplaceId },
    rewriteEndpoints: cfg.rewriteEndpoints,
    callTimeoutMs: cfg.callTimeout,
    perDocumentTimeoutMs: cfg.documentTimeout,
    activationTimeoutMs: cfg.activationTimeout,
    maxRequestsPerCall: cfg.batchSize,
    maxBytesPerCall: cfg.maxCallMegabytes * 1024 * 1024,
  });
}
