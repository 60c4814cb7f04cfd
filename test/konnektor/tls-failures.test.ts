/**
 * Issue 7 defect 5, with real TLS against the simulator (the faults are only in its server configuration):
 * - a Konnektor that refuses the client certificate by closing the connection mid-handshake without an alert: one such
 *   close is retried, a bounded number of identical ones parks as "needs a person" naming the certificate;
 * - a Konnektor offering only brainpool ECDHE groups is reached (the client offers them; a client with Node's default
 *   groups is not), and one offering only groups the client does not have fails as "no shared cipher/group".
 */
import tls from 'node:tls';
import { KonnektorError } from '../../domain/konnektor-errors';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import { clientFor } from './helpers';
import { credentialsTlsOptions } from './tls-options';

async function failureOf(p: Promise<unknown>): Promise<KonnektorError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x
  );
  expect(e).toBeInstanceOf(KonnektorError);
  return e as KonnektorError;
}

/** A raw handshake with the simulator's client certificate and the given groups (undefined = Node's default). */
function handshake(sim: RunningKonnektorSimulator, ecdhCurve?: string): Promise<string> {
  const url = new URL(sim.sdsUrl);
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: url.hostname,
      port: Number(url.port),
      ...credentialsTlsOptions(sim),
      // OpenSSL 3 has brainpool groups in TLS 1.2 only (as the brainpool-only Konnektor).
      ...(ecdhCurve ? { ecdhCurve, maxVersion: 'TLSv1.2' as const } : {}),
    });
    socket.once('secureConnect', () => {
      const info = socket.getEphemeralKeyInfo() as { name?: string };
      socket.end();
      resolve(`connected ${info.name ?? ''}`.trim());
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(`failed ${err.code ?? err.message}`));
  });
}

describe('a client certificate the Konnektor refuses by closing the connection without an alert', () => {
  test('parks as needs-a-person after a bounded number of identical handshakes, naming the certificate', async () => {
    const sim = await startKonnektorSimulator({ adminPort: false, closeOnClientCertificates: ['Z1'] });
    const client = clientFor(sim);
    try {
      const err = await failureOf(client.findHbaCard());
      expect([err.failureType, err.faultClass]).toEqual(['KONNEKTOR_CLIENT_AUTH_FAILED', 'needs-person']);
      expect(err.message).toMatch(/3 times in a row without an alert/);
      // The certificate is named: its subject and where it came from.
      expect(err.message).toMatch(
        /client certificate "[^"]*CN=Z1[^"]*" \(serial [0-9A-F]+, valid until \d{4}-\d\d-\d\d\) from the client ZIP \(Z1\.p12\)/
      );
      expect(sim.admin.closedHandshakes()).toBe(3);
      // Parked, not retried forever: the next call tries the handshake once more and gives up again, bounded.
      await failureOf(client.findHbaCard());
      expect(sim.admin.closedHandshakes()).toBeLessThanOrEqual(6);
    } finally {
      client.close();
      await sim.close();
    }
  });

  test('one such close (a network hiccup) is retried and the call succeeds', async () => {
    const sim = await startKonnektorSimulator({ adminPort: false, closeOnClientCertificates: [] });
    const client = clientFor(sim);
    try {
      sim.admin.closeNextHandshakes(1);
      const card = await client.findHbaCard();
      expect(card.cardHandle).toBeTruthy();
      expect(sim.admin.closedHandshakes()).toBe(1);
    } finally {
      client.close();
      await sim.close();
    }
  });
});

describe('ECDHE groups', () => {
  test('a brainpool-only Konnektor is reached because the client offers brainpoolP256r1/P384r1', async () => {
    const sim = await startKonnektorSimulator({ adminPort: false, tlsGroups: 'brainpoolP256r1:brainpoolP384r1' });
    const client = clientFor(sim);
    try {
      // The simulator really is brainpool-only: Node's default groups get no connection.
      expect(await handshake(sim)).toMatch(/^failed/);
      expect(await handshake(sim, 'brainpoolP384r1')).toBe('connected brainpoolP384r1');
      const card = await client.findHbaCard();
      expect(card.cardHandle).toBeTruthy();
    } finally {
      client.close();
      await sim.close();
    }
  });

  test('a Konnektor offering only groups the client lacks fails as "no shared cipher/group", for a person', async () => {
    const sim = await startKonnektorSimulator({ adminPort: false, tlsGroups: 'brainpoolP512r1' });
    const client = clientFor(sim);
    try {
      const err = await failureOf(client.findHbaCard());
      expect([err.failureType, err.faultClass]).toEqual(['KONNEKTOR_TLS_NEGOTIATION_FAILED', 'needs-person']);
      expect(err.message).toMatch(/no shared cipher\/group/);
      expect(err.message).toMatch(/brainpoolP256r1, brainpoolP384r1/);
      expect(err.message).not.toMatch(/client certificate/);
    } finally {
      client.close();
      await sim.close();
    }
  });
});
