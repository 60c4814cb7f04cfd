/**
 * Issue 7 defect 1: requests are built for the exact SignatureService version of the service directory, and the strict
 * simulator (default in tests) validates each request against the official XSD of exactly that version.
 *
 * - For every version signflow claims (7.4.0 → XSD 7.4.2, 7.4.2 → XSD 7.4.4, 7.5.5, 7.5.6), a full session against a
 *   Konnektor offering only that version: no request is refused, and every request the client sent validates with
 *   xmllint against that version's official XSD (and fails against a version that lacks an element it carries).
 * - A 7.4.0-only Konnektor (KoPS, RISE PTV3, older KoCoBox) answers a request with `SIG:Crypt` with 4000 and the
 *   schema message; the client no longer sends it there.
 */
import https from 'node:https';
import { credentialsTlsOptions } from './tls-options';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import { SchemaValidator } from '../../konnektor-simulator/schema-check';
import { checkCardTerminalRequest } from '../../konnektor-simulator/card-terminal';
import { clientFor, makePdf, skipReason, SPEC_DIR } from './helpers';

const reason = skipReason(true);
const testIf = reason ? test.skip : test;

beforeAll(() => {
  if (reason) console.warn(`[konnektor interface versions] SKIPPED: ${reason}`);
});

const xsd = new SchemaValidator(SPEC_DIR);
afterAll(() => xsd.close());

async function fullSession(sim: RunningKonnektorSimulator): Promise<void> {
  const client = clientFor(sim);
  try {
    const ep = await client.discover();
    const card = await client.findHbaCard();
    let userId: string | undefined;
    if (ep.signature.comfortSignature) {
      userId = (await client.activateComfortSignature(card.cardHandle)).userId;
      await client.getSignatureMode(card.cardHandle, userId);
    }
    const pdf = await makePdf('Vertrag Version');
    const text = await client.signDocuments(card.cardHandle, userId ?? crypto.randomUUID(), [
      { requestId: 'v-1', document: Buffer.from('Honorarvertrag'), mimeType: 'text/plain', shortText: 'Vertrag 1' },
    ]);
    const signedPdf = await client.signDocuments(card.cardHandle, userId ?? crypto.randomUUID(), [
      { requestId: 'v-2', document: pdf, mimeType: 'application/pdf', shortText: 'Vertrag 2' },
    ]);
    await client.verifyDocument({
      document: Buffer.from('Honorarvertrag'),
      mimeType: 'text/plain',
      signature: text.results[0]!.signature,
    });
    await client.verifyDocument({ document: signedPdf.results[0]!.signature, mimeType: 'application/pdf' });
    if (ep.signature.comfortSignature) await client.deactivateComfortSignature([card.cardHandle]);
    // CardTerminalService (no official XSD among the gematik files: the strict simulator checks its sequences).
    await client.resetCard(card.iccsn, 5);
  } finally {
    client.close();
  }
}

describe.each([
  ['7.4.0', false],
  ['7.4.2', true],
  ['7.5.5', true],
  ['7.5.6', true],
])('a Konnektor offering only SignatureService %s', (version, crypt) => {
  let sim: RunningKonnektorSimulator;
  beforeAll(async () => {
    if (reason) return;
    sim = await startKonnektorSimulator({ adminPort: false, signatureVersions: [version] });
  });
  afterAll(async () => sim?.close());

  testIf('accepts every request of a full session, and each validates against exactly that XSD', async () => {
    expect(sim.strict).toBe(true);
    await fullSession(sim);
    const calls = sim.admin.calls();
    expect(calls.filter((c) => c.httpStatus !== 200).map((c) => `${c.operation}: ${c.response}`)).toEqual([]);
    const ops = new Set(calls.map((c) => c.operation));
    const expected = ['GetCards', 'GetJobNumber', 'SignDocument', 'VerifyDocument', 'EjectCard', 'RequestCard'];
    if (version.startsWith('7.5'))
      expected.push('ActivateComfortSignature', 'GetSignatureMode', 'DeactivateComfortSignature');
    for (const op of expected) expect(ops).toContain(op);
    const problems: string[] = [];
    for (const c of calls) {
      if (c.operation === 'EjectCard' || c.operation === 'RequestCard') {
        problems.push(...checkCardTerminalRequest(c.request).map((p) => `${c.operation}: ${p}`));
        continue;
      }
      const target =
        c.operation === 'GetCards' ? ({ service: 'event' } as const) : { service: 'signature' as const, version };
      const errs = await xsd.validate(c.request, target);
      if (errs.length) problems.push(`${c.operation}: ${errs.join(' | ')}`);
    }
    expect(problems).toEqual([]);
    const signDocument = calls.find((c) => c.operation === 'SignDocument')!.request;
    expect(signDocument.includes(':Crypt>')).toBe(crypt);
    // The check has teeth: the same request (with Crypt) does not validate against the 7.4.0 XSD.
    if (crypt) {
      const as74 = signDocument.replace(/SignatureService\/v7\.5/g, 'SignatureService/v7.4');
      expect((await xsd.validate(as74, { service: 'signature', version: '7.4.0' })).join(' ')).toMatch(/Crypt/);
    }
  });
});

describe('strict simulator on a 7.4.0-only Konnektor', () => {
  let sim: RunningKonnektorSimulator;
  beforeAll(async () => {
    if (reason) return;
    sim = await startKonnektorSimulator({ adminPort: false, signatureVersions: ['7.4.0'] });
  });
  afterAll(async () => sim?.close());

  testIf('answers a SignDocument with SIG:Crypt with 4000 and the schema message', async () => {
    const client = clientFor(sim);
    const ep = await client.discover();
    client.close();
    const envelope =
      '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' +
      '<SIG:SignDocument xmlns:SIG="http://ws.gematik.de/conn/SignatureService/v7.4" xmlns:CONN="http://ws.gematik.de/conn/ConnectorCommon/v5.0" xmlns:CCTX="http://ws.gematik.de/conn/ConnectorContext/v2.0" xmlns:dss="urn:oasis:names:tc:dss:1.0:core:schema">' +
      '<CONN:CardHandle>H</CONN:CardHandle><SIG:Crypt>RSA_ECC</SIG:Crypt>' +
      '<CCTX:Context><CONN:MandantId>Mandant1</CONN:MandantId><CONN:ClientSystemId>Z1</CONN:ClientSystemId><CONN:WorkplaceId>Arbeitsplatz1</CONN:WorkplaceId></CCTX:Context>' +
      '<SIG:TvMode>NONE</SIG:TvMode><SIG:JobNumber>ABC-123</SIG:JobNumber>' +
      '<SIG:SignRequest RequestID="r1"><SIG:Document ShortText="V"><dss:Base64Data MimeType="text/plain">VGV4dA==</dss:Base64Data></SIG:Document><SIG:IncludeRevocationInfo>false</SIG:IncludeRevocationInfo></SIG:SignRequest>' +
      '</SIG:SignDocument></soap:Body></soap:Envelope>';
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.request(
        ep.signature.url,
        {
          method: 'POST',
          ...credentialsTlsOptions(sim),
          headers: {
            'Content-Type': 'text/xml; charset=utf-8',
            SOAPAction: '"http://ws.gematik.de/conn/SignatureService/v7.4#SignDocument"',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        }
      );
      req.on('error', reject);
      req.end(envelope);
    });
    expect(status).toBe(500);
    expect(body).toMatch(/<GERROR:Code>4000<\/GERROR:Code>/);
    expect(body).toMatch(/Schemaverletzung[^<]*Crypt/);
  });
});
