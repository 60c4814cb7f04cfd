/**
 * Real signatures with the simulated eHBA's test key, so that VerifyDocument (and anyone with the CA) checks something:
 * - CAdES-BES detached (CMS SignedData, RFC 5652) with contentType, signingTime, messageDigest and the ESS
 *   signing-certificate-v2 attribute that CAdES requires;
 * - PAdES (ETSI.CAdES.detached inside the PDF) through @signpdf with the same CMS.
 * The signature algorithm follows the eHBA key in `CmsSigner.hba`: ecdsa-with-SHA256 for an EC key (a G2.1 eHBA's
 * brainpoolP256r1 key; the value is the DER `ECDSA-Sig-Value`, RFC 5753/5758), sha256WithRSAEncryption for an RSA key.
 * The ASN.1 is built with node-forge; the key operation uses Node's crypto (forge has no ECDSA, and its pure-JS RSA is
 * 50× slower, which matters for batches of 250).
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { plainAddPlaceholder } from '@signpdf/placeholder-plain';
import signpdf from '@signpdf/signpdf';
import { Signer, SUBFILTER_ETSI_CADES_DETACHED } from '@signpdf/utils';
import type { KeyAndCert } from './pki';

const { asn1 } = forge;
const U = asn1.Class.UNIVERSAL;
const CTX = asn1.Class.CONTEXT_SPECIFIC;
const T = asn1.Type;

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  sha256: '2.16.840.1.101.3.4.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
};

function oid(o: string): forge.asn1.Asn1 {
  return asn1.create(U, T.OID, false, asn1.oidToDer(o).getBytes());
}

function seq(v: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return asn1.create(U, T.SEQUENCE, true, v);
}

function set(v: forge.asn1.Asn1[]): forge.asn1.Asn1 {
  return asn1.create(U, T.SET, true, v);
}

function octets(b: Buffer): forge.asn1.Asn1 {
  return asn1.create(U, T.OCTETSTRING, false, b.toString('binary'));
}

function der(node: forge.asn1.Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

function attribute(type: string, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  return seq([oid(type), set([value])]);
}

export interface CmsSigner {
  hba: KeyAndCert;
  /** Further certificates to embed (the issuing CA). */
  chainPem?: string[];
}

/** CAdES-BES detached signature over `content`. */
export function signDetached(content: Buffer, signer: CmsSigner, signingTime: Date): Buffer {
  const certAsn1 = asn1.fromDer(Buffer.from(new X509Certificate(signer.hba.certPem).raw).toString('binary'));
  const tbs = certAsn1.value[0] as forge.asn1.Asn1;
  const tbsParts = tbs.value as forge.asn1.Asn1[];
  // tbsCertificate: [0] version (absent in a v1 certificate), serialNumber, signature, issuer, …
  const first = tbsParts[0]!.tagClass === CTX && tbsParts[0]!.type === 0 ? 1 : 0;
  const serialNode = tbsParts[first]!;
  const issuerNode = tbsParts[first + 2]!;
  const certDer = der(certAsn1);
  const attrs = [
    attribute(OID.contentType, oid(OID.data)),
    attribute(OID.signingTime, asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(signingTime))),
    attribute(OID.messageDigest, octets(createHash('sha256').update(content).digest())),
    // ESSCertIDv2 with the default hash algorithm (SHA-256), hence no AlgorithmIdentifier.
    attribute(OID.signingCertificateV2, seq([seq([seq([octets(createHash('sha256').update(certDer).digest())])])])),
  ];
  // DER: a SET OF is sorted by the encodings of its elements.
  const sorted = attrs.map((a) => ({ node: a, bytes: der(a) })).sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  const signedAttrsSet = der(set(sorted.map((s) => s.node)));
  const ec = createPrivateKey(signer.hba.keyPem).asymmetricKeyType === 'ec';
  // Node signs ECDSA as DER (dsaEncoding 'der' by default), the encoding CMS requires.
  const signature = sign('sha256', signedAttrsSet, signer.hba.keyPem);
  // RFC 5758: ecdsa-with-SHA256 has no parameters; RFC 4055: sha256WithRSAEncryption has NULL.
  const signatureAlgorithm = ec
    ? seq([oid(OID.ecdsaWithSHA256)])
    : seq([oid(OID.sha256WithRSA), asn1.create(U, T.NULL, false, '')]);
  const signerInfo = seq([
    asn1.create(U, T.INTEGER, false, asn1.integerToDer(1).getBytes()),
    seq([issuerNode, serialNode]),
    seq([oid(OID.sha256)]),
    asn1.create(
      CTX,
      0,
      true,
      sorted.map((s) => s.node)
    ),
    signatureAlgorithm,
    octets(signature),
  ]);
  const certs = [
    certAsn1,
    ...(signer.chainPem ?? []).map((p) => asn1.fromDer(Buffer.from(new X509Certificate(p).raw).toString('binary'))),
  ];
  const signedData = seq([
    asn1.create(U, T.INTEGER, false, asn1.integerToDer(1).getBytes()),
    set([seq([oid(OID.sha256)])]),
    seq([oid(OID.data)]),
    asn1.create(CTX, 0, true, certs),
    set([signerInfo]),
  ]);
  return der(seq([oid(OID.signedData), asn1.create(CTX, 0, true, [signedData])]));
}

export interface CmsVerification {
  valid: boolean;
  reason?: string;
  signerSubject?: string;
  signingTime?: Date;
}

function children(n: forge.asn1.Asn1 | undefined): forge.asn1.Asn1[] {
  return Array.isArray(n?.value) ? (n!.value as forge.asn1.Asn1[]) : [];
}

