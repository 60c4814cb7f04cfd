/**
 * Turns whatever a Konnektor call failed with into a `KonnektorError`:
 * - a SOAP fault with `GERROR:Error` detail: the code of the LAST trace decides (A_14159);
 * - a SOAP fault or HTTP error without one: classified by HTTP status, the body kept whole (truncated at 64 KiB);
 * - no answer at all: network errors are transient, TLS rejections need an admin.
 * Also reads the warnings of a successful `CONN:Status`.
 */
import { XMLParser } from 'fast-xml-parser';
import {
  classifyHttpStatus,
  KonnektorError,
  KonnektorFailureType,
  type GematikTrace,
  type RawSoapFault,
} from '../../domain/konnektor-errors';
import { KONNEKTOR_ECDH_GROUPS, SERVER_UNTRUSTED_CODE, type HandshakeFailure } from './tls-agent';

const MAX_BODY = 64 * 1024;

const faultParser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  // Character references (`&#252;`) are XML: a vendor writing ASCII only uses them for every umlaut.
  htmlEntities: true,
  isArray: (name) => name === 'Trace',
});

type Node = Record<string, unknown>;

function obj(v: unknown): Node | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Node) : undefined;
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  const o = obj(v);
  if (o && typeof o['#text'] === 'string') return o['#text'];
  if (o && typeof o.$value === 'string') return o.$value;
  return undefined;
}

/** Traces of a `GERROR:Error` node as node-soap or fast-xml-parser produce it (object for one, array for several). */
export function tracesOf(errorNode: unknown): GematikTrace[] {
  const raw = obj(errorNode)?.Trace;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  const traces: GematikTrace[] = [];
  for (const t of list) {
    const o = obj(t);
    const code = Number.parseInt(str(o?.Code) ?? '', 10);
    if (!o || Number.isNaN(code)) continue;
    traces.push({
      code,
      severity: str(o.Severity),
      errorType: str(o.ErrorType),
      errorText: str(o.ErrorText),
      compType: str(o.CompType),
      detail: str(o.Detail),
    });
  }
  return traces;
}

/** Finds `Error` (GERROR) anywhere below a fault detail, whatever the prefixes. */
function findErrorNode(node: unknown, depth = 0): unknown {
  const o = obj(node);
  if (!o || depth > 6) return undefined;
  if (obj(o.Error)?.Trace !== undefined) return o.Error;
  for (const v of Object.values(o)) {
    const found = findErrorNode(v, depth + 1);
    if (found) return found;
  }
  return undefined;
}

export interface ParsedFault {
  faultcode?: string;
  faultstring?: string;
  traces: GematikTrace[];
}

export function parseSoapFault(body: string): ParsedFault | undefined {
  let doc: Node;
  try {
    doc = faultParser.parse(body) as Node;
  } catch {
    return undefined;
  }
  const fault = obj(obj(obj(doc.Envelope)?.Body)?.Fault);
  if (!fault) return undefined;
  // SOAP 1.1: faultcode, faultstring, detail. SOAP 1.2: Code/Value (Subcode), Reason/Text, Detail.
  const code12 = obj(fault.Code);
  const reason12 = obj(fault.Reason)?.Text;
  return {
    faultcode: str(fault.faultcode) ?? str(code12?.Value),
    faultstring: str(fault.faultstring) ?? str(Array.isArray(reason12) ? reason12[0] : reason12),
    traces: tracesOf(findErrorNode(fault.detail ?? fault.Detail)),
  };
}

const TRANSIENT_NET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ECANCELED',
]);

/** Network codes after which nothing reached the Konnektor (safe to send again at once). */
export const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

function errorCodeOf(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'ERR_BAD_RESPONSE' && code !== 'ERR_BAD_REQUEST') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** TLS alerts a Konnektor sends when it does not accept the client certificate. */
const CLIENT_CERT_ALERT =
  /ALERT_(BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|UNKNOWN_CA|CERTIFICATE_REQUIRED|ACCESS_DENIED|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|UNSUPPORTED_CERTIFICATE)/;
/** Alerts (and local errors) of a handshake where the two sides share no cipher suite, group or TLS version. */
const NEGOTIATION_FAILURE =
  /ALERT_(HANDSHAKE_FAILURE|INSUFFICIENT_SECURITY|PROTOCOL_VERSION|ILLEGAL_PARAMETER)|NO_SHARED_CIPHER|NO_SHARED_GROUP|UNKNOWN_GROUP|WRONG_CURVE|NO_SUITABLE_KEY_SHARE|UNSUPPORTED_PROTOCOL|WRONG_VERSION_NUMBER|NO_CIPHERS_AVAILABLE/;

/** TLS alerts sent by the Konnektor when it does not accept our client certificate. */
function isClientCertRejection(code: string | undefined, message: string): boolean {
  return (
    (code !== undefined && code.startsWith('ERR_SSL_') && CLIENT_CERT_ALERT.test(code)) ||
    /alert (bad certificate|certificate unknown|unknown ca|certificate required)/i.test(message)
  );
}

function handshakeOf(err: unknown): HandshakeFailure | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const stage = (e as Partial<HandshakeFailure>).handshakeStage;
    if (stage) return e as HandshakeFailure;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** What signflow offers in the TLS handshake, for the message of a failed negotiation. */
export const OFFERED_TLS = `TLS 1.2 and 1.3 with the ECDHE groups ${KONNEKTOR_ECDH_GROUPS.split(':').join(', ')}`;

