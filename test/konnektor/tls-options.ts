/** TLS options of a raw https request to the simulator with its client-system certificate (for hand-made requests). */
import type tls from 'node:tls';
import { loadClientCredentials, tlsOptionsOf } from '../../activities/konnektor/credentials';
import type { RunningKonnektorSimulator } from '../../konnektor-simulator';

export function credentialsTlsOptions(sim: RunningKonnektorSimulator): tls.ConnectionOptions {
  return {
    ...tlsOptionsOf(loadClientCredentials({ clientZip: sim.clientZip })),
    ca: [sim.caPem],
    rejectUnauthorized: false,
  };
}
