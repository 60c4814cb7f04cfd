/**
 * The simulated eHBA signs like a G2.1 eHBA: ECDSA on brainpoolP256r1 (SignerInfo algorithm ecdsa-with-SHA256, a DER
 * `ECDSA-Sig-Value`) by default; RSA (sha256WithRSAEncryption) when a request's `SIG:Crypt` is `RSA`, and always on an
 * RSA-only eHBA (`hba.qesKey: 'RSA'`). Every signature is checked by verifiers that share no code with the simulator:
 * OpenSSL (`openssl cms -verify`, for a PAdES PDF over the bytes its ByteRange names) and signflow's offline verifier
 * (documents/qes-verification); a changed document byte must fail each of them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import forge from 'node-forge';
import { parseTrustAnchors, verifyDetachedCms, verifyPadesPdf } from '../../documents/qes-verification';
import { signDocumentPieces, type WireSignDocument } from '../../activities/konnektor/sign-document-wire';
import { startKonnektorSimulator, type RunningKonnektorSimulator } from '../../konnektor-simulator';
import { createPki, loadOrCreatePki } from '../../konnektor-simulator/pki';
import { qesKeyFor } from '../../konnektor-simulator/qes-keys';
import { PATHS } from '../../konnektor-simulator/sds';
import { clientFor, CONTEXT, makePdf } from './helpers';
import { credentialsTlsOptions } from './tls-options';

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_SHA256_RSA = '1.2.840.113549.1.1.11';
/** DER of the OID 1.3.36.3.3.2.8.1.1.7 (brainpoolP256r1) as it stands in the SubjectPublicKeyInfo. */
const BRAINPOOL_P256R1_DER = Buffer.from('06092b2403030208010107', 'hex');
const CADES = 'urn:ietf:rfc:5652';
const NS75 = 'http://ws.gematik.de/conn/SignatureService/v7.5';
const NS74 = 'http://ws.gematik.de/conn/SignatureService/v7.4';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-ecdsa-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The exact DER of the first ASN.1 element in `bytes` (a PAdES /Contents is zero-padded after it). */
function firstDer(bytes: Buffer): Buffer {
  const lenByte = bytes[1]!;
  if (lenByte < 0x80) return bytes.subarray(0, 2 + lenByte);
  const n = lenByte & 0x7f;
  return bytes.subarray(0, 2 + n + bytes.readUIntBE(2, n));
}

interface SignerInfoFacts {
  signatureAlgorithm: string;
  /** The AlgorithmIdentifier has parameters (RFC 5758: none for ECDSA; RFC 4055: NULL for RSA). */
  hasParameters: boolean;
  signatureValue: Buffer;
}

/** Reads the one SignerInfo of a CMS SignedData (test-side, with forge's plain ASN.1 reader). */
function signerInfoOf(cms: Buffer): SignerInfoFacts {
  const { asn1 } = forge;
  const kids = (n: forge.asn1.Asn1) => n.value as forge.asn1.Asn1[];
  const ci = asn1.fromDer(firstDer(cms).toString('binary'));
  const sd = kids(kids(ci)[1]!)[0]!;
  const si = kids(kids(sd).at(-1)!)[0]!;
  const parts = kids(si);
  const algId = parts.at(-2)!;
  return {
    signatureAlgorithm: asn1.derToOid(kids(algId)[0]!.value as string),
    hasParameters: kids(algId).length > 1,
    signatureValue: Buffer.from(parts.at(-1)!.value as string, 'binary'),
  };
}

/** An ECDSA-Sig-Value: SEQUENCE { r INTEGER, s INTEGER } and nothing else. */
function isDerEcdsaSignature(sig: Buffer): boolean {
  try {
    const { asn1 } = forge;
    const n = asn1.fromDer(sig.toString('binary'));
    const v = n.value as forge.asn1.Asn1[];
    return (
      n.type === asn1.Type.SEQUENCE &&
      v.length === 2 &&
      v.every((i) => i.type === asn1.Type.INTEGER) &&
      Buffer.from(asn1.toDer(n).getBytes(), 'binary').equals(sig)
    );
  } catch {
    return false;
  }
}

