/**
 * The offline QES check of `signflow verify` (documents/qes-verification.ts) on real signatures: a contract PDF signed by
 * the Konnektor simulator's PAdES code with its RSA eHBA key (`pki.hbaRsa`; its default ECDSA key is covered in
 * test/konnektor/ecdsa-signature.test.ts), and one signed by OpenSSL's CMS with an ECDSA
 * brainpoolP256r1 key (the eHBA G2.1 curve). A changed byte, a chain to an unknown anchor and bytes appended after
 * signing must fail, each at its own check. `signflow verify --file` runs as a subprocess on the same files.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { plainAddPlaceholder } from '@signpdf/placeholder-plain';
import signpdf from '@signpdf/signpdf';
import { Signer, SUBFILTER_ETSI_CADES_DETACHED } from '@signpdf/utils';
import { renderContractDocument } from '../../documents/render-contract';
import { parseTrustAnchors, verifyDetachedCms, verifyPadesPdf } from '../../documents/qes-verification';
import { signDetached, signPdf } from '../../konnektor-simulator/cms';
import { createPki, type SimulatorPki } from '../../konnektor-simulator/pki';
import { runCli } from '../cli/run-cli';

// The chain is checked at the signing time, and the simulator's PKI is issued from "a day ago": a fixed date would
// fall before its certificates once the calendar moves on. An hour ago, in whole seconds (CMS signingTime precision).
const signingTime = new Date(Math.floor((Date.now() - 3600_000) / 1000) * 1000);
let dir: string;
let pki: SimulatorPki;
let otherPki: SimulatorPki;
let contractPdf: Buffer;
let rsaSigned: Buffer;
let ecSigned: Buffer;
let ecCaPem: string;

function openssl(args: string[], input?: Buffer): Buffer {
  return execFileSync('openssl', args, { cwd: dir, input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** A brainpoolP256r1 CA and eHBA certificate made with the openssl CLI. */
function makeBrainpoolPki(): void {
  openssl(['ecparam', '-name', 'brainpoolP256r1', '-genkey', '-noout', '-out', 'ec-ca.key']);
  openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    'ec-ca.key',
    '-subj',
    '/CN=Test HBA-qCA ECC/O=signflow test/C=DE',
    '-days',
    '3650',
    '-sha256',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    'ec-ca.pem',
  ]);
  openssl(['ecparam', '-name', 'brainpoolP256r1', '-genkey', '-noout', '-out', 'ec-hba.key']);
  openssl([
    'req',
    '-new',
    '-key',
    'ec-hba.key',
    '-subj',
    '/CN=Dr. Erika Beispiel/serialNumber=80276883110000099999/C=DE',
    '-out',
    'ec-hba.csr',
  ]);
  fs.writeFileSync(path.join(dir, 'ec-hba.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,nonRepudiation\n');
  openssl([
    'x509',
    '-req',
    '-in',
    'ec-hba.csr',
    '-CA',
    'ec-ca.pem',
    '-CAkey',
    'ec-ca.key',
    '-CAcreateserial',
    '-days',
    '1825',
    '-sha256',
    '-extfile',
    'ec-hba.ext',
    '-out',
    'ec-hba.pem',
  ]);
  ecCaPem = fs.readFileSync(path.join(dir, 'ec-ca.pem'), 'utf8');
}

/** OpenSSL's CMS as the PAdES signer: detached, DER, SHA-256, signer and CA certificates embedded. */
class OpensslSigner extends Signer {
  override async sign(pdfBuffer: Buffer): Promise<Buffer> {
    return openssl(
      [
        'cms',
        '-sign',
        '-binary',
        '-outform',
        'DER',
        '-md',
        'sha256',
        '-signer',
        'ec-hba.pem',
        '-inkey',
        'ec-hba.key',
        '-certfile',
        'ec-ca.pem',
      ],
      pdfBuffer
    );
  }
}

async function signWithOpenssl(pdf: Buffer): Promise<Buffer> {
  const placeholder = plainAddPlaceholder({
    pdfBuffer: pdf,
    reason: 'QES',
    contactInfo: '',
    name: 'Dr. Erika Beispiel',
    location: '',
    signatureLength: 16384,
    subFilter: SUBFILTER_ETSI_CADES_DETACHED,
  });
  return signpdf.sign(placeholder, new OpensslSigner());
}

