/**
 * Strict mode: every incoming request is validated against the official gematik XSD of exactly the interface version
 * the endpoint serves (EventService 7.2, SignatureService 7.4.0 → XSD 7.4.2, 7.4.2 → 7.4.4, 7.5.5, 7.5.6), as a
 * schema-validating Konnektor does; a violation is answered with 4000 and xmllint's message.
 *
 * The schemas are not part of this repository (gematik licence): they are read in place from a copy of the gematik
 * `api-telematik` folder (`conn/`, `tel/`, `ext/`), `SIGNFLOW_KONNEKTOR_SIM_SCHEMA_DIR` or the `schemaDir` option.
 * Validation needs `xmllint` (Debian: libxml2-utils).
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type SchemaTarget = { service: 'event' } | { service: 'signature'; version: string };

/** XSD file (below `conn/`) of a SignatureService WSDL version, as the WSDLs import them (gemSpec_Kon TAB_KON_197). */
export function signatureXsdFile(version: string): string {
  const [, minor, patch] = version.split('.').map((n) => Number.parseInt(n, 10) || 0);
  if (minor === 4) return (patch ?? 0) >= 2 ? 'SignatureService_V7_4_4.xsd' : 'SignatureService.xsd';
  return (patch ?? 0) >= 6 ? 'SignatureService_V7_5_6.xsd' : 'SignatureService_V7_5_5.xsd';
}

export function schemaDirUsable(dir: string | undefined): dir is string {
  return !!dir && fs.existsSync(path.join(dir, 'conn', 'SignatureService_V7_5_5.xsd'));
}

export function xmllintInstalled(): boolean {
  return spawnSync('xmllint', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** Texts at least this long that are base64 only are replaced by a stub before validation. */
const BIG_TEXT = 4096;

function isBase64Char(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2b || // +
    c === 0x2f || // /
    c === 0x3d || // =
    c === 0x0a ||
    c === 0x0d
  );
}

/**
 * Every text between two tags that is long and base64 only becomes `AAAA`. A loop, not a regular expression: a
 * quantified character class over a 30 MB document overflows V8's regexp stack (RangeError), and the Konnektor must
 * answer 4283 for such a call, not fall over.
 */
function stubBigTexts(xml: string): string {
  const out: string[] = [];
  let at = 0;
  for (let gt = xml.indexOf('>'); gt >= 0; gt = xml.indexOf('>', at)) {
    const lt = xml.indexOf('<', gt + 1);
    if (lt < 0) break;
    let base64 = lt - gt - 1 >= BIG_TEXT;
    for (let i = gt + 1; base64 && i < lt; i++) base64 = isBase64Char(xml.charCodeAt(i));
    out.push(base64 ? `${xml.slice(at, gt + 1)}AAAA` : xml.slice(at, lt));
    at = lt;
  }
  out.push(xml.slice(at));
  return out.join('');
}

/**
 * The first element inside the SOAP Body (SOAP 1.1 or 1.2) as a standalone document, with the envelope's namespace
 * declarations copied onto it. Document contents are shortened to a valid base64 stub: the schema decides about the
 * structure, and the size check is done separately (so a 250 MB request does not go through xmllint).
 */
export function bodyPayload(envelopeXml: string): string | undefined {
  const xml = envelopeXml.replace(/^\uFEFF?<\?xml[^>]*\?>/, '');
  const env = /<([A-Za-z0-9_.-]+:)?Envelope\b([^>]*)>/.exec(xml);
  const bodyOpen = /<([A-Za-z0-9_.-]+:)?Body\b[^>]*>/.exec(xml);
  if (!env || !bodyOpen) return undefined;
  const decls = new Map<string, string>();
  for (const m of `${env[2] ?? ''} ${/<([A-Za-z0-9_.-]+:)?Body\b([^>]*)>/.exec(xml)?.[2] ?? ''}`.matchAll(
    /\s(xmlns(?::[A-Za-z0-9_.-]+)?)="([^"]*)"/g
  ))
    decls.set(m[1]!, m[2]!);
  const bodyClose = xml.lastIndexOf(`</${bodyOpen[1] ?? ''}Body>`);
  if (bodyClose < 0) return undefined;
  let inner = xml.slice(bodyOpen.index + bodyOpen[0].length, bodyClose).trim();
  const open = /^<([A-Za-z0-9_:.-]+)((?:\s[^>]*?)?)(\/?)>/.exec(inner);
  if (!open) return undefined;
  const own = new Set([...open[0].matchAll(/\s(xmlns(?::[A-Za-z0-9_.-]+)?)=/g)].map((m) => m[1]));
  const missing = [...decls].filter(([k]) => !own.has(k)).map(([k, v]) => ` ${k}="${v}"`);
  inner = stubBigTexts(inner);
  return `<?xml version="1.0" encoding="UTF-8"?><${open[1]}${missing.join('')}${inner.slice(open[1]!.length + 1)}`;
}

export class SchemaValidator {
  private readonly drivers = new Map<string, string>();
  private tmp?: string;

  constructor(readonly schemaDir: string) {}

  private tmpDir(): string {
    this.tmp ??= fs.mkdtempSync(path.join(os.tmpdir(), 'konnektor-sim-xsd-'));
    return this.tmp;
  }

  /** A driver schema importing the one namespace of the target from its exact file. */
  private driver(target: SchemaTarget): string {
    const key = target.service === 'event' ? 'event' : signatureXsdFile(target.version);
    const cached = this.drivers.get(key);
    if (cached) return cached;
    const [ns, file] =
      target.service === 'event'
        ? ['http://ws.gematik.de/conn/EventService/v7.2', 'EventService.xsd']
        : [
            `http://ws.gematik.de/conn/SignatureService/v${target.version.startsWith('7.4') ? '7.4' : '7.5'}`,
            signatureXsdFile(target.version),
          ];
    const driverFile = path.join(this.tmpDir(), `driver-${key}`);
    fs.writeFileSync(
      driverFile,
      `<?xml version="1.0"?>\n<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:signflow:konnektor-sim:driver">\n` +
        `  <xs:import namespace="${ns}" schemaLocation="file://${path.resolve(this.schemaDir, 'conn', file)}"/>\n` +
        `</xs:schema>\n`
    );
    this.drivers.set(key, driverFile);
    return driverFile;
  }

  /** xmllint's complaints about the request's body element (empty = valid). */
  async validate(envelopeXml: string, target: SchemaTarget): Promise<string[]> {
    const payload = bodyPayload(envelopeXml);
    if (!payload) return ['no SOAP Body element'];
    const dir = fs.mkdtempSync(path.join(this.tmpDir(), 'req-'));
    const file = path.join(dir, 'request.xml');
    fs.writeFileSync(file, payload);
    try {
      const stderr = await new Promise<string>((resolve) => {
        execFile(
          'xmllint',
          ['--noout', '--nonet', '--schema', this.driver(target), file],
          { encoding: 'utf8', maxBuffer: 4 * 1024 * 1024 },
          (err, _stdout, errOut) => resolve(err ? String(errOut || err.message) : '')
        );
      });
      return stderr
        .split('\n')
        .map((l) => l.replace(`${file}:`, 'line ').trim())
        .filter((l) => l && !/validates$/.test(l) && !/fails to validate$/.test(l) && !/Skipping import/.test(l));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  close(): void {
    if (this.tmp) fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}
