/**
 * Issue 7, vendor profiles: the real client (activities/konnektor) over mutual TLS against the strict simulator in
 * every serialisation style a Konnektor vendor may use (gematik prefixes, JAX-WS `ns2:`…, default namespace,
 * per-element prefixes, chunked transfer, SOAP 1.2 with application/soap+xml). Every operation the client uses, with the
 * same expectations in each style, and every answer checked against the official XSD of the version served.
 */
import https from 'node:https';
import { KonnektorError } from '../../domain/konnektor-errors';
import type { KonnektorClient, SignRequestInput } from '../../activities/konnektor/konnektor-client';
import { signResponses } from '../../activities/konnektor/sign-document-wire';
import { startKonnektorSimulator, VENDOR_PROFILES, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import { connectorSds, PATHS } from '../../konnektor-simulator/sds';
import { soapPayloadOf, vendorProfile } from '../../konnektor-simulator/vendor-profiles';
import { credentialsTlsOptions } from './tls-options';
import { clientFor, makePdf, skipReason, validateAgainstOfficialXsd } from './helpers';

const xsdReason = skipReason(true);
const testIfXsd = xsdReason ? test.skip : test;

beforeAll(() => {
  if (xsdReason) console.warn(`[konnektor vendor profiles] SKIPPED XSD validation: ${xsdReason}`);
});

/** A holder name with umlauts: written as UTF-8 or as character references, depending on the style. */
const HOLDER = 'Dr. Jürgen Müller-Lüdenscheidt';

async function failure(p: Promise<unknown>): Promise<KonnektorError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e
  );
  expect(err).toBeInstanceOf(KonnektorError);
  return err as KonnektorError;
}