function flipByte(pdf: Buffer, at: number): Buffer {
  const copy = Buffer.from(pdf);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-qes-'));
  const o = {
    konnektorIccsn: '80276883110000100001',
    hbaHolderName: 'Dr. Max Beispiel',
    hbaIccsn: '80276883110000099001',
  };
  pki = createPki(o);
  otherPki = createPki(o);
  contractPdf = (
    await renderContractDocument({
      contractId: 7,
      practiceName: 'Praxis Test',
      title: 'Honorarvertrag Logopädie',
      freelancerName: 'Anna Müller',
      start: '2027-01-01',
      end: null,
      feeCents: 12345,
      description: null,
      createdAt: new Date('2026-11-30T09:00:00Z'),
    })
  ).pdf;
  rsaSigned = await signPdf(
    contractPdf,
    { hba: pki.hbaRsa, chainPem: [pki.ca.certPem] },
    signingTime,
    'Dr. Max Beispiel'
  );
  makeBrainpoolPki();
  ecSigned = await signWithOpenssl(contractPdf);
  fs.writeFileSync(path.join(dir, 'rsa.pdf'), rsaSigned);
  fs.writeFileSync(path.join(dir, 'ec.pdf'), ecSigned);
  fs.writeFileSync(path.join(dir, 'anchors.pem'), `${pki.ca.certPem}\n${ecCaPem}`);
  fs.writeFileSync(path.join(dir, 'unknown-anchor.pem'), otherPki.ca.certPem);
}, 60_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('a PAdES PDF signed by the Konnektor simulator (RSA)', () => {
  test('is valid against the simulator CA, with the signer details', () => {
    const v = verifyPadesPdf(rsaSigned, parseTrustAnchors(pki.ca.certPem));
    expect(v.checks.map((c) => [c.name, c.ok])).toEqual([
      ['byte-range', true],
      ['message-digest', true],
      ['cms-signature', true],
      ['certificate-chain', true],
    ]);
    expect(v.valid).toBe(true);
    expect(v.signer).toMatchObject({
      subject: expect.stringContaining('CN=Dr. Max Beispiel'),
      issuer: expect.stringContaining('CN=Konnektor-Simulator CA'),
      signingTime: signingTime.toISOString(),
      format: 'PAdES (ETSI.CAdES.detached)',
      algorithm: 'RSA 2048 PKCS#1 v1.5 / SHA-256',
    });
    expect(v.signer?.serialNumber).toMatch(/^[0-9A-F]+$/);
  });

  test('one changed byte inside the signed range fails the digest', () => {
    // A byte in the page content, well inside the first signed range.
    const v = verifyPadesPdf(flipByte(rsaSigned, 2000), parseTrustAnchors(pki.ca.certPem));
    expect(v.valid).toBe(false);
    expect(v.checks.find((c) => c.name === 'message-digest')).toMatchObject({ ok: false });
    expect(v.reason).toMatch(/does not match the signed bytes/);
  });

  test('one changed byte in the signature value fails the CMS signature', () => {
    const v = verifyPadesPdf(rsaSigned, parseTrustAnchors(pki.ca.certPem));
    expect(v.valid).toBe(true);
    // The RSA signature value is the last non-zero stretch of the hex /Contents: flip a hex digit near its end.
    const start = rsaSigned.lastIndexOf('/Contents <') + '/Contents <'.length;
    const hex = rsaSigned.subarray(start, rsaSigned.indexOf('>', start)).toString('latin1');
    const lastSignificant = start + hex.replace(/0+$/, '').length - 4;
    const copy = Buffer.from(rsaSigned);
    copy[lastSignificant] = copy[lastSignificant] === 0x61 ? 0x62 : 0x61;
    const broken = verifyPadesPdf(copy, parseTrustAnchors(pki.ca.certPem));
    expect(broken.valid).toBe(false);
    expect(broken.checks.find((c) => c.name === 'cms-signature')).toMatchObject({ ok: false });
  });

  test('a chain to an unknown anchor fails the chain check only', () => {
    const v = verifyPadesPdf(rsaSigned, parseTrustAnchors(otherPki.ca.certPem));
    expect(v.valid).toBe(false);
    expect(v.checks.map((c) => [c.name, c.ok])).toEqual([
      ['byte-range', true],
      ['message-digest', true],
      ['cms-signature', true],
      ['certificate-chain', false],
    ]);
    expect(v.reason).toMatch(/not among the 1 trust anchor/);
  });

  test('no trust anchors configured: not valid', () => {
    const v = verifyPadesPdf(rsaSigned, []);
    expect(v.valid).toBe(false);
    expect(v.reason).toMatch(/no trust anchors configured/);
  });

  test('bytes appended after signing fail the ByteRange check', () => {
    const v = verifyPadesPdf(
      Buffer.concat([rsaSigned, Buffer.from('\n% appended\n')]),
      parseTrustAnchors(pki.ca.certPem)
    );
    expect(v.valid).toBe(false);
    expect(v.checks[0]).toMatchObject({ name: 'byte-range', ok: false });
  });

  test('an unsigned PDF has no signature', () => {
    expect(verifyPadesPdf(contractPdf, parseTrustAnchors(pki.ca.certPem))).toMatchObject({
      valid: false,
      reason: 'the PDF has no signature',
    });
  });

  test('a detached CAdES of the simulator over the document, with its ECDSA and its RSA eHBA key', () => {
    const anchors = parseTrustAnchors(pki.ca.certPem);
    for (const [hba, algorithm] of [
      [pki.hba, 'ECDSA brainpoolP256r1 / SHA-256'],
      [pki.hbaRsa, 'RSA 2048 PKCS#1 v1.5 / SHA-256'],
    ] as const) {
      const cms = signDetached(contractPdf, { hba, chainPem: [pki.ca.certPem] }, signingTime);
      const v = verifyDetachedCms(contractPdf, cms, anchors);
      expect({ algorithm, valid: v.valid, signer: v.signer?.algorithm }).toEqual({
        algorithm,
        valid: true,
        signer: algorithm,
      });
      expect(verifyDetachedCms(flipByte(contractPdf, 100), cms, anchors).valid).toBe(false);
    }
  });
});

