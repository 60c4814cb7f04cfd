/**
 * The Konnektor's service directory (`connector.sds`, ServiceDirectory 3.1): which services, versions and endpoints it
 * offers. Namespace prefixes differ per vendor (`ns2:`, `ns3:`, none), so the parser ignores them. Versions are
 * compared numerically (7.10 > 7.9). Endpoint layouts are vendor-specific: the 7.5 SignatureService usually has its
 * own path (KoCoBox `/service/v75/signservice`), so it is selected by version, never by service name alone.
 */
import { XMLParser } from 'fast-xml-parser';

export interface ServiceVersion {
  version: string;
  targetNamespace?: string;
  /** http endpoint (only when the Konnektor allows plain http). */
  endpoint?: string;
  /** https endpoint (mandatory in the schema). */
  endpointTls?: string;
}

export interface ServiceEntry {
  name: string;
  versions: ServiceVersion[];
}

export interface ProductInfo {
  vendorId?: string;
  vendorName?: string;
  productName?: string;
  productCode?: string;
  productTypeVersion?: string;
  hwVersion?: string;
  fwVersion?: string;
}

export interface ServiceDirectory {
  product: ProductInfo;
  tlsMandatory: boolean;
  clientAuthMandatory: boolean;
  services: ServiceEntry[];
}

export type SignatureInterface = '7.5' | '7.4';

/** The SignatureService XSD versions signflow builds requests for. */
export type SignatureSchemaVersion = '7.4.2' | '7.4.4' | '7.5.5' | '7.5.6';

/**
 * The XSD a SignatureService WSDL version imports. 7.4.0 (and the unpublished 7.4.1) import the 7.4.2 XSD, which has no
 * `Crypt`; 7.4.2 and later 7.4.x import 7.4.4. All 7.5.x share one wire format for what signflow sends; 7.5.6+ (7.5.7
 * still imports the 7.5.6 XSD) is validated against 7.5.6.
 */
export function signatureSchemaVersion(version: string): SignatureSchemaVersion {
  if (/^7\.4(\.|$)/.test(version)) return compareVersions(version, '7.4.2') >= 0 ? '7.4.4' : '7.4.2';
  return compareVersions(version, '7.5.6') >= 0 ? '7.5.6' : '7.5.5';
}

export interface KonnektorEndpoints {
  signature: {
    url: string;
    version: string;
    /** The WSDL family: 7.5 has the comfort signature, 7.4 does not. */
    interfaceVersion: SignatureInterface;
    /**
     * The XSD of exactly that WSDL version (gemSpec_Kon TAB_KON_197): 7.4.0 → 7.4.2, 7.4.2 → 7.4.4, 7.5.x → 7.5.5 or
     * 7.5.6. Requests are built for it: a schema-validating Konnektor answers 4000 to any element its version lacks.
     */
    schemaVersion: SignatureSchemaVersion;
    /** `SIG:Crypt` exists in this schema (7.4.4 and 7.5.x; not in the 7.4.2 XSD of a 7.4.0 WSDL). */
    crypt: boolean;
    comfortSignature: boolean;
  };
  event: { url: string; version: string };
  /** CardTerminalService 1.x (EjectCard/RequestCard), when the Konnektor offers it. */
  cardTerminal?: { url: string; version: string };
  product: ProductInfo;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // Character references (`&#252;`) are XML: a vendor writing ASCII only uses them for every umlaut.
  htmlEntities: true,
  isArray: (name) => name === 'Service' || name === 'Version',
});

type Node = Record<string, unknown>;

function obj(value: unknown): Node | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Node) : undefined;
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const o = obj(value);
  const t = o?.['#text'];
  return typeof t === 'string' ? t : undefined;
}

function attr(node: unknown, name: string): string | undefined {
  const v = obj(node)?.[`@${name}`];
  return typeof v === 'string' ? v : undefined;
}

export class ServiceDirectoryError extends Error {
  override readonly name = 'ServiceDirectoryError';
}

