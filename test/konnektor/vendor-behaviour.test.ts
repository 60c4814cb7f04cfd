/**
 * Issue 7 defects 6, 7 and 9: SOAP 1.2 faults keep their gematik code; GetCards uses the schema's filter value (HBAx)
 * and accepts HBA, HBA-qSig and ZOD_2.0 cards; a connector.sds naming a host that does not resolve is reported at
 * discovery with the fix instead of being retried as a network fault.
 */
import { KonnektorError } from '../../domain/konnektor-errors';
import { parseSoapFault, toKonnektorError } from '../../activities/konnektor/soap-faults';
import { startKonnektorSimulator } from '../../konnektor-simulator';
import { clientFor } from './helpers';

const SOAP12_FAULT =
  '<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>' +
  '<env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code><env:Reason><env:Text xml:lang="de">Komfortsignaturmodus abgebrochen</env:Text></env:Reason>' +
  '<env:Detail><GERROR:Error xmlns:GERROR="http://ws.gematik.de/tel/error/v2.0"><GERROR:MessageID>m</GERROR:MessageID><GERROR:Timestamp>2026-01-01T00:00:00Z</GERROR:Timestamp>' +
  '<GERROR:Trace><GERROR:EventID>e1</GERROR:EventID><GERROR:Instance>i</GERROR:Instance><GERROR:LogReference/><GERROR:CompType>KON</GERROR:CompType><GERROR:Code>4093</GERROR:Code><GERROR:Severity>Error</GERROR:Severity><GERROR:ErrorType>Technical</GERROR:ErrorType><GERROR:ErrorText>belegt</GERROR:ErrorText></GERROR:Trace>' +
  '<GERROR:Trace><GERROR:EventID>e2</GERROR:EventID><GERROR:Instance>i</GERROR:Instance><GERROR:LogReference/><GERROR:CompType>KON</GERROR:CompType><GERROR:Code>4271</GERROR:Code><GERROR:Severity>Error</GERROR:Severity><GERROR:ErrorType>Business</GERROR:ErrorType><GERROR:ErrorText>Komfortsignaturmodus abgebrochen</GERROR:ErrorText></GERROR:Trace>' +
  '</GERROR:Error></env:Detail></env:Fault></env:Body></env:Envelope>';

describe('SOAP 1.2 faults', () => {
  test('code, reason and the gematik code of the last trace are read from env:Code, env:Reason, env:Detail', () => {
    const parsed = parseSoapFault(SOAP12_FAULT);
    expect(parsed?.faultcode).toBe('env:Receiver');
    expect(parsed?.faultstring).toBe('Komfortsignaturmodus abgebrochen');
    expect(parsed?.traces.map((t) => t.code)).toEqual([4093, 4271]);
    const err = toKonnektorError({ response: { status: 500, data: SOAP12_FAULT } }, 'SignDocument');
    expect([err.failureType, err.gematikCode]).toEqual(['COMFORT_SIGNATURE_EXPIRED', 4271]);
  });
});

describe('GetCards card types', () => {
  test.each(['HBA-qSig', 'ZOD_2.0'] as const)('an eHBA reported as %s is found (filter HBAx)', async (cardType) => {
    const sim = await startKonnektorSimulator({ adminPort: false, hba: { cardType } });
    const client = clientFor(sim);
    try {
      const card = await client.findHbaCard(sim.hbaIccsn);
      expect(card.cardType).toBe(cardType);
      const getCards = sim.admin.calls().find((c) => c.operation === 'GetCards')!;
      expect(getCards.request).toMatch(/:CardType\b[^>]*>HBAx</);
      expect(getCards.httpStatus).toBe(200);
    } finally {
      client.close();
      await sim.close();
    }
  });
});

describe('endpoint hosts the practice network cannot resolve', () => {
  test('discovery names the host and the fix; with SIGNFLOW_KONNEKTOR_REWRITE_ENDPOINTS it works', async () => {
    const sim = await startKonnektorSimulator({ adminPort: false, advertisedHost: 'ksp.konnektor.telematik-test' });
    const reachable = sim.sdsUrl.replace('ksp.konnektor.telematik-test', '127.0.0.1');
    const plain = clientFor(sim, { sdsUrl: reachable });
    const rewriting = clientFor(sim, { sdsUrl: reachable, rewriteEndpoints: true });
    try {
      const err = await plain.discover().then(
        () => undefined,
        (e: unknown) => e
      );
      expect(err).toBeInstanceOf(KonnektorError);
      const k = err as KonnektorError;
      expect([k.failureType, k.faultClass]).toEqual(['KONNEKTOR_CONFIGURATION', 'needs-person']);
      expect(k.message).toMatch(/ksp\.konnektor\.telematik-test.*SIGNFLOW_KONNEKTOR_REWRITE_ENDPOINTS=true/);
      const card = await rewriting.findHbaCard();
      expect(card.cardHandle).toBeTruthy();
    } finally {
      plain.close();
      rewriting.close();
      await sim.close();
    }
  });
});

describe('TLS groups (issue 7 defect 5, brainpool part)', () => {
  test('a Konnektor that offers only brainpool ECDHE groups is reached (the client offers them too)', async () => {
    const sim = await startKonnektorSimulator({ adminPort: false, tlsGroups: 'brainpoolP256r1:brainpoolP384r1' });
    const client = clientFor(sim);
    try {
      const card = await client.findHbaCard();
      expect(card.cardHandle).toBeTruthy();
    } finally {
      client.close();
      await sim.close();
    }
  });
});
