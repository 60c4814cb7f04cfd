/**
 * Checks a qualified electronic signature the way a court's expert would, without the Konnektor: for a PAdES PDF the
 * ByteRange (it must cover the whole file except the signature value itself), the CMS SignedData inside it (message
 * digest over the signed bytes, the signature over the signed attributes), and the signer certificate's chain up to
 * one of the configured trust anchors (`SIGNFLOW_QES_TRUST_ANCHORS`). A detached CAdES signature is checked the same
 * way over the document it signs.
 *
 * RSA (PKCS#1 v1.5 and PSS) and ECDSA (any curve Node's OpenSSL knows, brainpoolP256r1 among them) are supported: the
 * eHBA's QES key is RSA on older cards and ECC on G2.1 cards. The ASN.1 is read with node-forge, the cryptography is
 * Node's own.
 */
import { createHash, createPublicKey, verify as cryptoVerify, X509Certificate, constants } from 'node:crypto';
import forge from 'node-forge';

const { asn1 } = forge;
type Node = forge.asn1.Asn1;

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaPss: '1.2.840.113549.1.1.10',
  ecPublicKey: '1.2.840.10045.2.1',
} as const;

/** Digest algorithms by OID: those a CMS may name, as Node calls them. */
const DIGESTS: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '1.3.14.3.2.26': 'sha1',
};

/** Signature algorithms that name their digest themselves. */
const SIGNATURE_ALGORITHMS: Record<string, { kind: 'rsa' | 'ecdsa'; digest: string }> = {
  '1.2.840.113549.1.1.11': { kind: 'rsa', digest: 'sha256' },
  '1.2.840.113549.1.1.12': { kind: 'rsa', digest: 'sha384' },
  '1.2.840.113549.1.1.13': { kind: 'rsa', digest: 'sha512' },
  '1.2.840.10045.4.3.2': { kind: 'ecdsa', digest: 'sha256' },
  '1.2.840.10045.4.3.3': { kind: 'ecdsa', digest: 'sha384' },
  '1.2.840.10045.4.3.4': { kind: 'ecdsa', digest: 'sha512' },
};

/** One check of the verification, in the order they are made; `ok: false` names what failed. */
export interface QesCheck {
  name: 'byte-range' | 'message-digest' | 'cms-signature' | 'certificate-chain';
  ok: boolean;
  detail: string;
}

export interface QesSignerDetails {
  subject: string;
  issuer: string;
  /** Hex, upper case, as certificate viewers show it. */
  serialNumber: string;
  /** The signed `signingTime` attribute, ISO; null when the CMS has none. */
  signingTime: string | null;
  /** e.g. `PAdES (ETSI.CAdES.detached)` or `CAdES (detached)`. */
  format: string;
  /** e.g. `ECDSA brainpoolP256r1 / SHA-256`, `RSA 2048 PKCS#1 v1.5 / SHA-256`. */
  algorithm: string;
  validFrom: string;
  validTo: string;
}

export interface QesVerification {
  valid: boolean;
  checks: QesCheck[];
  /** Present once the CMS could be read and the signer certificate found. */
  signer?: QesSignerDetails;
  /** The first failed check's detail, for a one-line answer. */
  reason?: string;
}

function children(n: Node | undefined): Node[] {
  return Array.isArray(n?.value) ? (n.value as Node[]) : [];
}

function bytesOf(n: Node | undefined): Buffer {
  return Buffer.from(typeof n?.value === 'string' ? n.value : '', 'binary');
}

function der(node: Node): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

function oidOf(n: Node | undefined): string {
  return typeof n?.value === 'string' ? asn1.derToOid(n.value) : '';
}

const CONTEXT = asn1.Class.CONTEXT_SPECIFIC;

