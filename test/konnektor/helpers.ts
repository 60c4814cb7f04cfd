/**
 * Shared parts of the Konnektor suites: the official gematik schemas (read from ../shared/konnektor-spec when it is
 * there, never copied), xmllint validation, and a client wired to a running simulator.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../..');
/** The shared research folder sits beside the repository. */
export const SPEC_DIR = path.resolve(REPO_ROOT, '..', 'shared', 'konnektor-spec');

export function specAvailable(specDir = SPEC_DIR): boolean {
  return fs.existsSync(path.join(specDir, 'conn', 'SignatureService_V7_5_6.xsd'));
}

export function xmllintAvailable(command = 'xmllint'): boolean {
  return spawnSync(command, ['--version'], { encoding: 'utf8' }).status === 0;
}

/** What `skipReason` looks at; the defaults are the real ones (tests of the helper itself pass others). */
export interface SpecCheck {
  env?: NodeJS.ProcessEnv;
  specDir?: string;
  xmllint?: string;
}

/**
 * Says once per suite why a spec-dependent test does not run. Under CI=true a missing schema folder or xmllint is not a
 * reason to skip but an error (thrown, so the suite fails and the run with it), as for MariaDB and Chromium: CI must
 * never go green without the schema checks.
 */
export function skipReason(needsXmllint: boolean, check: SpecCheck = {}): string | undefined {
  const { env = process.env, specDir = SPEC_DIR, xmllint = 'xmllint' } = check;
  let reason: string | undefined;
  if (!specAvailable(specDir)) reason = `official gematik schemas not found at ${specDir}`;
  else if (needsXmllint && !xmllintAvailable(xmllint)) {
    reason = 'xmllint not installed (Debian: apt-get install libxml2-utils)';
  }
  if (reason && env.CI === 'true') {
    throw new Error(`${reason}: under CI=true the Konnektor schema tests must run, not skip`);
  }
  return reason;
}

let driverFile: string | undefined;

/** One schema importing every namespace the messages use, from the official files. */
function driverSchema(): string {
  if (driverFile) return driverFile;
  const conn = (f: string) => `file://${path.join(SPEC_DIR, 'conn', f)}`;
  const imports: [string, string][] = [
    ['http://ws.gematik.de/conn/SignatureService/v7.5', conn('SignatureService_V7_5_6.xsd')],
    ['http://ws.gematik.de/conn/SignatureService/v7.4', conn('SignatureService_V7_4_4.xsd')],
    ['http://ws.gematik.de/conn/EventService/v7.2', conn('EventService.xsd')],
    ['http://ws.gematik.de/conn/ServiceDirectory/v3.1', conn('ServiceDirectory.xsd')],
    ['http://ws.gematik.de/tel/error/v2.0', `file://${path.join(SPEC_DIR, 'tel', 'error', 'TelematikError.xsd')}`],
  ];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-xsd-'));
  driverFile = path.join(dir, 'driver.xsd');
  fs.writeFileSync(
    driverFile,
    `<?xml version="1.0"?>\n<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:signflow:test:driver">\n` +
      imports.map(([ns, loc]) => `  <xs:import namespace="${ns}" schemaLocation="${loc}"/>`).join('\n') +
      '\n</xs:schema>\n'
  );
  return driverFile;
}

/** Validates a standalone XML document against the official schemas; returns xmllint's complaints (empty = valid). */
export function validateAgainstOfficialXsd(xml: string): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-xml-'));
  const file = path.join(dir, 'doc.xml');
  fs.writeFileSync(file, xml);
  try {
    execFileSync('xmllint', ['--noout', '--nonet', '--schema', driverSchema(), file], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
    return [];
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? err);
    return stderr
      .split('\n')
      .filter((l) => l.trim() && !/validates$/.test(l) && !/Skipping import/.test(l) && !/^\s*$/.test(l));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The first element inside `soap:Body` (or inside `soap:Fault/detail` when `fault`), as a standalone document: the
 * namespace declarations of the envelope are copied onto it when it does not declare them itself.
 */
export function soapPayload(envelopeXml: string, fault = false): string {
  const xml = envelopeXml.replace(/^<\?xml[^>]*\?>/, '');
  const envStart = /<([A-Za-z0-9_]+:)?Envelope\b([^>]*)>/.exec(xml);
  if (!envStart) throw new Error('no SOAP envelope');
  const envDecls = [...(envStart[2] ?? '').matchAll(/\s(xmlns(?::[A-Za-z0-9_]+)?)="([^"]*)"/g)].map(
    (m) => [m[1]!, m[2]!] as const
  );
  const bodyOpen = /<([A-Za-z0-9_]+:)?Body\b[^>]*>/.exec(xml);
  if (!bodyOpen) throw new Error('no SOAP body');
  let rest = xml.slice(bodyOpen.index + bodyOpen[0].length);
  if (fault) {
    const detail = /<detail\b[^>]*>/.exec(rest);
    if (!detail) throw new Error('no fault detail');
    rest = rest.slice(detail.index + detail[0].length);
  }
  const open = /<([A-Za-z0-9_:.-]+)((?:\s[^>]*?)?)(\/?)>/.exec(rest);
  if (!open) throw new Error('empty body');
  const name = open[1]!;
  // Find the matching close tag (payload elements do not nest an element of their own name).
  const closeTag = `</${name}>`;
  const end = open[3] === '/' ? open.index + open[0].length : rest.indexOf(closeTag, open.index) + closeTag.length;
  let element = rest.slice(open.index, end);
  const own = new Set([...open[0].matchAll(/\s(xmlns(?::[A-Za-z0-9_]+)?)=/g)].map((m) => m[1]));
  const missing = envDecls.filter(([k]) => !own.has(k) && k !== 'xmlns').map(([k, v]) => ` ${k}="${v}"`);
  element = element.replace(`<${name}`, `<${name}${missing.join('')}`);
  return `<?xml version="1.0" encoding="UTF-8"?>${element}`;
}

// The simulator client lives in harness/ (the benchmark needs it too; bench code never imports test/).
export { clientFor, CONTEXT } from '../../harness/konnektor-client';

/** A small PDF from pdfkit (the contract documents are pdfkit PDF/A). */
export async function makePdf(text: string): Promise<Buffer> {
  const { default: PDFDocument } = await import('pdfkit');
  const doc = new PDFDocument({ pdfVersion: '1.7' } as PDFKit.PDFDocumentOptions);
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve) => doc.on('end', () => resolve(Buffer.concat(chunks))));
  doc.text(text);
  doc.end();
  return done;
}
