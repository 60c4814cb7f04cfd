/**
 * The Konnektor simulator inside the dev stack, so that the whole flow including the practice's QES countersignature
 * runs locally. It keeps its CA, certificates and the client-system ZIP in `<dataDir>/konnektor-sim/` (the same folder
 * as `npm run konnektor-sim`), so the ZIP and the pinned fingerprint stay valid across restarts.
 *
 * `SIGNFLOW_DEV_KONNEKTOR=off` leaves it out; then the `SIGNFLOW_QES_ENABLED` / `SIGNFLOW_KONNEKTOR_*` settings of the
 * environment apply as they are (a real Konnektor, or no countersigning).
 */
import path from 'node:path';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../konnektor-simulator';

export interface DevKonnektor {
  sim: RunningKonnektorSimulator;
  /** Where the simulator wrote the client-system ZIP (the file a real Konnektor's management UI exports). */
  clientZipPath: string;
  /** The `konnektor` section of the config that points the worker at the simulator. */
  config: {
    enabled: true;
    sdsUrl: string;
    clientZipPath: string;
    serverFingerprint: string;
    mandantId: string;
    clientSystemId: string;
    workplaceId: string;
  };
}

/** True unless `SIGNFLOW_DEV_KONNEKTOR` is `off` (or `false`, `0`, `no`). */
export function devKonnektorEnabled(env: NodeJS.ProcessEnv): boolean {
  const v = env.SIGNFLOW_DEV_KONNEKTOR?.trim().toLowerCase();
  return !(v === 'off' || v === 'false' || v === '0' || v === 'no');
}

export async function startDevKonnektor(o: {
  dataDir: string;
  host: string;
  port: number;
  adminPort: number;
  /** One line per SOAP call on stdout. */
  log: boolean;
}): Promise<DevKonnektor> {
  const dir = path.join(o.dataDir, 'konnektor-sim');
  const sim = await startKonnektorSimulator({
    dataDir: dir,
    host: o.host,
    port: o.port,
    adminPort: o.adminPort,
    log: o.log,
  });
  // The simulator's information model (Mandant1 / Z1 / Arbeitsplatz1) is fixed: the call context must match it.
  const clientZipPath = path.join(dir, 'client.zip');
  return {
    sim,
    clientZipPath,
    config: {
      enabled: true,
      sdsUrl: sim.sdsUrl,
      clientZipPath,
      serverFingerprint: sim.fingerprint,
      mandantId: 'Mandant1',
      clientSystemId: sim.clientSystemId,
      workplaceId: 'Arbeitsplatz1',
    },
  };
}