/** Parses trust anchors from PEM text holding one certificate or more. */
export function parseTrustAnchors(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

interface ParsedCms {
  digestAlgorithm: string;
  signatureAlgorithmOid: string;
  signatureAlgorithmParams: Node | undefined;
  signedAttrs: Node | undefined;
  messageDigest: Buffer | undefined;
  signingTime: Date | undefined;
  signature: Buffer;
  certificates: X509Certificate[];
  /** issuerAndSerialNumber of the SignerInfo: serial in hex, upper case, no leading zeros. */
  signerSerial: string | undefined;
}

function normalSerial(hex: string): string {
  return hex.replace(/^(00)+(?=.)/, '').toUpperCase();
}

function parseCms(cms: Buffer): ParsedCms {
  // A PAdES /Contents is zero-padded after the DER; forge's options object (not in its typings) allows that.
  const fromDer = asn1.fromDer as unknown as (bytes: string, options: { parseAllBytes: boolean }) => Node;
  const ci = fromDer(cms.toString('binary'), { parseAllBytes: false });
  const [typeNode, content] = children(ci);
  if (oidOf(typeNode) !== OID.signedData) throw new Error('not a CMS SignedData');
  const sdParts = children(children(content)[0]);
  const certsNode = sdParts.find((p) => p.tagClass === CONTEXT && p.type === 0);
  const si = children(sdParts[sdParts.length - 1])[0];
  if (!si) throw new Error('the SignedData has no SignerInfo');
  const siParts = children(si);
  const sid = siParts[1];
  const signerSerial =
    sid && sid.tagClass === asn1.Class.UNIVERSAL ? normalSerial(bytesOf(children(sid)[1]).toString('hex')) : undefined;
  const digestOid = oidOf(children(siParts[2])[0]);
  const signedAttrs = siParts.find((p) => p.tagClass === CONTEXT && p.type === 0);
  // After the optional [0] signed attributes: signatureAlgorithm, then the signature value.
  const afterAttrs = siParts.slice(signedAttrs ? siParts.indexOf(signedAttrs) + 1 : 3);
  const [sigAlg, sigValue] = afterAttrs;
  let messageDigest: Buffer | undefined;
  let signingTime: Date | undefined;
  for (const attr of children(signedAttrs)) {
    const [t, values] = children(attr);
    const value = children(values)[0];
    const type = oidOf(t);
    if (type === OID.messageDigest) messageDigest = bytesOf(value);
    if (type === OID.signingTime && value) {
      signingTime =
        value.type === asn1.Type.UTCTIME
          ? asn1.utcTimeToDate(value.value as string)
          : asn1.generalizedTimeToDate(value.value as string);
    }
  }
  const certificates = children(certsNode)
    .filter((c) => c.tagClass === asn1.Class.UNIVERSAL)
    .map((c) => new X509Certificate(der(c)));
  return {
    digestAlgorithm: DIGESTS[digestOid] ?? `unknown digest ${digestOid}`,
    signatureAlgorithmOid: oidOf(children(sigAlg)[0]),
    signatureAlgorithmParams: children(sigAlg)[1],
    signedAttrs,
    messageDigest,
    signingTime,
    signature: bytesOf(sigValue),
    certificates,
    signerSerial,
  };
}

/** The hash of RSASSA-PSS parameters (RFC 4055: [0] hashAlgorithm, default SHA-1) and the salt length ([2], default 20). */
function pssParams(params: Node | undefined): { digest: string; saltLength: number } {
  let digest = 'sha1';
  let saltLength = 20;
  for (const p of children(params)) {
    if (p.tagClass !== CONTEXT) continue;
    if (p.type === 0) digest = DIGESTS[oidOf(children(children(p)[0])[0])] ?? digest;
    if (p.type === 2) saltLength = Number.parseInt(bytesOf(children(p)[0]).toString('hex') || '0', 16);
  }
  return { digest, saltLength };
}

function describeKey(cert: X509Certificate): string {
  const k = cert.publicKey;
  if (k.asymmetricKeyType === 'ec') return `ECDSA ${k.asymmetricKeyDetails?.namedCurve ?? 'unknown curve'}`;
  if (k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'rsa-pss') {
    return `RSA ${k.asymmetricKeyDetails?.modulusLength ?? '?'}`;
  }
  return String(k.asymmetricKeyType);
}

/** Verifies the CMS signature value over the signed attributes with one certificate's key; the algorithm text or null. */
function signatureVerifies(cms: ParsedCms, signedBytes: Buffer, cert: X509Certificate): string | null {
  const oid = cms.signatureAlgorithmOid;
  const key = createPublicKey(cert.publicKey.export({ type: 'spki', format: 'pem' }));
  const keyText = describeKey(cert);
  const upper = (d: string) => d.toUpperCase().replace('SHA', 'SHA-');
  try {
    if (oid === OID.rsaPss) {
      const { digest, saltLength } = pssParams(cms.signatureAlgorithmParams);
      const ok = cryptoVerify(
        digest,
        signedBytes,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength },
        cms.signature
      );
      return ok ? `${keyText} PSS / ${upper(digest)}` : null;
    }
    const named = SIGNATURE_ALGORITHMS[oid];
    if (named || oid === OID.rsaEncryption || oid === OID.ecPublicKey) {
      const digest = named?.digest ?? cms.digestAlgorithm;
      const ok = cryptoVerify(digest, signedBytes, key, cms.signature);
      const scheme = key.asymmetricKeyType === 'ec' ? '' : ' PKCS#1 v1.5';
      return ok ? `${keyText}${scheme} / ${upper(digest)}` : null;
    }
  } catch {
    return null;
  }
  return null;
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function validAt(cert: X509Certificate, at: Date): boolean {
  return at >= new Date(cert.validFrom) && at <= new Date(cert.validTo);
}

/**
 * Walks from the signer certificate through the embedded certificates to a trust anchor; every link's signature is
 * checked and every certificate must be valid at `at` (the signing time). Returns what failed, or undefined.
 */
function chainProblem(
  signer: X509Certificate,
  embedded: X509Certificate[],
  anchors: X509Certificate[],
  at: Date
): { problem?: string; path: string[] } {
  const path = [signer.subject];
  let current = signer;
  for (let depth = 0; depth < 10; depth++) {
    if (!validAt(current, at)) {
      return { problem: `certificate "${oneLine(current.subject)}" was not valid at ${at.toISOString()}`, path };
    }
    if (anchors.some((a) => a.raw.equals(current.raw))) return { path };
    const anchor = anchors.find((a) => issuedBy(current, a));
    if (anchor) {
      path.push(anchor.subject);
      return { path };
    }
    const next = embedded.find((c) => !c.raw.equals(current.raw) && issuedBy(current, c));
    if (!next) {
      return {
        problem: `the chain ends at "${oneLine(current.issuer)}", which is not among the ${anchors.length} trust anchor(s)`,
        path,
      };
    }
    path.push(next.subject);
    current = next;
  }
  return { problem: 'the certificate chain is longer than 10', path };
}

function oneLine(dn: string): string {
  return dn.split('\n').join(', ');
}

/**
 * Verifies a detached CMS (CAdES) over `content`. `format` names the container in the result. `checks` may already hold
 * the ByteRange check of a PDF.
 */
export function verifyDetachedCms(
  content: Buffer,
  cmsBytes: Buffer,
  anchors: X509Certificate[],
  format = 'CAdES (detached)',
  checks: QesCheck[] = []
): QesVerification {
  const fail = (): QesVerification => ({
    valid: false,
    checks,
    reason: checks.find((c) => !c.ok)?.detail,
  });
  let cms: ParsedCms;
  try {
    cms = parseCms(cmsBytes);
  } catch (err) {
    checks.push({
      name: 'cms-signature',
      ok: false,
      detail: `not a readable CMS signature: ${(err as Error).message}`,
    });
    return fail();
  }
  const digest = cms.digestAlgorithm.startsWith('unknown')
    ? undefined
    : createHash(cms.digestAlgorithm).update(content).digest();
  const digestOk = !!digest && !!cms.messageDigest && digest.equals(cms.messageDigest);
  checks.push({
    name: 'message-digest',
    ok: digestOk,
    detail: digestOk
      ? `the signed ${cms.digestAlgorithm.toUpperCase()} digest matches the signed bytes`
      : !cms.messageDigest
        ? 'the CMS has no signed messageDigest attribute'
        : `the signed ${cms.digestAlgorithm} digest does not match the signed bytes: the document was changed`,
  });
  if (!cms.signedAttrs) {
    checks.push({ name: 'cms-signature', ok: false, detail: 'the CMS has no signed attributes' });
    return fail();
  }
  // The signature covers the signed attributes encoded as a SET (tag 0x31), not as the [0] they are stored in.
  const attrsDer = der(cms.signedAttrs);
  attrsDer[0] = 0x31;
  const candidates = cms.signerSerial
    ? [
        ...cms.certificates.filter((c) => normalSerial(c.serialNumber) === cms.signerSerial),
        ...cms.certificates.filter((c) => normalSerial(c.serialNumber) !== cms.signerSerial),
      ]
    : cms.certificates;
  let signerCert: X509Certificate | undefined;
  let algorithm: string | null = null;
  for (const c of candidates) {
    algorithm = signatureVerifies(cms, attrsDer, c);
    if (algorithm) {
      signerCert = c;
      break;
    }
  }
  checks.push({
    name: 'cms-signature',
    ok: !!signerCert,
    detail: signerCert
      ? `the CMS signature (${algorithm}) verifies with the signer certificate`
      : `the CMS signature does not verify with any of the ${cms.certificates.length} embedded certificate(s)`,
  });
  if (!signerCert) return fail();
  const at = cms.signingTime ?? new Date();
  const chain = chainProblem(signerCert, cms.certificates, anchors, at);
  checks.push({
    name: 'certificate-chain',
    ok: !chain.problem,
    detail:
      anchors.length === 0
        ? 'no trust anchors configured (SIGNFLOW_QES_TRUST_ANCHORS)'
        : (chain.problem ?? `chain: ${chain.path.map(oneLine).join(' ← ')}`),
  });
  if (anchors.length === 0) checks[checks.length - 1]!.ok = false;
  const signer: QesSignerDetails = {
    subject: oneLine(signerCert.subject),
    issuer: oneLine(signerCert.issuer),
    serialNumber: normalSerial(signerCert.serialNumber),
    signingTime: cms.signingTime?.toISOString() ?? null,
    format,
    algorithm: algorithm ?? '',
    validFrom: new Date(signerCert.validFrom).toISOString(),
    validTo: new Date(signerCert.validTo).toISOString(),
  };
  const valid = checks.every((c) => c.ok);
  return { valid, checks, signer, ...(valid ? {} : { reason: checks.find((c) => !c.ok)?.detail }) };
}

/** The PDF's last signature dictionary's SubFilter, e.g. `ETSI.CAdES.detached`. */
function subFilterOf(pdf: Buffer, near: number): string {
  const window = pdf.subarray(Math.max(0, near - 4096), Math.min(pdf.length, near + 4096)).toString('latin1');
  return /\/SubFilter\s*\/([A-Za-z0-9.]+)/.exec(window)?.[1] ?? 'unknown';
}

/** True when the bytes look like a PDF that carries a signature (a `/ByteRange`). */
export function isSignedPdf(bytes: Buffer): boolean {
  return bytes.subarray(0, 5).toString('latin1') === '%PDF-' && bytes.lastIndexOf('/ByteRange') >= 0;
}

/**
 * Verifies the last signature of a PAdES PDF. The ByteRange must start at 0, leave out exactly the hex string of
 * `/Contents`, and end at the end of the file (nothing appended after signing).
 */
export function verifyPadesPdf(pdf: Buffer, anchors: X509Certificate[]): QesVerification {
  const checks: QesCheck[] = [];
  const pos = pdf.lastIndexOf('/ByteRange');
  const m =
    pos < 0
      ? null
      : /^\/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]/.exec(pdf.subarray(pos, pos + 120).toString('latin1'));
  if (!m) {
    checks.push({
      name: 'byte-range',
      ok: false,
      detail: pos < 0 ? 'the PDF has no signature' : 'ByteRange unreadable',
    });
    return { valid: false, checks, reason: checks[0]!.detail };
  }
  const [a, b, c, d] = m.slice(1, 5).map(Number) as [number, number, number, number];
  const gap = pdf.subarray(a + b, c).toString('latin1');
  const problem =
    a !== 0
      ? 'the signed range does not start at the beginning of the file'
      : c + d !== pdf.length
        ? `the signature covers ${c + d} of ${pdf.length} bytes: something was added after signing`
        : c <= a + b || !/^<[0-9a-fA-F]*>$/.test(gap)
          ? 'the unsigned gap is not exactly the signature value'
          : undefined;
  checks.push({
    name: 'byte-range',
    ok: !problem,
    detail: problem ?? `ByteRange [${a} ${b} ${c} ${d}] covers the whole file except the signature value`,
  });
  if (problem) return { valid: false, checks, reason: problem };
  const signed = Buffer.concat([pdf.subarray(a, a + b), pdf.subarray(c, c + d)]);
  const cms = Buffer.from(gap.slice(1, -1), 'hex');
  return verifyDetachedCms(signed, cms, anchors, `PAdES (${subFilterOf(pdf, pos)})`, checks);
}