function bytesOf(n: forge.asn1.Asn1 | undefined): Buffer {
  return Buffer.from(typeof n?.value === 'string' ? n.value : '', 'binary');
}

/**
 * Checks a detached CMS over `content`: message digest, the signature (RSA or ECDSA, by the certificate's key) over the
 * signed attributes, and that the
 * signer certificate was issued by `caPem` and was valid at `at`.
 */
export function verifyDetached(content: Buffer, cms: Buffer, caPem: string, at: Date): CmsVerification {
  try {
    // A PAdES /Contents is zero-padded after the DER; forge's options object (not in its typings) allows that.
    const fromDer = asn1.fromDer as unknown as (bytes: string, options: { parseAllBytes: boolean }) => forge.asn1.Asn1;
    const ci = fromDer(cms.toString('binary'), { parseAllBytes: false });
    const ciParts = children(ci);
    if (asn1.derToOid(ciParts[0]!.value as string) !== OID.signedData)
      return { valid: false, reason: 'not a SignedData' };
    const sd = children(ciParts[1])[0];
    const sdParts = children(sd);
    const certsNode = sdParts.find((p) => p.tagClass === CTX && p.type === 0);
    const signerInfos = sdParts[sdParts.length - 1];
    const si = children(signerInfos)[0];
    if (!si) return { valid: false, reason: 'no SignerInfo' };
    const siParts = children(si);
    const signedAttrs = siParts.find((p) => p.tagClass === CTX && p.type === 0);
    const signature = bytesOf(siParts[siParts.length - 1]);
    if (!signedAttrs) return { valid: false, reason: 'no signed attributes' };
    let digest: Buffer | undefined;
    let signingTime: Date | undefined;
    for (const attr of children(signedAttrs)) {
      const [typeNode, values] = children(attr);
      const type = asn1.derToOid(typeNode!.value as string);
      const value = children(values)[0];
      if (type === OID.messageDigest) digest = bytesOf(value);
      if (type === OID.signingTime && value) signingTime = asn1.utcTimeToDate(value.value as string);
    }
    if (!digest || !digest.equals(createHash('sha256').update(content).digest())) {
      return { valid: false, reason: 'message digest does not match the document' };
    }
    // The signature covers the signed attributes encoded as a SET (tag 0x31), not as the [0] they are stored in.
    const attrsDer = der(signedAttrs);
    attrsDer[0] = 0x31;
    const certs = children(certsNode).map((c) => new X509Certificate(der(c)));
    const ca = new X509Certificate(caPem);
    const signerCert = certs.find((c) => {
      try {
        return verify(
          'sha256',
          attrsDer,
          createPublicKey(c.publicKey.export({ type: 'spki', format: 'pem' })),
          signature
        );
      } catch {
        return false;
      }
    });
    if (!signerCert)
      return { valid: false, reason: 'signature does not verify with any embedded certificate', signingTime };
    if (!signerCert.verify(ca.publicKey) || signerCert.issuer !== ca.subject) {
      return {
        valid: false,
        reason: 'signer certificate not issued by the trusted CA',
        signerSubject: signerCert.subject,
        signingTime,
      };
    }
    if (at < new Date(signerCert.validFrom) || at > new Date(signerCert.validTo)) {
      return {
        valid: false,
        reason: 'signer certificate not valid at verification time',
        signerSubject: signerCert.subject,
        signingTime,
      };
    }
    return { valid: true, signerSubject: signerCert.subject, signingTime };
  } catch (err) {
    return { valid: false, reason: `not a CMS signature: ${(err as Error).message}` };
  }
}

class ForgeCmsSigner extends Signer {
  constructor(
    private readonly signer: CmsSigner,
    private readonly time: Date
  ) {
    super();
  }

  override async sign(pdfBuffer: Buffer): Promise<Buffer> {
    return signDetached(pdfBuffer, this.signer, this.time);
  }
}

/** PAdES: puts a CAdES-detached signature into the PDF (incremental update). Throws when the PDF cannot be parsed. */
export async function signPdf(pdf: Buffer, signer: CmsSigner, signingTime: Date, name: string): Promise<Buffer> {
  const withPlaceholder = plainAddPlaceholder({
    pdfBuffer: pdf,
    reason: 'Qualifizierte elektronische Signatur',
    contactInfo: '',
    name,
    location: '',
    signingTime,
    signatureLength: 16384,
    subFilter: SUBFILTER_ETSI_CADES_DETACHED,
    // Written as a PDF name (/Prop_Build /App /Name): a space would end the name and leave a stray token, which
    // poppler reports as "Syntax Error: Dictionary key must be a name object".
    appName: 'signflow-Konnektor-Simulator',
  });
  return signpdf.sign(withPlaceholder, new ForgeCmsSigner(signer, signingTime), signingTime);
}

/** Verifies the (last) signature in a PAdES PDF. */
export function verifyPdf(pdf: Buffer, caPem: string, at: Date): CmsVerification {
  const pos = pdf.lastIndexOf('/ByteRange [');
  if (pos < 0) return { valid: false, reason: 'PDF has no signature' };
  const end = pdf.indexOf(']', pos);
  const m = /\/ByteRange \[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]/.exec(pdf.subarray(pos, end + 1).toString('latin1'));
  if (!m) return { valid: false, reason: 'ByteRange unreadable' };
  const [a, b, c, d] = m.slice(1, 5).map(Number) as [number, number, number, number];
  if (c + d !== pdf.length) return { valid: false, reason: 'signature does not cover the whole document' };
  const signed = Buffer.concat([pdf.subarray(a, a + b), pdf.subarray(c, c + d)]);
  const hex = pdf.subarray(a + b + 1, c - 1).toString('latin1');
  return verifyDetached(signed, Buffer.from(hex, 'hex'), caPem, at);
}
