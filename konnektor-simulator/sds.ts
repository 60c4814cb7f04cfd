/** The simulator's `connector.sds` (ServiceDirectory 3.1), laid out like a KoCoBox: 7.5 on its own path. */
import { el, NS, txt } from './soap-xml';

export interface SdsOptions {
  baseUrl: string;
  /** SignatureService versions offered, each on its own endpoint. @default DEFAULT_SIGNATURE_VERSIONS */
  signatureVersions?: readonly string[];
  /** Offer SignatureService 7.5.x (comfort signature); false drops the 7.5 versions. @default true */
  offer75: boolean;
  /** Offer CardTerminalService 1.1 (EjectCard/RequestCard). @default true */
  offerCardTerminalService?: boolean;
  now: Date;
}

export const PATHS = {
  sds: '/connector.sds',
  event: '/ws/EventService',
  sig74: '/ws/SignatureService',
  sig75: '/ws/v75/SignatureService',
  cardTerminal: '/ws/CardTerminalService',
} as const;

/** What a KoCoBox PTV4 offers: 7.4.0 and 7.4.2 (7.4 WSDLs) and 7.5.5. */
export const DEFAULT_SIGNATURE_VERSIONS = ['7.4.0', '7.4.2', '7.5.5'] as const;

/** One SignatureService version on its own path (7.4.0 and 7.5.5 keep the historic paths). */
export interface SignatureEndpoint {
  version: string;
  path: string;
  family: '7.4' | '7.5';
}

export function signatureEndpoints(versions: readonly string[], offer75: boolean): SignatureEndpoint[] {
  return versions
    .filter((v) => /^7\.[45]\.\d+$/.test(v))
    .filter((v) => offer75 || v.startsWith('7.4'))
    .map((version) => ({
      version,
      family: version.startsWith('7.5') ? '7.5' : '7.4',
      path:
        version === '7.4.0'
          ? PATHS.sig74
          : version === '7.5.5'
            ? PATHS.sig75
            : `/ws/v${version.replace(/\./g, '')}/SignatureService`,
    }));
}

function version(targetNamespace: string, v: string, abstract: string, url: string): string {
  return el('SI:Version', [txt('SI:Abstract', abstract), el('SI:EndpointTLS', '', { Location: url })], {
    TargetNamespace: targetNamespace,
    Version: v,
  });
}

function service(name: string, abstract: string, versions: string[]): string {
  return el('SI:Service', [txt('SI:Abstract', abstract), el('SI:Versions', versions)], { Name: name });
}

export function connectorSds(o: SdsOptions): string {
  const sigVersions = signatureEndpoints(o.signatureVersions ?? DEFAULT_SIGNATURE_VERSIONS, o.offer75).map((e) =>
    version(
      `http://ws.gematik.de/conn/SignatureService/WSDL/v${e.family}`,
      e.version,
      e.family === '7.5' ? 'Signaturdienst mit Komfortsignatur' : 'Signaturdienst',
      o.baseUrl + e.path
    )
  );
  const product = el('PI:ProductInformation', [
    txt('PI:InformationDate', o.now.toISOString()),
    el('PI:ProductTypeInformation', [txt('PI:ProductType', 'Konnektor'), txt('PI:ProductTypeVersion', '5.0.0')]),
    el('PI:ProductIdentification', [
      txt('PI:ProductVendorID', 'SFSIM'),
      txt('PI:ProductCode', 'konsim'),
      el('PI:ProductVersion', el('PI:Local', [txt('PI:HWVersion', '1.0.0'), txt('PI:FWVersion', '1.0.0')])),
    ]),
    el('PI:ProductMiscellaneous', [
      txt('PI:ProductVendorName', 'signflow Prüfstand'),
      txt('PI:ProductName', 'Konnektor-Simulator'),
    ]),
  ]);
  return (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' +
    el(
      'SDS:ConnectorServices',
      [
        product,
        txt('SDS:TLSMandatory', true),
        txt('SDS:ClientAutMandatory', true),
        el('SI:ServiceInformation', [
          service('EventService', 'Ereignisdienst', [
            version(
              'http://ws.gematik.de/conn/EventService/WSDL/v7.2',
              '7.2.0',
              'Ereignisdienst',
              o.baseUrl + PATHS.event
            ),
          ]),
          service('SignatureService', 'Signaturdienst', sigVersions),
          ...(o.offerCardTerminalService === false
            ? []
            : [
                service('CardTerminalService', 'Kartenterminaldienst', [
                  version(
                    'http://ws.gematik.de/conn/CardTerminalService/WSDL/v1.1',
                    '1.1.0',
                    'Kartenterminaldienst',
                    o.baseUrl + PATHS.cardTerminal
                  ),
                ]),
              ]),
        ]),
      ],
      { 'xmlns:SDS': NS.SDS, 'xmlns:SI': NS.SI, 'xmlns:PI': NS.PI }
    )
  );
}