export function parseServiceDirectory(xml: string): ServiceDirectory {
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch (err) {
    throw new ServiceDirectoryError(`connector.sds is not XML: ${(err as Error).message}`);
  }
  const root = obj(doc.ConnectorServices);
  if (!root) throw new ServiceDirectoryError('connector.sds has no ConnectorServices root');
  const pi = obj(root.ProductInformation);
  const ident = obj(pi?.ProductIdentification);
  const local = obj(obj(ident?.ProductVersion)?.Local);
  const misc = obj(pi?.ProductMiscellaneous);
  const product: ProductInfo = {
    vendorId: text(ident?.ProductVendorID),
    vendorName: text(misc?.ProductVendorName),
    productName: text(misc?.ProductName),
    productCode: text(ident?.ProductCode),
    productTypeVersion: text(obj(pi?.ProductTypeInformation)?.ProductTypeVersion),
    hwVersion: text(local?.HWVersion),
    fwVersion: text(local?.FWVersion),
  };
  const services: ServiceEntry[] = [];
  const serviceNodes = (obj(root.ServiceInformation)?.Service as unknown[] | undefined) ?? [];
  for (const s of serviceNodes) {
    const name = attr(s, 'Name');
    if (!name) continue;
    const versionNodes = (obj(obj(s)?.Versions)?.Version as unknown[] | undefined) ?? [];
    const versions: ServiceVersion[] = versionNodes.map((v) => ({
      version: attr(v, 'Version') ?? '',
      targetNamespace: attr(v, 'TargetNamespace'),
      endpoint: attr(obj(v)?.Endpoint, 'Location'),
      endpointTls: attr(obj(v)?.EndpointTLS, 'Location'),
    }));
    services.push({ name, versions });
  }
  return {
    product,
    tlsMandatory: text(root.TLSMandatory) === 'true',
    clientAuthMandatory: text(root.ClientAutMandatory) === 'true',
    services,
  };
}

/** Numeric comparison of dotted versions; missing parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const pb = b.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The interface family of a SignatureService version, from its WSDL namespace or its version number. */
function signatureFamily(v: ServiceVersion): SignatureInterface | undefined {
  const ns = v.targetNamespace ?? '';
  if (/SignatureService\/WSDL\/v7\.5$/.test(ns) || /^7\.5(\.|$)/.test(v.version)) return '7.5';
  if (/SignatureService\/WSDL\/v7\.4$/.test(ns) || /^7\.4(\.|$)/.test(v.version)) return '7.4';
  return undefined;
}

function highest(versions: ServiceVersion[]): ServiceVersion | undefined {
  return [...versions].sort((a, b) => compareVersions(b.version, a.version))[0];
}

export interface SelectOptions {
  /**
   * Replace scheme, host and port of every endpoint with those of the sds URL. For Konnektoren whose directory names
   * internal hosts the practice network cannot resolve.
   */
  rewriteToBaseUrl?: string;
}

function rewrite(url: string, base: string | undefined): string {
  if (!base) return url;
  const u = new URL(url);
  const b = new URL(base);
  u.protocol = b.protocol;
  u.host = b.host;
  return u.toString();
}

/**
 * Picks the SignatureService (highest 7.5.x, else highest 7.4.x: no comfort signature) and the EventService (highest
 * 7.x) with an https endpoint. Throws when either is missing.
 */
export function selectEndpoints(dir: ServiceDirectory, options: SelectOptions = {}): KonnektorEndpoints {
  const withTls = (name: string) =>
    dir.services.filter((s) => s.name === name).flatMap((s) => s.versions.filter((v) => !!v.endpointTls));
  const sigVersions = withTls('SignatureService');
  const v75 = highest(sigVersions.filter((v) => signatureFamily(v) === '7.5'));
  const v74 = highest(sigVersions.filter((v) => signatureFamily(v) === '7.4'));
  const sig = v75 ?? v74;
  if (!sig) {
    throw new ServiceDirectoryError(
      `connector.sds offers no SignatureService 7.5 or 7.4 with an https endpoint (found: ${
        sigVersions.map((v) => v.version).join(', ') || 'none'
      })`
    );
  }
  const evt = highest(withTls('EventService').filter((v) => /^7\./.test(v.version)));
  if (!evt) throw new ServiceDirectoryError('connector.sds offers no EventService 7.x with an https endpoint');
  const family = v75 ? '7.5' : '7.4';
  const ct = highest(withTls('CardTerminalService').filter((v) => /^1\./.test(v.version)));
  return {
    signature: {
      url: rewrite(sig.endpointTls!, options.rewriteToBaseUrl),
      version: sig.version,
      interfaceVersion: family,
      schemaVersion: signatureSchemaVersion(sig.version),
      crypt: signatureSchemaVersion(sig.version) !== '7.4.2',
      comfortSignature: family === '7.5',
    },
    event: { url: rewrite(evt.endpointTls!, options.rewriteToBaseUrl), version: evt.version },
    cardTerminal: ct ? { url: rewrite(ct.endpointTls!, options.rewriteToBaseUrl), version: ct.version } : undefined,
    product: dir.product,
  };
}