describe('a PAdES PDF signed with ECDSA brainpoolP256r1 (OpenSSL CMS)', () => {
  test('is valid against its CA, with the curve named', () => {
    const v = verifyPadesPdf(ecSigned, parseTrustAnchors(ecCaPem));
    expect(v.checks.filter((c) => !c.ok)).toEqual([]);
    expect(v.valid).toBe(true);
    expect(v.signer).toMatchObject({
      subject: expect.stringContaining('CN=Dr. Erika Beispiel'),
      issuer: expect.stringContaining('CN=Test HBA-qCA ECC'),
      algorithm: 'ECDSA brainpoolP256r1 / SHA-256',
    });
  });

  test('one changed byte fails; the simulator CA is not its anchor', () => {
    expect(verifyPadesPdf(flipByte(ecSigned, 2000), parseTrustAnchors(ecCaPem)).valid).toBe(false);
    const wrongAnchor = verifyPadesPdf(ecSigned, parseTrustAnchors(pki.ca.certPem));
    expect(wrongAnchor.valid).toBe(false);
    expect(wrongAnchor.checks.find((c) => c.name === 'certificate-chain')?.ok).toBe(false);
  });
});

describe('signflow verify --file', () => {
  const env = (anchors: string) => ({ SIGNFLOW_QES_TRUST_ANCHORS: path.join(dir, anchors) });

  test('exit 0 for both signed files against the configured anchors, with the signer in the output', async () => {
    const rsa = await runCli(['verify', '--file', path.join(dir, 'rsa.pdf'), '--json'], env('anchors.pem'));
    expect(rsa.code).toBe(0);
    expect(rsa.json()).toMatchObject({ valid: true, signer: { format: 'PAdES (ETSI.CAdES.detached)' } });
    const ec = await runCli(['verify', '--file', path.join(dir, 'ec.pdf')], env('anchors.pem'));
    expect(ec.code).toBe(0);
    expect(ec.stdout).toMatch(/QES valid/);
    expect(ec.stdout).toMatch(/ECDSA brainpoolP256r1/);
  }, 60_000);

  test('exit 1 for a tampered file and for an unknown anchor; 2 for a file that is not there', async () => {
    fs.writeFileSync(path.join(dir, 'tampered.pdf'), flipByte(rsaSigned, 2000));
    const tampered = await runCli(['verify', '--file', path.join(dir, 'tampered.pdf')], env('anchors.pem'));
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/QES INVALID: .*does not match the signed bytes/);
    const unknown = await runCli(['verify', '--file', path.join(dir, 'rsa.pdf')], env('unknown-anchor.pem'));
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toMatch(/\[FAILED\] certificate-chain/);
    const missing = await runCli(['verify', '--file', path.join(dir, 'nope.pdf')], env('anchors.pem'));
    expect(missing.code).toBe(2);
  }, 60_000);
});
