/**
 * Issue 7 defect 8: the recovery for 4018 (gemILF_PS A_21528) as a staff action: EjectCard and RequestCard at the
 * eHBA's slot through CardTerminalService, which the strict simulator checks element by element; the 4018 message
 * points to `signflow konnektor reset-card`.
 */
import https from 'node:https';
import { classifyAnyGematikCode, KonnektorError, staffActionFor } from '../../domain/konnektor-errors';
import { startKonnektorSimulator } from '../../konnektor-simulator';
import { clientFor } from './helpers';
import { credentialsTlsOptions } from './tls-options';

test('4018 tells staff to run `signflow konnektor reset-card`', () => {
  const cls = classifyAnyGematikCode(4018);
  expect(cls.failureType).toBe('CARD_SESSION_CONFLICT');
  expect(staffActionFor(cls.failureType)).toMatch(/signflow konnektor reset-card/);
});

test('reset-card ejects and requests the eHBA: new handle, every card session ended, requests schema-checked', async () => {
  const sim = await startKonnektorSimulator({ adminPort: false });
  const client = clientFor(sim);
  try {
    const card = await client.findHbaCard(sim.hbaIccsn);
    const { userId } = await client.activateComfortSignature(card.cardHandle);
    expect((await client.getSignatureMode(card.cardHandle, userId)).session?.mode).toBe('COMFORT');
    const { before, after, alreadyInserted } = await client.resetCard(sim.hbaIccsn);
    expect(before.cardHandle).toBe(card.cardHandle);
    expect(after.iccsn).toBe(sim.hbaIccsn);
    expect(after.cardHandle).not.toBe(card.cardHandle);
    expect(alreadyInserted).toBe(false);
    expect([sim.admin.stats().ejected, sim.admin.stats().requested]).toEqual([1, 1]);
    expect(sim.admin.sessions()).toHaveLength(0);
    const calls = sim.admin.calls().filter((c) => c.operation === 'EjectCard' || c.operation === 'RequestCard');
    expect(calls.map((c) => [c.operation, c.httpStatus, c.soapAction])).toEqual([
      ['EjectCard', 200, 'http://ws.gematik.de/conn/CardTerminalService/v1.1#EjectCard'],
      ['RequestCard', 200, 'http://ws.gematik.de/conn/CardTerminalService/v1.1#RequestCard'],
    ]);
    expect(sim.strict).toBe(true);
    // The new handle signs again after a fresh activation.
    const again = await client.activateComfortSignature(after.cardHandle);
    expect(again.mode).toBe('COMFORT');
  } finally {
    client.close();
    await sim.close();
  }
});

test('the strict simulator refuses an EjectCard whose elements are out of schema order (4000)', async () => {
  const sim = await startKonnektorSimulator({ adminPort: false });
  try {
    const handle = sim.admin.cards().find((c) => c.iccsn === sim.hbaIccsn)!.handle;
    const xml =
      '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' +
      '<CT:EjectCard xmlns:CT="http://ws.gematik.de/conn/CardTerminalService/v1.1" xmlns:CONN="http://ws.gematik.de/conn/ConnectorCommon/v5.0" xmlns:CCTX="http://ws.gematik.de/conn/ConnectorContext/v2.0">' +
      `<CONN:CardHandle>${handle}</CONN:CardHandle>` +
      '<CCTX:Context><CONN:MandantId>Mandant1</CONN:MandantId><CONN:ClientSystemId>Z1</CONN:ClientSystemId><CONN:WorkplaceId>Arbeitsplatz1</CONN:WorkplaceId></CCTX:Context>' +
      '</CT:EjectCard></soap:Body></soap:Envelope>';
    const url = new URL(sim.sdsUrl);
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(
        {
          host: url.hostname,
          port: Number(url.port),
          path: '/ws/CardTerminalService',
          method: 'POST',
          headers: {
            'Content-Type': 'text/xml; charset=utf-8',
            SOAPAction: '"http://ws.gematik.de/conn/CardTerminalService/v1.1#EjectCard"',
          },
          ...credentialsTlsOptions(sim),
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        }
      );
      req.on('error', reject);
      req.end(xml);
    });
    expect(status).toBe(500);
    expect(body).toMatch(/<GERROR:Code>4000<\/GERROR:Code>/);
    expect(body).toMatch(
      /EjectCard: Element \{http:\/\/ws\.gematik\.de\/conn\/ConnectorCommon\/v5\.0\}CardHandle unerwartet/
    );
    expect(sim.admin.cards().find((c) => c.iccsn === sim.hbaIccsn)!.inserted).toBe(true);
  } finally {
    await sim.close();
  }
});

test('a Konnektor without CardTerminalService: needs a person, with the manual way', async () => {
  const sim = await startKonnektorSimulator({ adminPort: false, offerCardTerminalService: false });
  const client = clientFor(sim);
  try {
    const err = await client.resetCard().then(
      () => undefined,
      (e: unknown) => e
    );
    expect(err).toBeInstanceOf(KonnektorError);
    expect((err as KonnektorError).failureType).toBe('KONNEKTOR_CONFIGURATION');
    expect((err as KonnektorError).message).toMatch(/pull the eHBA .* insert it again/);
  } finally {
    client.close();
    await sim.close();
  }
});