/**
 * A handshake that failed before a connection existed, by how far it got:
 * - an alert about the client certificate, or a handshake failure after it was sent → the certificate is refused;
 * - a handshake failure before any key exchange → no shared cipher suite, group or TLS version;
 * - closed without an alert after the certificate was sent → transient here, with `handshakeStage: 'keys'`: the client
 *   counts these and names the certificate after a few identical ones (a network fault looks the same once).
 */
function handshakeError(
  err: unknown,
  h: HandshakeFailure,
  code: string | undefined,
  message: string,
  operation: string
): KonnektorError | undefined {
  const cert = h.clientCertificate ?? "signflow's client certificate";
  const base = { operation, transportCode: code, handshakeStage: h.handshakeStage };
  if (
    isClientCertRejection(code, message) ||
    (h.handshakeStage === 'keys' && /ALERT_HANDSHAKE_FAILURE/.test(code ?? ''))
  ) {
    return new KonnektorError(
      `the Konnektor rejected ${cert} in the TLS handshake of ${operation} (${code ?? message})`,
      { ...base, failureType: KonnektorFailureType.KONNEKTOR_CLIENT_AUTH_FAILED, faultClass: 'needs-person' },
      { cause: err }
    );
  }
  if (h.handshakeStage === 'hello' && NEGOTIATION_FAILURE.test(code ?? message)) {
    return new KonnektorError(
      `no shared cipher/group: the TLS handshake of ${operation} failed before any certificate was exchanged (${code ?? message}); signflow offers ${OFFERED_TLS}`,
      { ...base, failureType: KonnektorFailureType.KONNEKTOR_TLS_NEGOTIATION_FAILED, faultClass: 'needs-person' },
      { cause: err }
    );
  }
  if (h.handshakeStage === 'keys' && (code === 'ECONNRESET' || /disconnected|socket hang up|EPIPE/i.test(message))) {
    return new KonnektorError(
      `the Konnektor closed the connection during the TLS handshake of ${operation}, without an alert, after receiving ${cert}`,
      { ...base, failureType: KonnektorFailureType.KONNEKTOR_UNAVAILABLE, faultClass: 'transient' },
      { cause: err }
    );
  }
  return undefined;
}

/** Classifies a failed node-soap call (or https request). */
export function toKonnektorError(err: unknown, operation: string): KonnektorError {
  if (err instanceof KonnektorError) return err;
  const response = (err as { response?: { status?: number; data?: unknown } }).response;
  const code = errorCodeOf(err);
  const message = messageOf(err);
  if (response && typeof response.status === 'number') {
    const rawBody = (err as { body?: unknown }).body ?? response.data;
    const body = typeof rawBody === 'string' ? rawBody : Buffer.isBuffer(rawBody) ? rawBody.toString('utf8') : '';
    const parsed = body ? parseSoapFault(body) : undefined;
    const fault: RawSoapFault = {
      httpStatus: response.status,
      faultcode: parsed?.faultcode,
      faultstring: parsed?.faultstring,
      body: body.length > MAX_BODY ? `${body.slice(0, MAX_BODY)}…` : body,
    };
    const last = parsed?.traces[parsed.traces.length - 1];
    if (last) return KonnektorError.fromGematik(last.code, { operation, traces: parsed!.traces, fault });
    const cls = classifyHttpStatus(response.status);
    return new KonnektorError(
      `Konnektor ${operation} answered HTTP ${response.status}${parsed?.faultstring ? `: ${parsed.faultstring}` : ''}`,
      { failureType: cls.failureType, faultClass: cls.faultClass, operation, httpStatus: response.status, fault },
      { cause: err }
    );
  }
  if (code === SERVER_UNTRUSTED_CODE) {
    return new KonnektorError(
      message,
      {
        failureType: KonnektorFailureType.KONNEKTOR_SERVER_UNTRUSTED,
        faultClass: 'needs-person',
        operation,
        transportCode: code,
      },
      { cause: err }
    );
  }
  const handshake = handshakeOf(err);
  const fromHandshake = handshake && handshakeError(err, handshake, code, message, operation);
  if (fromHandshake) return fromHandshake;
  if (isClientCertRejection(code, message)) {
    return new KonnektorError(
      `Konnektor rejected the client certificate during ${operation}: ${message}`,
      {
        failureType: KonnektorFailureType.KONNEKTOR_CLIENT_AUTH_FAILED,
        faultClass: 'needs-person',
        operation,
        transportCode: code,
      },
      { cause: err }
    );
  }
  if (
    (code && (TRANSIENT_NET.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ECONN'))) ||
    /socket hang up|timeout/i.test(message)
  ) {
    return new KonnektorError(
      `Konnektor unreachable during ${operation}: ${message}`,
      {
        failureType: KonnektorFailureType.KONNEKTOR_UNAVAILABLE,
        faultClass: 'transient',
        operation,
        transportCode: code,
      },
      { cause: err }
    );
  }
  return new KonnektorError(
    `Konnektor ${operation} failed: ${message}`,
    {
      failureType: KonnektorFailureType.KONNEKTOR_UNKNOWN_ERROR,
      faultClass: 'needs-person',
      operation,
      transportCode: code,
    },
    { cause: err }
  );
}

/** Warnings (`Result=Warning`) of a successful `CONN:Status` as node-soap parsed it. */
export function warningsOf(status: unknown): GematikTrace[] {
  const s = obj(status);
  if (!s || str(s.Result) !== 'Warning') return [];
  return tracesOf(s.Error);
}