/** The certificates in a CMS, from OpenSSL (`pkcs7 -print_certs`), as X509Certificate. */
function certificatesOf(cms: Buffer): X509Certificate[] {
  const pem = execFileSync('openssl', ['pkcs7', '-inform', 'DER', '-print_certs'], { input: firstDer(cms) }).toString();
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (p) => new X509Certificate(p)
  );
}

function signerCertificateOf(cms: Buffer, caPem: string): X509Certificate {
  const ca = new X509Certificate(caPem);
  const signer = certificatesOf(cms).find((c) => !c.raw.equals(ca.raw));
  if (!signer) throw new Error('no signer certificate in the CMS');
  return signer;
}

/** `openssl cms -verify` of a detached CMS over `content`, trusting only `caPem`: its exit status and message. */
function opensslVerify(content: Buffer, cms: Buffer, caPem: string): { ok: boolean; output: string } {
  const n = randomUUID();
  const files = { content: `content-${n}`, cms: `cms-${n}.der`, ca: `ca-${n}.pem` };
  fs.writeFileSync(path.join(dir, files.content), content);
  fs.writeFileSync(path.join(dir, files.cms), firstDer(cms));
  fs.writeFileSync(path.join(dir, files.ca), caPem);
  const r = spawnSync(
    'openssl',
    [
      'cms',
      '-verify',
      '-binary',
      '-inform',
      'DER',
      '-in',
      files.cms,
      '-content',
      files.content,
      '-CAfile',
      files.ca,
      '-purpose',
      'any',
      '-out',
      os.devNull,
    ],
    { cwd: dir, encoding: 'utf8' }
  );
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** The bytes a PAdES signature covers (its ByteRange) and the CMS in /Contents. */
function padesParts(pdf: Buffer): { signed: Buffer; cms: Buffer } {
  const pos = pdf.lastIndexOf('/ByteRange');
  const m = /^\/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]/.exec(
    pdf.subarray(pos, pos + 100).toString('latin1')
  );
  if (!m) throw new Error('no ByteRange');
  const [a, b, c, d] = m.slice(1, 5).map(Number) as [number, number, number, number];
  const hex = pdf.subarray(a + b + 1, c - 1).toString('latin1');
  return { signed: Buffer.concat([pdf.subarray(a, a + b), pdf.subarray(c, c + d)]), cms: Buffer.from(hex, 'hex') };
}

function flipByte(b: Buffer, at: number): Buffer {
  const copy = Buffer.from(b);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
}

/** A hand-made SignDocument (one CAdES request) with the given `Crypt`, straight to a SignatureService endpoint. */
async function rawSign(
  sim: RunningKonnektorSimulator,
  o: {
    path: string;
    namespace: string;
    crypt?: WireSignDocument['crypt'];
    cardHandle: string;
    userId: string;
    jobNumber: string;
  }
): Promise<{ status: number; body: string; cms?: Buffer }> {
  const pieces = signDocumentPieces({
    namespace: o.namespace,
    cardHandle: o.cardHandle,
    crypt: o.crypt,
    context: { ...CONTEXT, userId: o.userId },
    jobNumber: o.jobNumber,
    includeRevocationInfo: false,
    requests: [
      {
        requestId: 'r1',
        signatureType: CADES,
        shortText: 'Vertrag 1',
        mimeType: 'text/plain',
        document: Buffer.from('Vertrag 1'),
      },
    ],
  });
  const xml = pieces.map((p) => (typeof p === 'string' ? p : p.toString('base64'))).join('');
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = https.request(
      new URL(o.path, sim.url),
      {
        method: 'POST',
        ...credentialsTlsOptions(sim),
        headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: `"${o.namespace}#SignDocument"` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      }
    );
    req.on('error', reject);
    req.end(xml);
  });
  const b64 = /<dss:Base64Signature[^>]*>([^<]+)</.exec(body)?.[1];
  return { status, body, cms: b64 ? Buffer.from(b64, 'base64') : undefined };
}

