/**
 * Runs the Konnektor simulator standalone: `npx tsx konnektor-simulator/main.ts` (or `npm run konnektor-sim`).
 *
 * First start creates its CA, server, eHBA and client-system certificates under `<dataDir>/konnektor-sim/` and keeps
 * them, so the client ZIP stays valid across restarts. Prints what to put into the signflow configuration.
 *
 * Options: `--vendor-profile <name>` (overrides SIGNFLOW_KONNEKTOR_SIM_VENDOR_PROFILE).
 *
 * Environment (all optional):
 *   SIGNFLOW_DATA_DIR                 data folder (default `data`)
 *   SIGNFLOW_KONNEKTOR_SIM_PORT       HTTPS port (default 8443)
 *   SIGNFLOW_KONNEKTOR_SIM_ADMIN_PORT admin HTTP port on 127.0.0.1 (default 8444)
 *   SIGNFLOW_KONNEKTOR_SIM_HOST       bind address (default 127.0.0.1)
 *   SIGNFLOW_KONNEKTOR_SIM_COMFORT_MAX, SIGNFLOW_KONNEKTOR_SIM_COMFORT_TIMER_SECONDS   comfort limits (100, 21600)
 *   SIGNFLOW_KONNEKTOR_SIM_ONLY_74=true   offer SignatureService 7.4 only (no comfort signature)
 *   SIGNFLOW_KONNEKTOR_SIM_STRICT=true    validate requests against the official XSDs (SIGNFLOW_KONNEKTOR_SIM_SCHEMA_DIR)
 *   SIGNFLOW_KONNEKTOR_SIM_P12=modern     issue an AES .p12 instead of the legacy RC2 kind
 *   SIGNFLOW_KONNEKTOR_SIM_VENDOR_PROFILE=gematik|jaxws|default-namespace|per-element|chunked|soap12
 *                                         how answers and connector.sds are serialised (default gematik)
 *   SIGNFLOW_KONNEKTOR_SIM_HBA_KEY=RSA    an eHBA with an RSA QES key only (default ECC: a G2.1 eHBA signing with
 *                                         ECDSA on brainpoolP256r1, RSA only when a request's Crypt asks for it)
 *   SIGNFLOW_KONNEKTOR_SIM_LATENCY_MS, SIGNFLOW_KONNEKTOR_SIM_DOC_LATENCY_MS, SIGNFLOW_KONNEKTOR_SIM_ERROR_RATE
 *   SIGNFLOW_KONNEKTOR_SIM_SIGN_LATENCY_MS  per SignDocument call instead of SIGNFLOW_KONNEKTOR_SIM_LATENCY_MS (the card's
 *                                           signing; the other calls keep the general latency)
 */
import path from 'node:path';
import type { HbaKeyAlgorithm } from './pki';
import { startKonnektorSimulator } from './server';
import { vendorProfile } from './vendor-profiles';

/** `--vendor-profile <name>` or `--vendor-profile=<name>` on the command line, else the environment. */
function vendorProfileArg(argv: string[]): string | undefined {
  const i = argv.findIndex((a) => a === '--vendor-profile' || a.startsWith('--vendor-profile='));
  if (i < 0) return process.env.SIGNFLOW_KONNEKTOR_SIM_VENDOR_PROFILE;
  const a = argv[i]!;
  return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
}

function num(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${v}`);
  return n;
}

function hbaKey(): HbaKeyAlgorithm {
  const v = (process.env.SIGNFLOW_KONNEKTOR_SIM_HBA_KEY ?? '').trim().toUpperCase();
  if (v === '') return 'ECC';
  if (v === 'ECC' || v === 'RSA') return v;
  throw new Error(
    `SIGNFLOW_KONNEKTOR_SIM_HBA_KEY must be ECC or RSA, got ${process.env.SIGNFLOW_KONNEKTOR_SIM_HBA_KEY}`
  );
}

async function main(): Promise<void> {
  const dataDir = path.join(process.env.SIGNFLOW_DATA_DIR ?? 'data', 'konnektor-sim');
  const sim = await startKonnektorSimulator({
    dataDir,
    host: process.env.SIGNFLOW_KONNEKTOR_SIM_HOST ?? '127.0.0.1',
    port: num('SIGNFLOW_KONNEKTOR_SIM_PORT', 8443),
    adminPort: num('SIGNFLOW_KONNEKTOR_SIM_ADMIN_PORT', 8444),
    offer75: process.env.SIGNFLOW_KONNEKTOR_SIM_ONLY_74 !== 'true',
    vendorProfile: vendorProfile(vendorProfileArg(process.argv.slice(2))).name,
    clientP12Format: process.env.SIGNFLOW_KONNEKTOR_SIM_P12 === 'modern' ? 'modern' : 'legacy',
    hba: { qesKey: hbaKey() },
    comfort: {
      max: num('SIGNFLOW_KONNEKTOR_SIM_COMFORT_MAX', 100),
      timerSeconds: num('SIGNFLOW_KONNEKTOR_SIM_COMFORT_TIMER_SECONDS', 6 * 3600),
    },
    faults: {
      latencyMs: num('SIGNFLOW_KONNEKTOR_SIM_LATENCY_MS', 0),
      operationLatencyMs: process.env.SIGNFLOW_KONNEKTOR_SIM_SIGN_LATENCY_MS?.trim()
        ? { SignDocument: num('SIGNFLOW_KONNEKTOR_SIM_SIGN_LATENCY_MS', 0) }
        : {},
      perDocumentLatencyMs: num('SIGNFLOW_KONNEKTOR_SIM_DOC_LATENCY_MS', 0),
      transientErrorRate: num('SIGNFLOW_KONNEKTOR_SIM_ERROR_RATE', 0),
    },
    log: true,
  });
  console.log(`Konnektor-Simulator läuft (NICHT PRODUKTIV)
  connector.sds  ${sim.sdsUrl}
  vendor profile ${sim.vendorProfile}
  admin          ${sim.adminUrl}/admin/state
  eHBA ICCSN     ${sim.hbaIccsn} (QES key ${hbaKey() === 'ECC' ? 'ECC brainpoolP256r1, RSA on request' : 'RSA only'})
signflow configuration:
  SIGNFLOW_KONNEKTOR_SDS_URL=${sim.sdsUrl}
  SIGNFLOW_KONNEKTOR_CLIENT_ZIP=${path.resolve(dataDir, 'client.zip')}
  SIGNFLOW_KONNEKTOR_SERVER_FINGERPRINT=${sim.fingerprint}
  SIGNFLOW_KONNEKTOR_MANDANT=Mandant1  SIGNFLOW_KONNEKTOR_CLIENT_SYSTEM=${sim.clientSystemId}  SIGNFLOW_KONNEKTOR_WORKPLACE=Arbeitsplatz1`);
  const stop = () => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1)
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
