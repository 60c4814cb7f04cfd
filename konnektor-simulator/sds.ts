/** The simulator's `connector.sds` (ServiceDirectory 3.1), laid out like a KoCoBox: 7.5 on its own path. */
import { el, NS, txt } from './soap-xml';

export interface SdsOptions {
  baseUrl: string;
  /** Offer SignatureService 7.5.5 (comfort signature). @default true */
  offer75: boolean;
  now: Date;
}

export const PATHS = {
  sds: '/connector.sds',
  event: '/ws/EventService',
  sig74: '/ws/SignatureService',
  sig75: '/ws/v75/SignatureService',
} as const;

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
  const sigVersions = [
    version('http://ws.gematik.de/conn/SignatureService/WSDL/v7.4', '7.4.0', 'Signaturdienst', o.baseUrl + PATHS.sig74),
    version('http://ws.gematik.de/conn/SignatureService/WSDL/v7.4', '7.4.2', 'Signaturdienst', o.baseUrl + PATHS.sig74),
  ];
  if (o.offer75) {
    sigVersions.push(
      version(
        'http://ws.gematik.de/conn/SignatureService/WSDL/v7.5',
        '7.5.5',
        'Signaturdienst mit Komfortsignatur',
        o.baseUrl + PATHS.sig75
      )
    );
  }
  const product = el('PI:ProductInformation', [
    txt('PI:InformationDate', o.now.toISOString()),
    el('PI:ProductTypeInformation', [txt('PI:ProductType', 'Konnektor'), txt('PI:ProductTypeVersion', '5.0.0')]),
    el('PI:ProductIdentification', [
      txt('PI:ProductVendorID', 'SFSIM'),
      txt('PI:ProductCode', 'konsim'),
      el('PI:ProductVersion', el('PI:Local', [txt('PI:HWVersion', '1.0.0'), txt('PI:FWVersion', '1.0.0')])),
    ]),
    el('PI:ProductMiscellaneous', [
      txt('PI:ProductVendorName', 'signflow'),
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
        ]),
      ],
      { 'xmlns:SDS': NS.SDS, 'xmlns:SI': NS.SI, 'xmlns:PI': NS.PI }
    )
  );
}