describe('default simulator: a G2.1 eHBA signing with ECDSA on brainpoolP256r1', () => {
  let sim: RunningKonnektorSimulator;
  let client: ReturnType<typeof clientFor>;
  let cardHandle: string;
  let userId: string;
  beforeAll(async () => {
    sim = await startKonnektorSimulator({ adminPort: false });
    client = clientFor(sim);
    cardHandle = (await client.findHbaCard()).cardHandle;
    ({ userId } = await client.activateComfortSignature(cardHandle));
  });
  afterAll(async () => {
    client?.close();
    await sim?.close();
  });

  test('GetCards reports a G2.1 card (object system ≥ 4.4.0)', async () => {
    const card = await client.findHbaCard();
    expect(card.objectSystemVersion).toBe('4.5.0');
  });

  test('CAdES: ecdsa-with-SHA256 with a DER signature value, signer key on brainpoolP256r1; OpenSSL, signflow verify and VerifyDocument accept it and refuse a changed byte', async () => {
    const document = Buffer.from('Honorarvertrag 42: Gegenzeichnung der Praxis\n', 'latin1');
    const res = await client.signDocuments(cardHandle, userId, [
      { requestId: 'c1', document, mimeType: 'text/plain', shortText: 'Vertrag 42' },
    ]);
    expect(res.rejected).toEqual([]);
    const cms = res.results[0]!.signature;
    expect(res.results[0]!.variant).toBe('CAdES');

    const si = signerInfoOf(cms);
    expect(si.signatureAlgorithm).toBe(OID_ECDSA_SHA256);
    expect(si.hasParameters).toBe(false);
    expect(isDerEcdsaSignature(si.signatureValue)).toBe(true);

    const signer = signerCertificateOf(cms, sim.caPem);
    expect(signer.publicKey.asymmetricKeyType).toBe('ec');
    expect(signer.publicKey.asymmetricKeyDetails?.namedCurve).toBe('brainpoolP256r1');
    expect(signer.raw.includes(BRAINPOOL_P256R1_DER)).toBe(true);
    expect(signer.checkIssued(new X509Certificate(sim.caPem))).toBe(true);
    expect(signer.subject).toContain(`serialNumber=${sim.hbaIccsn}`);

    const good = opensslVerify(document, cms, sim.caPem);
    expect(good).toMatchObject({ ok: true });
    expect(good.output).toMatch(/Verification successful/);
    const tampered = flipByte(document, 3);
    expect(opensslVerify(tampered, cms, sim.caPem).ok).toBe(false);

    const anchors = parseTrustAnchors(sim.caPem);
    const mine = verifyDetachedCms(document, cms, anchors);
    expect(mine.valid).toBe(true);
    expect(mine.signer?.algorithm).toBe('ECDSA brainpoolP256r1 / SHA-256');
    expect(verifyDetachedCms(tampered, cms, anchors).valid).toBe(false);

    // The simulator's own VerifyDocument (cms.ts) over the wire.
    expect((await client.verifyDocument({ document, mimeType: 'text/plain', signature: cms })).highLevelResult).toBe(
      'VALID'
    );
    expect(
      (await client.verifyDocument({ document: tampered, mimeType: 'text/plain', signature: cms })).highLevelResult
    ).toBe('INVALID');
  });

  test('PAdES: the CMS in the PDF is ECDSA brainpoolP256r1; OpenSSL over the ByteRange, signflow verify and VerifyDocument accept it and refuse a changed byte', async () => {
    const pdf = await makePdf('Honorarvertrag 43');
    const res = await client.signDocuments(cardHandle, userId, [
      { requestId: 'p1', document: pdf, mimeType: 'application/pdf', shortText: 'Vertrag 43' },
    ]);
    const signedPdf = res.results[0]!.signature;
    expect(res.results[0]!.variant).toBe('PAdES');
    const { signed, cms } = padesParts(signedPdf);
    const si = signerInfoOf(cms);
    expect(si.signatureAlgorithm).toBe(OID_ECDSA_SHA256);
    expect(isDerEcdsaSignature(si.signatureValue)).toBe(true);
    expect(signerCertificateOf(cms, sim.caPem).publicKey.asymmetricKeyDetails?.namedCurve).toBe('brainpoolP256r1');

    expect(opensslVerify(signed, cms, sim.caPem).ok).toBe(true);
    // A byte of the signed range (in the original PDF's content) changed.
    const tamperedPdf = flipByte(signedPdf, 200);
    const tamperedParts = padesParts(tamperedPdf);
    expect(opensslVerify(tamperedParts.signed, tamperedParts.cms, sim.caPem).ok).toBe(false);

    const anchors = parseTrustAnchors(sim.caPem);
    const mine = verifyPadesPdf(signedPdf, anchors);
    expect(mine.valid).toBe(true);
    expect(mine.signer?.algorithm).toBe('ECDSA brainpoolP256r1 / SHA-256');
    expect(verifyPadesPdf(tamperedPdf, anchors).valid).toBe(false);

    expect((await client.verifyDocument({ document: signedPdf, mimeType: 'application/pdf' })).highLevelResult).toBe(
      'VALID'
    );
    expect((await client.verifyDocument({ document: tamperedPdf, mimeType: 'application/pdf' })).highLevelResult).toBe(
      'INVALID'
    );
  });

  test('SIG:Crypt on 7.5.5 decides the key as gemILF_PS says for a G2.1 card: RSA → RSA, ECC / RSA_ECC / absent → ECC', async () => {
    const expected = { RSA: OID_SHA256_RSA, ECC: OID_ECDSA_SHA256, RSA_ECC: OID_ECDSA_SHA256, none: OID_ECDSA_SHA256 };
    for (const [crypt, oid] of Object.entries(expected)) {
      const r = await rawSign(sim, {
        path: PATHS.sig75,
        namespace: NS75,
        crypt: crypt === 'none' ? undefined : (crypt as WireSignDocument['crypt']),
        cardHandle,
        userId,
        jobNumber: await client.getJobNumber(),
      });
      expect({ crypt, status: r.status }).toEqual({ crypt, status: 200 });
      expect({ crypt, oid: signerInfoOf(r.cms!).signatureAlgorithm }).toEqual({ crypt, oid });
      const signer = signerCertificateOf(r.cms!, sim.caPem);
      expect({ crypt, key: signer.publicKey.asymmetricKeyType }).toEqual({
        crypt,
        key: crypt === 'RSA' ? 'rsa' : 'ec',
      });
      expect(opensslVerify(Buffer.from('Vertrag 1'), r.cms!, sim.caPem).ok).toBe(true);
    }
  });

  test('SignatureService 7.4.0 (no Crypt in its schema): the G2.1 card signs with ECC', async () => {
    const r = await rawSign(sim, {
      path: PATHS.sig74,
      namespace: NS74,
      cardHandle,
      userId: randomUUID(),
      jobNumber: await client.getJobNumber(),
    });
    expect(r.status).toBe(200);
    expect(signerInfoOf(r.cms!).signatureAlgorithm).toBe(OID_ECDSA_SHA256);
  });
});

