/**
 * Against the official gematik interface (../shared/konnektor-spec, read in place, never copied):
 * - the service-directory parser reads the four vendors' real connector.sds files and picks the right endpoints;
 * - every request the client sends and every response and GERROR fault the simulator sends validate against the
 *   official XSDs (xmllint), as does the simulator's connector.sds.
 * Each test says why when it skips (schemas missing, or xmllint not installed).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseServiceDirectory, selectEndpoints } from '../../activities/konnektor/service-directory';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import { clientFor, makePdf, skipReason, soapPayload, SPEC_DIR, validateAgainstOfficialXsd } from './helpers';

const sdsReason = skipReason(false);
const xsdReason = skipReason(true);
const testIfSds = sdsReason ? test.skip : test;
const testIfXsd = xsdReason ? test.skip : test;

beforeAll(() => {
  if (sdsReason) console.warn(`[konnektor schemas] SKIPPED vendor connector.sds tests: ${sdsReason}`);
  if (xsdReason) console.warn(`[konnektor schemas] SKIPPED XSD validation: ${xsdReason}`);
});

describe('connector.sds of real Konnektoren', () => {
  const sample = (name: string) =>
    parseServiceDirectory(fs.readFileSync(path.join(SPEC_DIR, 'sds-samples', name), 'utf8'));

  testIfSds('KoCoBox (PTV4): SignatureService 7.5.5 on its own path, comfort signature available', () => {
    const dir = sample('koco-PTV4.xml');
    expect(dir.product).toMatchObject({ vendorId: 'KOCOC', productName: 'KoCoBox MED+' });
    const ep = selectEndpoints(dir);
    expect(ep.signature).toEqual({
      url: 'https://eau.dev.top.local/kon1/service/v75/signservice',
      version: '7.5.5',
      interfaceVersion: '7.5',
      schemaVersion: '7.5.5',
      crypt: true,
      comfortSignature: true,
    });
    expect(ep.event.url).toBe('https://eau.dev.top.local/kon1/service/systeminformationservice');
  });

  testIfSds('KoPS (PTV4), RISE (PTV3), secunet (PTV4): 7.4 only, so no comfort signature', () => {
    const expected: Record<string, [string, string, string]> = {
      'kops-PTV4.xml': ['https://172.24.0.2:443/signatureservice', '7.4.0', 'https://172.24.0.2:443/eventservice'],
      'rise-PTV3.xml': [
        'https://10.11.236.249:443/webservices/signatureservice',
        '7.4.0',
        'https://10.11.236.249:443/webservices/eventservice',
      ],
      'secunet-PTV4.xml': [
        'https://10.11.217.160:443/ws/SignatureService',
        '7.4.2',
        'https://10.11.217.160:443/ws/EventService',
      ],
    };
    for (const [file, [sigUrl, version, evtUrl]] of Object.entries(expected)) {
      const ep = selectEndpoints(sample(file));
      expect([file, ep.signature.url, ep.signature.version, ep.signature.comfortSignature, ep.event.url]).toEqual([
        file,
        sigUrl,
        version,
        false,
        evtUrl,
      ]);
      // 7.4.0 imports the 7.4.2 XSD, which has no SIG:Crypt; 7.4.2 imports 7.4.4, which has it.
      expect([file, ep.signature.schemaVersion, ep.signature.crypt]).toEqual(
        version === '7.4.0' ? [file, '7.4.2', false] : [file, '7.4.4', true]
      );
    }
  });

  testIfSds('every sample parses completely (services, versions, TLS flags)', () => {
    for (const file of ['koco-PTV4.xml', 'kops-PTV4.xml', 'rise-PTV3.xml', 'secunet-PTV4.xml']) {
      const dir = sample(file);
      expect(dir.services.length).toBeGreaterThan(10);
      expect(
        dir.services.every(
          (s) => s.versions.length > 0 && s.versions.every((v) => v.endpointTls?.startsWith('https://'))
        )
      ).toBe(true);
      expect(typeof dir.tlsMandatory).toBe('boolean');
    }
    expect(sample('kops-PTV4.xml').clientAuthMandatory).toBe(true);
    expect(sample('koco-PTV4.xml').clientAuthMandatory).toBe(false);
  });

  test('endpoint rewriting replaces internal host names with the sds host', () => {
    const xml = `<ns2:ConnectorServices xmlns:ns2="http://ws.gematik.de/conn/ServiceDirectory/v3.1" xmlns:ns3="http://ws.gematik.de/conn/ServiceInformation/v2.0">
      <ns2:TLSMandatory>true</ns2:TLSMandatory><ns2:ClientAutMandatory>true</ns2:ClientAutMandatory><ns3:ServiceInformation>
      <ns3:Service Name="SignatureService"><ns3:Abstract>x</ns3:Abstract><ns3:Versions>
        <ns3:Version TargetNamespace="http://ws.gematik.de/conn/SignatureService/WSDL/v7.5" Version="7.5.10"><ns3:Abstract>a</ns3:Abstract><ns3:EndpointTLS Location="https://ksp.intern:443/sig75"/></ns3:Version>
        <ns3:Version TargetNamespace="http://ws.gematik.de/conn/SignatureService/WSDL/v7.5" Version="7.5.9"><ns3:Abstract>a</ns3:Abstract><ns3:EndpointTLS Location="https://ksp.intern:443/old"/></ns3:Version>
      </ns3:Versions></ns3:Service>
      <ns3:Service Name="EventService"><ns3:Abstract>x</ns3:Abstract><ns3:Versions>
        <ns3:Version TargetNamespace="http://ws.gematik.de/conn/EventService/WSDL/v7.2" Version="7.2.0"><ns3:Abstract>a</ns3:Abstract><ns3:EndpointTLS Location="https://ksp.intern/evt"/></ns3:Version>
      </ns3:Versions></ns3:Service></ns3:ServiceInformation></ns2:ConnectorServices>`;
    const ep = selectEndpoints(parseServiceDirectory(xml), {
      rewriteToBaseUrl: 'https://192.168.1.20:8443/connector.sds',
    });
    // 7.5.10 > 7.5.9: numeric comparison.
    expect(ep.signature.url).toBe('https://192.168.1.20:8443/sig75');
    expect(ep.event.url).toBe('https://192.168.1.20:8443/evt');
  });
});

describe('messages against the official XSDs', () => {
  let sim: RunningKonnektorSimulator;

  beforeAll(async () => {
    sim = await startKonnektorSimulator({ adminPort: false, maxSessionsPerCard: 10 });
  });

  afterAll(async () => {
    await sim.close();
  });

  testIfXsd("the simulator's connector.sds validates", async () => {
    const client = clientFor(sim);
    try {
      await client.discover();
    } finally {
      client.close();
    }
    // Fetch the raw document the way the client does, then validate it.
    const { connectorSds } = await import('../../konnektor-simulator/sds');
    const xml = connectorSds({ baseUrl: sim.url, offer75: true, now: new Date() });
    expect(validateAgainstOfficialXsd(xml)).toEqual([]);
  });

  testIfXsd('every client request and simulator response of a full session validates', async () => {
    const client = clientFor(sim);
    try {
      const card = await client.findHbaCard();
      const { userId } = await client.activateComfortSignature(card.cardHandle);
      await client.getSignatureMode(card.cardHandle, userId);
      const pdf = await makePdf('Vertrag XSD');
      const res = await client.signDocuments(card.cardHandle, userId, [
        { requestId: 'x-1', document: Buffer.from('Text'), mimeType: 'text/plain', shortText: 'Vertrag 1' },
        { requestId: 'x-2', document: pdf, mimeType: 'application/pdf', shortText: 'Vertrag 2' },
      ]);
      await client.verifyDocument({
        document: Buffer.from('Text'),
        mimeType: 'text/plain',
        signature: res.results.find((r) => r.requestId === 'x-1')!.signature,
      });
      await client.verifyDocument({
        document: res.results.find((r) => r.requestId === 'x-2')!.signature,
        mimeType: 'application/pdf',
      });
      await client.deactivateComfortSignature([card.cardHandle]);
      await client.deactivateComfortSignature([card.cardHandle]); // warning 4266 inside CONN:Status
      sim.admin.faults.failNext(4271, 1, ['GetJobNumber']);
      await client.getJobNumber().catch(() => undefined);
    } finally {
      client.close();
    }
    const calls = sim.admin.calls();
    const ops = new Set(calls.map((c) => c.operation));
    for (const op of [
      'GetCards',
      'ActivateComfortSignature',
      'GetSignatureMode',
      'GetJobNumber',
      'SignDocument',
      'VerifyDocument',
      'DeactivateComfortSignature',
    ]) {
      expect(ops).toContain(op);
    }
    const problems: string[] = [];
    for (const c of calls) {
      const request = validateAgainstOfficialXsd(soapPayload(c.request));
      const isFault = c.httpStatus === 500;
      const response = validateAgainstOfficialXsd(soapPayload(c.response, isFault));
      if (request.length) problems.push(`${c.operation} request: ${request.join(' | ')}`);
      if (response.length) problems.push(`${c.operation} ${isFault ? 'fault' : 'response'}: ${response.join(' | ')}`);
    }
    expect(problems).toEqual([]);
    expect(calls.some((c) => c.httpStatus === 500 && c.response.includes('<GERROR:Code>4271</GERROR:Code>'))).toBe(
      true
    );
  });

  testIfXsd('a request in the wrong element order fails validation (the check has teeth)', () => {
    const bad =
      '<SIG:GetSignatureMode xmlns:SIG="http://ws.gematik.de/conn/SignatureService/v7.5" xmlns:CONN="http://ws.gematik.de/conn/ConnectorCommon/v5.0" xmlns:CCTX="http://ws.gematik.de/conn/ConnectorContext/v2.0">' +
      '<CCTX:Context><CONN:MandantId>M</CONN:MandantId><CONN:ClientSystemId>Z1</CONN:ClientSystemId><CONN:WorkplaceId>W</CONN:WorkplaceId></CCTX:Context>' +
      '<CONN:CardHandle>H</CONN:CardHandle></SIG:GetSignatureMode>';
    expect(validateAgainstOfficialXsd(bad).length).toBeGreaterThan(0);
  });
});