/** One raw HTTPS exchange with the simulator (client certificate), for what the client does not show: headers. */
function raw(
  sim: RunningKonnektorSimulator,
  path: string,
  body?: { xml: string; soapAction: string }
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${sim.url}${path}`,
      {
        ...credentialsTlsOptions(sim),
        method: body ? 'POST' : 'GET',
        headers: body ? { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: `"${body.soapAction}"` } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') })
        );
        res.on('error', reject);
      }
    );
    req.on('error', reject);
    req.end(body?.xml);
  });
}

const GET_JOB_NUMBER =
  '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' +
  '<SIG:GetJobNumber xmlns:SIG="http://ws.gematik.de/conn/SignatureService/v7.5" xmlns:CCTX="http://ws.gematik.de/conn/ConnectorContext/v2.0" xmlns:CONN="http://ws.gematik.de/conn/ConnectorCommon/v5.0">' +
  '<CCTX:Context><CONN:MandantId>Mandant1</CONN:MandantId><CONN:ClientSystemId>Z1</CONN:ClientSystemId><CONN:WorkplaceId>Arbeitsplatz1</CONN:WorkplaceId></CCTX:Context>' +
  '</SIG:GetJobNumber></soap:Body></soap:Envelope>';

describe.each(VENDOR_PROFILES)('vendor profile %s', (profile) => {
  let sim: RunningKonnektorSimulator;
  let client: KonnektorClient;

  beforeAll(async () => {
    sim = await startKonnektorSimulator({
      adminPort: false,
      vendorProfile: profile,
      maxSessionsPerCard: 10,
      hba: { holderName: HOLDER },
    });
    client = clientFor(sim, { maxRequestsPerCall: 10 });
  });

  afterAll(async () => {
    client?.close();
    await sim?.close();
  });

  test('the style is on the wire: prefixes, content type, Content-Length or chunked', async () => {
    expect(sim.vendorProfile).toBe(profile);
    const sds = await raw(sim, PATHS.sds);
    const job = await raw(sim, '/ws/v75/SignatureService', {
      xml: GET_JOB_NUMBER,
      soapAction: 'http://ws.gematik.de/conn/SignatureService/v7.5#GetJobNumber',
    });
    expect([sds.status, job.status]).toEqual([200, 200]);
    for (const r of [sds, job]) {
      if (profile === 'chunked') {
        expect(r.headers['transfer-encoding']).toBe('chunked');
        expect(r.headers['content-length']).toBeUndefined();
      } else {
        expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.text));
      }
    }
    expect(job.headers['content-type']).toBe(
      profile === 'soap12' ? 'application/soap+xml; charset=utf-8' : 'text/xml; charset=utf-8'
    );
    const marker: Record<typeof profile, [RegExp, RegExp]> = {
      gematik: [/<SDS:ConnectorServices /, /<SIG:GetJobNumberResponse xmlns:SIG=/],
      jaxws: [/^<\?xml[^>]*\?><ns2:ConnectorServices xmlns:ns2=/, /^<\?xml version='1.0'[^>]*\?><S:Envelope xmlns:S=/],
      'default-namespace': [/<ConnectorServices xmlns="/, /<GetJobNumberResponse xmlns="/],
      'per-element': [/<n1:TLSMandatory xmlns:n1=/, /<n2:GetJobNumberResponse xmlns:n2=/],
      chunked: [/<SDS:ConnectorServices /, /<SIG:GetJobNumberResponse xmlns:SIG=/],
      soap12: [/<SDS:ConnectorServices /, /<env:Envelope xmlns:env="http:\/\/www.w3.org\/2003\/05\/soap-envelope"/],
    };
    expect(sds.text).toMatch(marker[profile][0]);
    expect(job.text).toMatch(marker[profile][1]);
    // A fault (unknown Mandant, 4021) in the same style: SOAP 1.2 faults with application/soap+xml and env:Code.
    const fault = await raw(sim, '/ws/v75/SignatureService', {
      xml: GET_JOB_NUMBER.replace('>Mandant1<', '>Unbekannt<'),
      soapAction: 'http://ws.gematik.de/conn/SignatureService/v7.5#GetJobNumber',
    });
    expect(fault.status).toBe(500);
    expect(fault.headers['content-type']).toBe(job.headers['content-type']);
    expect(fault.text).toMatch(/Code\b[^>]*>4021</);
    if (profile === 'soap12') expect(fault.text).toMatch(/<env:Code><env:Value>env:Receiver<\/env:Value><\/env:Code>/);
  });

  test('service directory: SignatureService 7.5.5, EventService and CardTerminalService endpoints', async () => {
    const ep = await client.discover(true);
    expect(ep.signature).toMatchObject({
      url: `${sim.url}${PATHS.sig75}`,
      version: '7.5.5',
      interfaceVersion: '7.5',
      comfortSignature: true,
    });
    expect(ep.event.url).toBe(`${sim.url}${PATHS.event}`);
    expect(ep.cardTerminal?.url).toBe(`${sim.url}${PATHS.cardTerminal}`);
    expect(ep.product).toMatchObject({
      vendorId: 'SFSIM',
      vendorName: 'signflow Prüfstand',
      productName: 'Konnektor-Simulator',
    });
  });

  test('GetCards: the eHBA with handle, type, ICCSN, slot, holder, certificate expiry and card generation', async () => {
    const card = await client.findHbaCard(sim.hbaIccsn);
    const simCard = sim.admin.cards().find((c) => c.iccsn === sim.hbaIccsn)!;
    expect(card).toEqual({
      cardHandle: simCard.handle,
      cardType: 'HBA',
      iccsn: sim.hbaIccsn,
      ctId: 'CT-Praxis-1',
      slotId: 1,
      cardHolderName: HOLDER,
      certificateExpirationDate: simCard.certificateExpires.toISOString().slice(0, 10),
      insertTime: simCard.insertTime.toISOString(),
      objectSystemVersion: '4.5.0',
    });
    // Only HBAs: the SMC-B the Konnektor also holds is filtered out.
    expect((await client.getCards()).map((c) => c.cardType)).toEqual(['HBA']);
  });

  test('comfort signature: activate, status (GetSignatureMode with the session), deactivate with its warning', async () => {
    const card = await client.findHbaCard();
    const { userId, mode, warnings } = await client.activateComfortSignature(card.cardHandle);
    expect([mode, warnings]).toEqual(['COMFORT', []]);
    const status = await client.getSignatureMode(card.cardHandle, userId);
    expect(status).toMatchObject({ comfortSupported: true, comfortEnabled: true, comfortMax: 100, warnings: [] });
    expect(status.comfortTimerSeconds).toBe(6 * 3600);
    expect(status.session?.mode).toBe('COMFORT');
    expect(status.session?.countRemaining).toBe(100);
    expect(status.session?.timeRemainingSeconds).toBeGreaterThan(0);
    expect((await client.deactivateComfortSignature([card.cardHandle])).warnings).toEqual([]);
    expect((await client.getSignatureMode(card.cardHandle, userId)).session).toBeUndefined();
    const again = await client.deactivateComfortSignature([card.cardHandle]);
    expect(again.warnings.map((w) => [w.code, w.severity, w.errorText])).toEqual([
      [4266, 'Warning', 'Keine Kartensitzung mit Komfortsignatur'],
    ]);
  });

  test('GetJobNumber', async () => {
    expect(await client.getJobNumber()).toMatch(/^[A-Z]{3}-\d{3}$/);
  });

  test('SignDocument, single: CAdES detached and PAdES, both verified by the Konnektor', async () => {
    const card = await client.findHbaCard();
    const { userId } = await client.activateComfortSignature(card.cardHandle);
    const text = Buffer.from('Honorarvertrag – Gegenzeichnung');
    const cades = await client.signDocuments(card.cardHandle, userId, [
      { requestId: 'single-text', document: text, mimeType: 'text/plain', shortText: 'Vertrag' },
    ]);
    expect(cades.rejected).toEqual([]);
    expect(cades.results.map((r) => [r.requestId, r.variant, r.signatureMimeType])).toEqual([
      ['single-text', 'CAdES', 'application/pkcs7-signature'],
    ]);
    const verified = await client.verifyDocument({
      document: text,
      mimeType: 'text/plain',
      signature: cades.results[0]!.signature,
    });
    expect(verified.highLevelResult).toBe('VALID');
    // The same signature over other bytes does not verify: the signature came through byte for byte.
    const other = await client.verifyDocument({
      document: Buffer.from('anderer Text'),
      mimeType: 'text/plain',
      signature: cades.results[0]!.signature,
    });
    expect(other.highLevelResult).toBe('INVALID');

    const pdf = await makePdf('Honorarvertrag PAdES');
    const pades = await client.signDocuments(card.cardHandle, userId, [
      { requestId: 'single-pdf', document: pdf, mimeType: 'application/pdf', shortText: 'Vertrag' },
    ]);
    expect(pades.results.map((r) => [r.requestId, r.variant])).toEqual([['single-pdf', 'PAdES']]);
    const signedPdf = pades.results[0]!.signature;
    expect(signedPdf.subarray(0, pdf.length).equals(pdf)).toBe(true);
    expect((await client.verifyDocument({ document: signedPdf, mimeType: 'application/pdf' })).valid).toBe(true);
    await client.deactivateComfortSignature([card.cardHandle]);
  });

  test('SignDocument, batch: results per document by RequestID; a document the Konnektor refuses is isolated', async () => {
    const card = await client.findHbaCard();
    const { userId } = await client.activateComfortSignature(card.cardHandle);
    const docs: SignRequestInput[] = [];
    for (let i = 0; i < 6; i++) {
      docs.push({
        requestId: `batch-${i}`,
        document: await makePdf(`Vertrag ${i}`),
        mimeType: 'application/pdf',
        shortText: `Vertrag ${i}`,
      });
    }
    // A PDF header over garbage: the Konnektor cannot sign it (4112).
    docs[4] = { ...docs[4]!, document: Buffer.from('%PDF-1.7\nkaputt\n%%EOF\n') };
    const res = await client.signDocuments(card.cardHandle, userId, docs);
    expect(res.results.map((r) => r.requestId)).toEqual(
      expect.arrayContaining(['batch-0', 'batch-1', 'batch-2', 'batch-3', 'batch-5'])
    );
    expect(res.results).toHaveLength(5);
    expect(res.rejected.map((r) => [r.requestId, r.error.failureType, r.error.gematikCode])).toEqual([
      ['batch-4', 'DOCUMENT_REJECTED', 4112],
    ]);
    // Each signature belongs to its own document (the signed PDF starts with that document's bytes).
    for (const r of res.results) {
      const doc = docs.find((d) => d.requestId === r.requestId)!.document as Buffer;
      expect([r.requestId, r.signature.subarray(0, doc.length).equals(doc)]).toEqual([r.requestId, true]);
    }
    const batchCall = sim.admin.calls().find((c) => c.operation === 'SignDocument' && c.httpStatus === 200)!;
    expect(batchCall).toBeDefined();
    await client.deactivateComfortSignature([card.cardHandle]);
  });

  test('faults keep their gematik code and text: streamed SignDocument, node-soap calls, plain HTTP errors', async () => {
    const card = await client.findHbaCard();
    const { userId } = await client.activateComfortSignature(card.cardHandle);
    sim.admin.faults.failNext(4271, 1, ['SignDocument'], 'Komfortsignaturmodus abgebrochen: Zähler erschöpft');
    const expired = await failure(
      client.signDocuments(card.cardHandle, userId, [
        { requestId: 'f-1', document: Buffer.from('x'), mimeType: 'text/plain', shortText: 'V' },
      ])
    );
    expect([expired.failureType, expired.gematikCode]).toEqual(['COMFORT_SIGNATURE_EXPIRED', 4271]);
    expect(expired.details.traces?.at(-1)?.errorText).toBe('Komfortsignaturmodus abgebrochen: Zähler erschöpft');

    sim.admin.faults.failNext(4060, 1, ['GetCards']);
    const busy = await failure(client.getCards());
    expect([busy.failureType, busy.gematikCode, busy.retryable]).toEqual(['KONNEKTOR_BUSY', 4060, true]);

    sim.admin.faults.failNext(4063, 1, ['GetSignatureMode']);
    const blocked = await failure(client.getSignatureMode(card.cardHandle, userId));
    expect([blocked.failureType, blocked.gematikCode]).toEqual(['PIN_BLOCKED', 4063]);

    // On the CardTerminalService (the client's own small requests and parser).
    sim.admin.faults.failNext(4021, 1, ['EjectCard']);
    const ctx = await failure(client.resetCard(sim.hbaIccsn, 5));
    expect([ctx.failureType, ctx.gematikCode]).toEqual(['KONNEKTOR_CONFIGURATION', 4021]);

    sim.admin.faults.httpErrorNext(503, 1, ['GetJobNumber'], 'Wartung');
    const down = await failure(client.getJobNumber());
    expect([down.failureType, down.gematikCode, down.details.fault?.httpStatus]).toEqual([
      'KONNEKTOR_UNAVAILABLE',
      undefined,
      503,
    ]);
    await client.deactivateComfortSignature([card.cardHandle]);
  });

  test('EjectCard/RequestCard (reset-card): the eHBA comes back with a new handle and its data', async () => {
    const before = await client.findHbaCard(sim.hbaIccsn);
    const res = await client.resetCard(sim.hbaIccsn, 5);
    expect(res.alreadyInserted).toBe(false);
    expect(res.before.cardHandle).toBe(before.cardHandle);
    const simCard = sim.admin.cards().find((c) => c.iccsn === sim.hbaIccsn)!;
    expect(res.after).toMatchObject({
      cardHandle: simCard.handle,
      cardType: 'HBA',
      iccsn: sim.hbaIccsn,
      ctId: 'CT-Praxis-1',
      slotId: 1,
      cardHolderName: HOLDER,
    });
    expect(res.after.cardHandle).not.toBe(before.cardHandle);
    expect((await client.findHbaCard(sim.hbaIccsn)).cardHandle).toBe(simCard.handle);
  });

  testIfXsd('every request and answer of the session validates against the official XSD of the version served', () => {
    const calls = sim.admin.calls();
    const ops = new Set(calls.map((c) => c.operation));
    for (const op of [
      'GetCards',
      'ActivateComfortSignature',
      'GetSignatureMode',
      'DeactivateComfortSignature',
      'GetJobNumber',
      'SignDocument',
      'VerifyDocument',
      'EjectCard',
      'RequestCard',
    ]) {
      expect(ops).toContain(op);
    }
    const gerror = (c: { response: string }) => c.response.includes('http://ws.gematik.de/tel/error/v2.0');
    const faults = calls.filter((c) => c.httpStatus >= 400 && gerror(c));
    expect(faults.length).toBeGreaterThan(3);
    const problems: string[] = [];
    for (const c of calls) {
      const isFault = c.httpStatus >= 400;
      // Plain faults without GERROR detail (an injected HTTP 503) have nothing of gematik's to validate; the
      // CardTerminalService answers have no official XSD among the gematik files (their GERROR faults are checked).
      if (c.path !== PATHS.cardTerminal) {
        const request = validateAgainstOfficialXsd(soapPayloadOf(c.request));
        if (request.length) problems.push(`${c.operation} request: ${request.join(' | ')}`);
      }
      if (isFault ? !gerror(c) : c.path === PATHS.cardTerminal) continue;
      const found = validateAgainstOfficialXsd(soapPayloadOf(c.response, isFault));
      if (found.length) problems.push(`${c.operation} ${isFault ? 'fault' : 'response'}: ${found.join(' | ')}`);
    }
    expect(problems).toEqual([]);
  });

  testIfXsd('connector.sds in this style validates against the ServiceDirectory XSD', () => {
    const xml = vendorProfile(profile).sds(
      connectorSds({ baseUrl: sim.url, offer75: true, offerCardTerminalService: true, now: new Date() })
    ).body;
    expect(validateAgainstOfficialXsd(xml)).toEqual([]);
  });
});

test('an unknown vendor profile is refused with the known ones named', async () => {
  await expect(startKonnektorSimulator({ adminPort: false, vendorProfile: 'ibm' as never })).rejects.toThrow(
    /unknown vendor profile ibm \(known: gematik, jaxws, default-namespace, per-element, chunked, soap12\)/
  );
});

describe('SignDocumentResponse read from the bytes, whatever the serialisation', () => {
  const sig = Buffer.from('signature bytes: a detached CMS would stand here, long enough to need more than one line');
  const b64 = sig.toString('base64');
  const answer = (inner: string) =>
    Buffer.from(
      '<?xml version="1.0"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>' +
        '<ns2:SignDocumentResponse xmlns:ns2="http://ws.gematik.de/conn/SignatureService/v7.5" xmlns:ns3="http://ws.gematik.de/conn/ConnectorCommon/v5.0" xmlns:ns4="urn:oasis:names:tc:dss:1.0:core:schema">' +
        inner +
        '</ns2:SignDocumentResponse></S:Body></S:Envelope>'
    );
  const one = (id: string, base64: string, closing = '</ns4:Base64Signature>') =>
    `<ns2:SignResponse RequestID="${id}"><ns3:Status><ns3:Result>OK</ns3:Result></ns3:Status>` +
    `<ns4:SignatureObject><ns4:Base64Signature Type="urn:ietf:rfc:5652">${base64}${closing}</ns4:SignatureObject></ns2:SignResponse>`;

  test.each([
    ['plain', b64],
    ['in lines with CR LF as character references', `${b64.slice(0, 40)}&#13;&#10;${b64.slice(40)}`],
    ['in lines with hexadecimal references', `${b64.slice(0, 40)}&#xD;&#xA;${b64.slice(40)}`],
    ['in a CDATA section, in lines', `<![CDATA[\n${b64.slice(0, 40)}\n${b64.slice(40)}\n]]>`],
    [
      'with characters written as references',
      `&#${b64.charCodeAt(0)};&#x${b64.charCodeAt(1).toString(16)};${b64.slice(2)}`,
    ],
  ])('base64 %s', (_, text) => {
    const [r] = [...signResponses(answer(one('r-1', text)))];
    expect(r!.binary.get('SignatureObject/Base64Signature')).toEqual(sig);
  });

  test('end tags with white space before ">", ">" inside an attribute value, several responses in any order', () => {
    const body =
      one('b>2', b64, '</ns4:Base64Signature\n  >') +
      one('a-1', Buffer.from('other').toString('base64'), '</ns4:Base64Signature >');
    const parsed = [...signResponses(answer(body.replace('</ns2:SignResponse>', '</ns2:SignResponse >')))];
    expect(parsed.map((p) => [p.node.attributes, p.binary.get('SignatureObject/Base64Signature')])).toEqual([
      [{ RequestID: 'b>2' }, sig],
      [{ RequestID: 'a-1' }, Buffer.from('other')],
    ]);
  });
});