describe('RSA option: an eHBA with an RSA QES key only (hba.qesKey RSA)', () => {
  let sim: RunningKonnektorSimulator;
  let client: ReturnType<typeof clientFor>;
  beforeAll(async () => {
    sim = await startKonnektorSimulator({ adminPort: false, hba: { qesKey: 'RSA' } });
    client = clientFor(sim);
  });
  afterAll(async () => {
    client?.close();
    await sim?.close();
  });

  test('signs with sha256WithRSAEncryption (the client asks RSA_ECC), reports object system 4.3.0, refuses Crypt=ECC with 4000', async () => {
    const card = await client.findHbaCard();
    expect(card.objectSystemVersion).toBe('4.3.0');
    const { userId } = await client.activateComfortSignature(card.cardHandle);
    const document = Buffer.from('Honorarvertrag 44\n');
    const res = await client.signDocuments(card.cardHandle, userId, [
      { requestId: 'c1', document, mimeType: 'text/plain', shortText: 'Vertrag 44' },
    ]);
    const cms = res.results[0]!.signature;
    const si = signerInfoOf(cms);
    expect(si.signatureAlgorithm).toBe(OID_SHA256_RSA);
    expect(si.hasParameters).toBe(true);
    const signer = signerCertificateOf(cms, sim.caPem);
    expect(signer.publicKey.asymmetricKeyType).toBe('rsa');
    expect(opensslVerify(document, cms, sim.caPem).ok).toBe(true);
    expect(opensslVerify(flipByte(document, 0), cms, sim.caPem).ok).toBe(false);
    expect(verifyDetachedCms(document, cms, parseTrustAnchors(sim.caPem)).signer?.algorithm).toBe(
      'RSA 2048 PKCS#1 v1.5 / SHA-256'
    );

    const ecc = await rawSign(sim, {
      path: PATHS.sig75,
      namespace: NS75,
      crypt: 'ECC',
      cardHandle: card.cardHandle,
      userId,
      jobNumber: await client.getJobNumber(),
    });
    expect(ecc.status).toBe(500);
    expect(ecc.body).toMatch(/<GERROR:Code>4000<\/GERROR:Code>/);
    expect(ecc.body).toMatch(/ECC/);
  });
});

