/**
 * The simulator's XML: parses requests namespace-aware enough (the body element's local name and namespace), and writes
 * responses and GERROR faults with the gematik namespaces and prefixes, so clients see what a real Konnektor sends.
 */
import { randomUUID } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';

export const NS = {
  soap: 'http://schemas.xmlsoap.org/soap/envelope/',
  CONN: 'http://ws.gematik.de/conn/ConnectorCommon/v5.0',
  CCTX: 'http://ws.gematik.de/conn/ConnectorContext/v2.0',
  GERROR: 'http://ws.gematik.de/tel/error/v2.0',
  EVT: 'http://ws.gematik.de/conn/EventService/v7.2',
  CARD: 'http://ws.gematik.de/conn/CardService/v8.1',
  CARDCMN: 'http://ws.gematik.de/conn/CardServiceCommon/v2.0',
  CT: 'http://ws.gematik.de/conn/CardTerminalService/v1.1',
  SIG75: 'http://ws.gematik.de/conn/SignatureService/v7.5',
  SIG74: 'http://ws.gematik.de/conn/SignatureService/v7.4',
  dss: 'urn:oasis:names:tc:dss:1.0:core:schema',
  SDS: 'http://ws.gematik.de/conn/ServiceDirectory/v3.1',
  SI: 'http://ws.gematik.de/conn/ServiceInformation/v2.0',
  PI: 'http://ws.gematik.de/int/version/ProductInformation/v1.1',
} as const;

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** `<p:name a="v">children</p:name>`; text children must already be escaped. */
export function el(
  name: string,
  children: string | string[] = '',
  attrs: Record<string, string | undefined> = {}
): string {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${esc(v!)}"`)
    .join('');
  const inner = Array.isArray(children) ? children.join('') : children;
  return `<${name}${a}>${inner}</${name}>`;
}

export function txt(name: string, value: string | number | boolean): string {
  return el(name, esc(String(value)));
}

export function envelope(body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="${NS.soap}"><soap:Body>${body}</soap:Body></soap:Envelope>`;
}

export interface GerrorTraceInput {
  code: number;
  text: string;
  severity?: 'Fatal' | 'Error' | 'Warning' | 'Info';
  errorType?: 'Technical' | 'Security' | 'Infrastructure' | 'Business';
}

/** `GERROR:Error` with one trace per input, the gematik code in the last one. */
export function gerror(traces: GerrorTraceInput[], now: Date): string {
  return el(
    'GERROR:Error',
    [
      txt('GERROR:MessageID', randomUUID()),
      txt('GERROR:Timestamp', now.toISOString()),
      ...traces.map((t) =>
        el('GERROR:Trace', [
          txt('GERROR:EventID', randomUUID()),
          txt('GERROR:Instance', 'konnektor-simulator'),
          txt('GERROR:LogReference', ''),
          txt('GERROR:CompType', 'KON'),
          txt('GERROR:Code', t.code),
          txt('GERROR:Severity', t.severity ?? 'Error'),
          txt('GERROR:ErrorType', t.errorType ?? 'Technical'),
          txt('GERROR:ErrorText', t.text),
        ])
      ),
    ],
    { 'xmlns:GERROR': NS.GERROR }
  );
}

/** SOAP 1.1 fault with `GERROR:Error` detail (TIP1-A_5058-01), sent with HTTP 500. */
export function faultEnvelope(trace: GerrorTraceInput, now: Date): string {
  return envelope(
    el('soap:Fault', [
      txt('faultcode', 'soap:Server'),
      txt('faultstring', trace.text),
      el('detail', gerror([trace], now)),
    ])
  );
}

/** `CONN:Status`: OK, or Warning with the warning traces. Needs `xmlns:CONN` in scope. */
export function status(warnings: GerrorTraceInput[] = [], now: Date = new Date()): string {
  if (warnings.length === 0) return el('CONN:Status', txt('CONN:Result', 'OK'));
  return el('CONN:Status', [txt('CONN:Result', 'Warning'), gerror(warnings, now)]);
}

export interface ParsedRequest {
  /** Local name of the body's first element, e.g. `SignDocument`. */
  operation: string;
  /** Its namespace URI. */
  namespace: string;
  /** The element parsed without prefixes; attributes under `@_name`. */
  body: Record<string, unknown>;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (name) => name === 'SignRequest' || name === 'CardHandle',
});

const nsParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  trimValues: true,
});

export function parseRequest(xml: string): ParsedRequest | undefined {
  let plain: Record<string, unknown>;
  let raw: Record<string, unknown>;
  try {
    plain = parser.parse(xml) as Record<string, unknown>;
    raw = nsParser.parse(xml) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const env = plain.Envelope as Record<string, unknown> | undefined;
  const body = env?.Body as Record<string, unknown> | undefined;
  if (!body) return undefined;
  const operation = Object.keys(body).find((k) => !k.startsWith('@_'));
  if (!operation) return undefined;
  // Resolve the namespace of the body element from the prefixed parse: its prefix and the xmlns in scope.
  const rawEnvKey = Object.keys(raw).find((k) => k.endsWith('Envelope'))!;
  const rawEnv = raw[rawEnvKey] as Record<string, unknown>;
  const rawBodyKey = Object.keys(rawEnv).find((k) => k.endsWith('Body'))!;
  const rawBody = rawEnv[rawBodyKey] as Record<string, unknown>;
  const rawOpKey = Object.keys(rawBody).find((k) => k === operation || k.endsWith(`:${operation}`)) ?? operation;
  const prefix = rawOpKey.includes(':') ? rawOpKey.split(':')[0] : undefined;
  const attrName = prefix ? `@_xmlns:${prefix}` : '@_xmlns';
  const rawOp = rawBody[rawOpKey] as Record<string, unknown> | undefined;
  const namespace = String(
    (rawOp && typeof rawOp === 'object' ? rawOp[attrName] : undefined) ?? rawBody[attrName] ?? rawEnv[attrName] ?? ''
  );
  const opBody = body[operation];
  return {
    operation,
    namespace,
    body: opBody && typeof opBody === 'object' ? (opBody as Record<string, unknown>) : {},
  };
}

/** Text of a parsed node (string, or `#text` when the element had attributes). */
export function textOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Record<string, unknown>)['#text'] === 'string') {
    return (v as Record<string, string>)['#text'];
  }
  return undefined;
}

export function nodeOf(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Seconds → xsd:duration `PTnHnMnS`. */
export function xsdDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `PT${h}H${m}M${s % 60}S`;
}
