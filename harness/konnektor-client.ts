/** A Konnektor client wired to a running simulator, for the Konnektor suites and the benchmark. */
import { loadClientCredentials } from '../activities/konnektor/credentials';
import { KonnektorClient, type KonnektorClientOptions } from '../activities/konnektor/konnektor-client';
import type { ServerTrust } from '../activities/konnektor/tls-agent';
import type { RunningKonnektorSimulator } from '../konnektor-simulator';

export const CONTEXT = { mandantId: 'Mandant1', clientSystemId: 'Z1', workplaceId: 'Arbeitsplatz1' };

export function clientFor(
  sim: RunningKonnektorSimulator,
  overrides: Partial<Omit<KonnektorClientOptions, 'trust'>> & { trust?: ServerTrust; clientZip?: Buffer } = {}
): KonnektorClient {
  const { clientZip, ...rest } = overrides;
  return new KonnektorClient({
    sdsUrl: sim.sdsUrl,
    credentials: loadClientCredentials({ clientZip: clientZip ?? sim.clientZip }),
    trust: { fingerprintSha256: sim.fingerprint },
    context: CONTEXT,
    callTimeoutMs: 20_000,
    ...rest,
  });
}