describe('choice of the QES key (gemILF_PS Tab_ILF_PS_Steuerung_Signaturalgorithmus)', () => {
  test.each([
    [['ECC', 'RSA'], undefined, 'ECC'],
    [['ECC', 'RSA'], 'ECC', 'ECC'],
    [['ECC', 'RSA'], 'RSA', 'RSA'],
    [['ECC', 'RSA'], 'RSA_ECC', 'ECC'],
    [['RSA'], undefined, 'RSA'],
    [['RSA'], 'RSA', 'RSA'],
    [['RSA'], 'RSA_ECC', 'RSA'],
  ] as const)('card %j, Crypt %s → %s', (keys, crypt, key) => {
    expect(qesKeyFor(keys, crypt)).toBe(key);
  });

  test('ECC of an RSA-only card and values outside the schema are refused', () => {
    expect(() => qesKeyFor(['RSA'], 'ECC')).toThrow(/ECC/);
    expect(() => qesKeyFor(['ECC', 'RSA'], 'DSA')).toThrow(/DSA/);
  });
});

describe('the simulator PKI', () => {
  test('a data folder from before the ECC key keeps its CA and server certificate and gets both eHBA certificates', () => {
    const o = { konnektorIccsn: '80276883110000117894', hbaIccsn: '80276001011699910102', hbaHolderName: 'Dr. Test' };
    const old = createPki(o);
    const folder = fs.mkdtempSync(path.join(dir, 'pki-'));
    for (const [f, kc] of [
      ['ca', old.ca],
      ['server', old.server],
      ['hba', old.hbaRsa],
    ] as const) {
      fs.writeFileSync(path.join(folder, `${f}.key.pem`), kc.keyPem);
      fs.writeFileSync(path.join(folder, `${f}.cert.pem`), kc.certPem);
    }
    const loaded = loadOrCreatePki(folder, o);
    expect(loaded.ca.certPem).toBe(old.ca.certPem);
    expect(loaded.server.certPem).toBe(old.server.certPem);
    const ecc = new X509Certificate(loaded.hba.certPem);
    expect(ecc.publicKey.asymmetricKeyDetails?.namedCurve).toBe('brainpoolP256r1');
    expect(ecc.verify(new X509Certificate(old.ca.certPem).publicKey)).toBe(true);
    expect(new X509Certificate(loaded.hbaRsa.certPem).publicKey.asymmetricKeyType).toBe('rsa');
    // Stored: the next start signs with the same keys.
    const again = loadOrCreatePki(folder, o);
    expect(again.hba).toEqual(loaded.hba);
    expect(again.hbaRsa).toEqual(loaded.hbaRsa);
  });
});
