/**
 * The Konnektor client against the simulator over real mutual TLS: discovery, card lookup, signature mode, comfort
 * activation, signing (single, batch ≥ 50, PAdES), verification, and the TLS checks in both directions.
 */
import { KonnektorError } from '../../domain/konnektor-errors';
import { loadClientCredentials } from '../../activities/konnektor/credentials';
import { KonnektorClient } from '../../activities/konnektor/konnektor-client';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import { clientFor, CONTEXT, makePdf } from './helpers';

const docs = (n: number, prefix = 'Vertrag') =>
  Array.from({ length: n }, (_, i) => ({
    requestId: `${prefix}-${i}`,
    document: Buffer.from(`${prefix} Nummer ${i}\n`),
    mimeType: 'text/plain; charset=utf-8',
    shortText: `${prefix} ${i}`,
  }));

async function expectKonnektorError(p: Promise<unknown>, failureType: string): Promise<KonnektorError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e
  );
  expect(err).toBeInstanceOf(KonnektorError);
  expect((err as KonnektorError).failureType).toBe(failureType);
  return err as KonnektorError;
}

describe('Konnektor client ↔ simulator (mutual TLS)', () => {
  let sim: RunningKonnektorSimulator;
  let client: KonnektorClient;

  beforeAll(async () => {
    sim = await startKonnektorSimulator({ comfort: { max: 250 }, maxSessionsPerCard: 20 });
    client = clientFor(sim, { maxRequestsPerCall: 60 });
  });

  afterAll(async () => {
    client.close();
    await sim.close();
  });

  test('discovers SignatureService 7.5 and EventService from connector.sds', async () => {
    const ep = await client.discover();
    expect(ep.signature).toMatchObject({ interfaceVersion: '7.5', version: '7.5.5', comfortSignature: true });
    expect(ep.signature.url).toBe(`${sim.url}/ws/v75/SignatureService`);
    expect(ep.event.url).toBe(`${sim.url}/ws/EventService`);
    expect(ep.product.productName).toBe('Konnektor-Simulator');
  });

  test('the client certificate came from the legacy .p12 through the node-forge fallback', () => {
    expect(loadClientCredentials({ clientZip: sim.clientZip }).kind).toBe('pem');
  });

  test('finds the eHBA (not the SMC-B) with GetCards', async () => {
    const card = await client.findHbaCard();
    expect(card).toMatchObject({ cardType: 'HBA', iccsn: sim.hbaIccsn, cardHolderName: 'Dr. Erika Mustermann' });
    expect(card.certificateExpirationDate! > new Date().toISOString().slice(0, 10)).toBe(true);
    await expectKonnektorError(client.findHbaCard('80276001011699999999'), 'CARD_MISSING');
  });

  test('activates the comfort signature, reports the mode, signs single and batch, verifies', async () => {
    const card = await client.findHbaCard();
    const before = await client.getSignatureMode(card.cardHandle, '3f1c5a2e-1b7d-4c1a-9e7f-2d8b6c4a1e90');
    expect(before).toMatchObject({
      comfortSupported: true,
      comfortEnabled: true,
      comfortMax: 250,
      comfortTimerSeconds: 21600,
    });
    expect(before.session).toBeUndefined();

    const { userId, mode } = await client.activateComfortSignature(card.cardHandle);
    expect(mode).toBe('COMFORT');
    expect(userId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const active = await client.getSignatureMode(card.cardHandle, userId);
    expect(active.session).toMatchObject({ mode: 'COMFORT', countRemaining: 250 });
    expect(active.session!.timeRemainingSeconds).toBeGreaterThan(21500);

    const single = await client.signDocuments(card.cardHandle, userId, docs(1, 'Einzel'));
    expect(single.calls).toBe(1);
    expect(single.results[0]).toMatchObject({
      requestId: 'Einzel-0',
      variant: 'CAdES',
      signatureMimeType: 'application/pkcs7-signature',
    });

    const callsBefore = sim.admin.stats().signDocumentCalls;
    const batch = await client.signDocuments(card.cardHandle, userId, docs(60, 'Stapel'));
    expect(batch.results).toHaveLength(60);
    expect(batch.calls).toBe(1);
    expect(sim.admin.stats().signDocumentCalls - callsBefore).toBe(1);
    expect(sim.admin.stats().batchSizes.at(-1)).toBe(60);
    expect(new Set(batch.results.map((r) => r.requestId)).size).toBe(60);
    expect((await client.getSignatureMode(card.cardHandle, userId)).session?.countRemaining).toBe(250 - 61);

    const good = await client.verifyDocument({
      document: Buffer.from('Stapel Nummer 7\n'),
      mimeType: 'text/plain',
      signature: batch.results[7]!.signature,
    });
    expect(good).toMatchObject({ highLevelResult: 'VALID', valid: true });
    const wrongDoc = await client.verifyDocument({
      document: Buffer.from('Stapel Nummer 8\n'),
      mimeType: 'text/plain',
      signature: batch.results[7]!.signature,
    });
    expect(wrongDoc).toMatchObject({ highLevelResult: 'INVALID', valid: false });
  });

  test('PAdES for a PDF: the signed PDF comes back and verifies; a changed byte does not', async () => {
    const card = await client.findHbaCard();
    const { userId } = await client.activateComfortSignature(card.cardHandle);
    const pdf = await makePdf('Honorarvertrag 42');
    const { results } = await client.signDocuments(card.cardHandle, userId, [
      { requestId: 'pdf-1', document: pdf, mimeType: 'application/pdf', shortText: 'Honorarvertrag 42' },
    ]);
    const signed = results[0]!;
    expect(signed.variant).toBe('PAdES');
    expect(signed.signatureMimeType).toBe('application/pdf');
    expect(signed.signature.subarray(0, pdf.length - 10).equals(pdf.subarray(0, pdf.length - 10))).toBe(true);
    expect(signed.signature.includes(Buffer.from('/ETSI.CAdES.detached'))).toBe(true);
    expect((await client.verifyDocument({ document: signed.signature, mimeType: 'application/pdf' })).valid).toBe(true);
    const tampered = Buffer.from(signed.signature);
    const at = tampered.indexOf(Buffer.from('Honorarvertrag 42'));
    if (at >= 0) tampered[at] = 'h'.charCodeAt(0);
    else tampered[200] = tampered[200]! ^ 0x01;
    expect((await client.verifyDocument({ document: tampered, mimeType: 'application/pdf' })).valid).toBe(false);
  });

  test('mixed PDF and text documents go in separate calls (no mixing of signature types)', async () => {
    const card = await client.findHbaCard();
    const { userId } = await client.activateComfortSignature(card.cardHandle);
    const pdf = await makePdf('Vertrag gemischt');
    const res = await client.signDocuments(card.cardHandle, userId, [
      ...docs(2, 'Text'),
      { requestId: 'pdf-mixed', document: pdf, mimeType: 'application/pdf', shortText: 'Vertrag gemischt' },
    ]);
    expect(res.calls).toBe(2);
    expect(res.results.map((r) => [r.requestId, r.variant])).toEqual([
      ['pdf-mixed', 'PAdES'],
      ['Text-0', 'CAdES'],
      ['Text-1', 'CAdES'],
    ]);
  });

  test('deactivation ends the session; signing then says the comfort signature ran out', async () => {
    const card = await client.findHbaCard();
    const { userId } = await client.activateComfortSignature(card.cardHandle);
    const { warnings } = await client.deactivateComfortSignature([card.cardHandle]);
    expect(warnings).toEqual([]);
    expect((await client.getSignatureMode(card.cardHandle, userId)).session).toBeUndefined();
    const again = await client.deactivateComfortSignature([card.cardHandle]);
    expect(again.warnings.map((w) => w.code)).toEqual([4266]);
  });

  test('a gematik fault on the wire becomes the classified error (transient and needs-a-person)', async () => {
    const card = await client.findHbaCard();
    sim.admin.faults.failNext(4060, 1, ['GetCards']);
    const busy = await expectKonnektorError(client.getCards(), 'KONNEKTOR_BUSY');
    expect(busy.retryable).toBe(true);
    expect(busy.details.traces?.[0]).toMatchObject({ code: 4060, severity: 'Error' });

    sim.admin.faults.failNext(4063, 1, ['ActivateComfortSignature']);
    const blocked = await expectKonnektorError(client.activateComfortSignature(card.cardHandle), 'PIN_BLOCKED');
    expect(blocked.retryable).toBe(false);
    expect(blocked.gematikCode).toBe(4063);
    expect(blocked.details.fault?.httpStatus).toBe(500);
  });

  test('a non-gematik HTTP error is classified by status and kept whole', async () => {
    sim.admin.faults.httpErrorNext(503, 1, ['GetCards'], 'Wartung');
    const err = await expectKonnektorError(client.getCards(), 'KONNEKTOR_UNAVAILABLE');
    expect(err.gematikCode).toBeUndefined();
    expect(err.details.fault).toMatchObject({ httpStatus: 503, faultstring: 'Wartung' });
    expect(err.details.fault?.body).toContain('<soap:Fault>');
  });

  test('4270 (UserId reused) is repaired with a fresh UUID; a dropped connection on a read is retried after re-discovery', async () => {
    const card = await client.findHbaCard();
    sim.admin.faults.failNext(4270, 1, ['ActivateComfortSignature']);
    const calls = sim.admin.calls().length;
    const { userId } = await client.activateComfortSignature(card.cardHandle);
    const activations = sim.admin
      .calls()
      .slice(calls)
      .filter((c) => c.operation === 'ActivateComfortSignature');
    expect(activations).toHaveLength(2);
    expect(activations[0]!.request).not.toContain(userId);
    expect(activations[1]!.request).toContain(userId);

    sim.admin.faults.dropNextCalls(1);
    const cards = await client.getCards();
    expect(cards.length).toBe(1);
  });

  test('a stale card handle (eHBA pulled and re-inserted) is resolved again once', async () => {
    const first = await client.findHbaCard();
    sim.admin.setHbaInserted(false);
    sim.admin.setHbaInserted(true);
    const seen: string[] = [];
    const result = await client.withCard(undefined, async (card) => {
      seen.push(card.cardHandle);
      return client.getSignatureMode(card.cardHandle, '3f1c5a2e-1b7d-4c1a-9e7f-2d8b6c4a1e90');
    });
    expect(result.comfortEnabled).toBe(true);
    expect(seen[0]).toBe(first.cardHandle);
    expect(seen[1]).not.toBe(first.cardHandle);
  });

  test('the Konnektor rejects a context it does not know (4021) as a configuration problem', async () => {
    const other = clientFor(sim, { context: { ...CONTEXT, workplaceId: 'Empfang' } });
    try {
      const err = await expectKonnektorError(other.getCards(), 'KONNEKTOR_CONFIGURATION');
      expect(err.gematikCode).toBe(4021);
    } finally {
      other.close();
    }
  });
});

describe('TLS checks', () => {
  let sim: RunningKonnektorSimulator;
  let otherSim: RunningKonnektorSimulator;

  beforeAll(async () => {
    [sim, otherSim] = await Promise.all([
      startKonnektorSimulator({ adminPort: false }),
      startKonnektorSimulator({ adminPort: false }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([sim.close(), otherSim.close()]);
  });

  test('the CA mode verifies the chain; the identity check replaces the host-name check', async () => {
    const viaCa = clientFor(sim, { trust: { caPem: [sim.caPem], expectedIdentity: sim.serverIdentity } });
    const viaIccsn = clientFor(sim, { trust: { caPem: [sim.caPem], expectedIdentity: 'konnektor.konlan' } });
    try {
      expect((await viaCa.discover()).signature.interfaceVersion).toBe('7.5');
      expect((await viaIccsn.getCards()).length).toBe(1);
    } finally {
      viaCa.close();
      viaIccsn.close();
    }
  });

  test('a server certificate from another CA is rejected by the client', async () => {
    const c = clientFor(sim, { trust: { caPem: [otherSim.caPem] } });
    try {
      const err = await expectKonnektorError(c.discover(), 'KONNEKTOR_SERVER_UNTRUSTED');
      expect(err.message).toMatch(/does not verify against the configured CA/);
    } finally {
      c.close();
    }
  });

  test('a wrong pinned fingerprint is rejected by the client, before any request is sent', async () => {
    const c = clientFor(sim, { trust: { fingerprintSha256: otherSim.fingerprint } });
    const before = sim.admin.calls().length;
    try {
      const err = await expectKonnektorError(c.getCards(), 'KONNEKTOR_SERVER_UNTRUSTED');
      expect(err.retryable).toBe(false);
      expect(sim.admin.calls().length).toBe(before);
    } finally {
      c.close();
    }
  });

  test('a wrong expected identity is rejected even when the chain is fine', async () => {
    const c = clientFor(sim, { trust: { caPem: [sim.caPem], expectedIdentity: '80276883110000000000' } });
    try {
      await expectKonnektorError(c.getCards(), 'KONNEKTOR_SERVER_UNTRUSTED');
    } finally {
      c.close();
    }
  });

  test('the Konnektor rejects a client certificate it did not issue', async () => {
    const c = clientFor(sim, { clientZip: otherSim.clientZip });
    const before = sim.admin.calls().length;
    try {
      const err = await c.getCards().then(
        () => undefined,
        (x: unknown) => x as KonnektorError
      );
      expect(err).toBeInstanceOf(KonnektorError);
      expect(['KONNEKTOR_CLIENT_AUTH_FAILED', 'KONNEKTOR_UNAVAILABLE']).toContain(err!.failureType);
      expect(sim.admin.calls()).toHaveLength(before);
    } finally {
      c.close();
    }
  });

  test('no trust anchor, or the insecure switch outside dev, is refused at construction', () => {
    const creds = loadClientCredentials({ clientZip: sim.clientZip });
    const build = (trust: object) => () =>
      new KonnektorClient({ sdsUrl: sim.sdsUrl, credentials: creds, trust, context: CONTEXT });
    expect(build({})).toThrow(/no trust anchor/);
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect(build({ insecureDevOnly: true })).toThrow(/only allowed with NODE_ENV/);
    } finally {
      process.env.NODE_ENV = env;
    }
    build({ insecureDevOnly: true })().close();
  });
});

describe('Konnektor with SignatureService 7.4 only', () => {
  let sim: RunningKonnektorSimulator;
  let client: KonnektorClient;

  beforeAll(async () => {
    sim = await startKonnektorSimulator({ offer75: false, clientP12Format: 'modern', adminPort: false });
    client = clientFor(sim);
  });

  afterAll(async () => {
    client.close();
    await sim.close();
  });

  test('falls back to 7.4: no comfort signature, signing in PIN mode still works', async () => {
    const ep = await client.discover();
    expect(ep.signature).toMatchObject({ interfaceVersion: '7.4', comfortSignature: false });
    expect(loadClientCredentials({ clientZip: sim.clientZip }).kind).toBe('pfx');
    const card = await client.findHbaCard();
    expect(
      (await client.getSignatureMode(card.cardHandle, '3f1c5a2e-1b7d-4c1a-9e7f-2d8b6c4a1e90')).comfortSupported
    ).toBe(false);
    await expectKonnektorError(client.activateComfortSignature(card.cardHandle), 'COMFORT_SIGNATURE_DISABLED');
    const res = await client.signDocuments(card.cardHandle, '3f1c5a2e-1b7d-4c1a-9e7f-2d8b6c4a1e90', docs(2));
    expect(res.results).toHaveLength(2);
    expect(sim.admin.calls().find((c) => c.operation === 'SignDocument')?.soapAction).toBe(
      'http://ws.gematik.de/conn/SignatureService/v7.4#SignDocument'
    );
  });
});
