/**
 * The simulator's own test PKI, made with node-forge at first start and kept under its data folder:
 * - a CA ("Konnektor-Simulator CA"; stands in for GEM.KOMP-CA and the HBA-qCA);
 * - the Konnektor's server certificate, named like a real one: CN = ICCSN of its gSMC-K plus issue date, SAN
 *   `konnektor.konlan`, NOT the host it runs on (clients must check it explicitly);
 * - the eHBA's two QES certificates and keys (nonRepudiation), used for real CMS signatures, as a G2.1 eHBA carries
 *   them: C.HP.QES on brainpoolP256r1 (ECDSA, the card's default) and C.HP.QES with RSA-2048;
 * - the client-system certificate, exported as a ZIP with a .p12 and a password file, the way the management UI does.
 * Keys come from Node's crypto (fast); forge builds the RSA certificates and the PKCS#12. forge cannot put an EC key
 * into a certificate, so the ECC certificate's TBSCertificate is built with forge's ASN.1 and signed with Node's crypto.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import AdmZip from 'adm-zip';
import forge from 'node-forge';
import { buildLegacyP12 } from './legacy-p12';

export interface KeyAndCert {
  keyPem: string;
  certPem: string;
}

export interface SimulatorPki {
  ca: KeyAndCert;
  server: KeyAndCert;
  /** The eHBA's ECC QES key and certificate (brainpoolP256r1, ecdsa-with-SHA256): what a G2.1 eHBA signs with. */
  hba: KeyAndCert;
  /** The eHBA's RSA-2048 QES key and certificate (sha256WithRSAEncryption): on request (`Crypt=RSA`) or older cards. */
  hbaRsa: KeyAndCert;
  /** SHA-256 of the server certificate, `AA:BB:…` as a management UI shows it. */
  serverFingerprint: string;
}

export interface ClientBundle {
  clientSystemId: string;
  p12: Buffer;
  password: string;
  zip: Buffer;
  certPem: string;
}

export type P12Format = 'legacy' | 'modern';

function newKeyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey: forge.pki.privateKeyFromPem(
      privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()
    ) as forge.pki.rsa.PrivateKey,
    publicKey: forge.pki.publicKeyFromPem(
      publicKey.export({ type: 'spki', format: 'pem' }).toString()
    ) as forge.pki.rsa.PublicKey,
  };
}

function serial(): string {
  // Positive (high bit clear) 16-byte serial.
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

interface IssueOptions {
  subject: forge.pki.CertificateField[];
  issuer?: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey };
  years: number;
  extensions: object[];
  notBefore?: Date;
}

function issue(pair: ReturnType<typeof newKeyPair>, o: IssueOptions): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = pair.publicKey;
  cert.serialNumber = serial();
  const nb = o.notBefore ?? new Date(Date.now() - 24 * 3600_000);
  cert.validity.notBefore = nb;
  cert.validity.notAfter = new Date(nb.getTime() + o.years * 365 * 24 * 3600_000);
  cert.setSubject(o.subject);
  cert.setIssuer(o.issuer ? o.issuer.cert.subject.attributes : o.subject);
  cert.setExtensions([...o.extensions, { name: 'subjectKeyIdentifier' }]);
  cert.sign(o.issuer?.key ?? pair.privateKey, forge.md.sha256.create());
  return cert;
}

const { asn1 } = forge;
const U = asn1.Class.UNIVERSAL;

/** The curve of a G2.1 eHBA's ECC keys (gemSpec_COS / gemSpec_Krypt). */
export const HBA_CURVE = 'brainpoolP256r1';

const SIGNATURE_ALGORITHM_OID = {
  sha256WithRSA: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
};

function derOf(node: forge.asn1.Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

/** RFC 5280: UTCTime up to 2049, GeneralizedTime from 2050. */
function timeOf(d: Date): forge.asn1.Asn1 {
  return d.getUTCFullYear() < 2050
    ? asn1.create(U, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(d))
    : asn1.create(U, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

/** AlgorithmIdentifier of a SHA-256 signature by `keyPem`'s kind: RSA with NULL parameters, ECDSA without (RFC 5758). */
function signatureAlgorithmOf(keyPem: string): forge.asn1.Asn1 {
  const ec = createPrivateKey(keyPem).asymmetricKeyType === 'ec';
  const oid = asn1.create(
    U,
    asn1.Type.OID,
    false,
    asn1.oidToDer(ec ? SIGNATURE_ALGORITHM_OID.ecdsaWithSHA256 : SIGNATURE_ALGORITHM_OID.sha256WithRSA).getBytes()
  );
  return asn1.create(U, asn1.Type.SEQUENCE, true, ec ? [oid] : [oid, asn1.create(U, asn1.Type.NULL, false, '')]);
}

interface EcIssueOptions {
  subject: forge.pki.CertificateField[];
  issuer: KeyAndCert;
  years: number;
  extensions: object[];
}

/**
 * An end-entity certificate for a new EC key on `HBA_CURVE`, issued by `o.issuer` (RSA or EC). The subject public key
 * is Node's SPKI encoding (id-ecPublicKey with the named curve's OID, 1.3.36.3.3.2.8.1.1.7 for brainpoolP256r1).
 */
function issueEc(o: EcIssueOptions): KeyAndCert {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: HBA_CURVE });
  // The EC point stays a plain BIT STRING (forge would otherwise try to read it as nested ASN.1).
  const fromDer = asn1.fromDer as unknown as (bytes: string, o: { decodeBitStrings: boolean }) => forge.asn1.Asn1;
  const spki = fromDer(publicKey.export({ type: 'spki', format: 'der' }).toString('binary'), {
    decodeBitStrings: false,
  });
  // RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's value (without the unused-bits octet).
  const point = Buffer.from(((spki.value as forge.asn1.Asn1[])[1]!.value as string).slice(1), 'binary');
  const ski = createHash('sha1').update(point).digest();
  const issuerCert = forge.pki.certificateFromPem(o.issuer.certPem);
  // A forge certificate object only to encode the names and extensions the same way as the RSA certificates.
  const names = forge.pki.createCertificate();
  names.setSubject(o.subject);
  names.setIssuer(issuerCert.subject.attributes);
  names.setExtensions([
    ...o.extensions,
    {
      name: 'subjectKeyIdentifier',
      value: asn1.create(U, asn1.Type.OCTETSTRING, false, ski.toString('binary')),
    },
  ]);
  const extensionsToAsn1 = (forge.pki as unknown as { certificateExtensionsToAsn1(e: unknown[]): forge.asn1.Asn1 })
    .certificateExtensionsToAsn1;
  const notBefore = new Date(Date.now() - 24 * 3600_000);
  const notAfter = new Date(notBefore.getTime() + o.years * 365 * 24 * 3600_000);
  const sigAlg = signatureAlgorithmOf(o.issuer.keyPem);
  const tbs = asn1.create(U, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
      asn1.create(U, asn1.Type.INTEGER, false, asn1.integerToDer(2).getBytes()),
    ]),
    asn1.create(U, asn1.Type.INTEGER, false, forge.util.hexToBytes(serial())),
    sigAlg,
    forge.pki.distinguishedNameToAsn1(names.issuer),
    asn1.create(U, asn1.Type.SEQUENCE, true, [timeOf(notBefore), timeOf(notAfter)]),
    forge.pki.distinguishedNameToAsn1(names.subject),
    spki,
    extensionsToAsn1(names.extensions as unknown[]),
  ]);
  // Node's crypto signs with the issuer's key: PKCS#1 v1.5 for RSA, DER-encoded ECDSA for EC.
  const signature = sign('sha256', derOf(tbs), o.issuer.keyPem);
  const cert = asn1.create(U, asn1.Type.SEQUENCE, true, [
    tbs,
    signatureAlgorithmOf(o.issuer.keyPem),
    asn1.create(U, asn1.Type.BITSTRING, false, `\x00${signature.toString('binary')}`),
  ]);
  const b64 = derOf(cert).toString('base64');
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certPem: `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`,
  };
}

function toPair(cert: forge.pki.Certificate, key: forge.pki.rsa.PrivateKey): KeyAndCert {
  return { keyPem: forge.pki.privateKeyToPem(key), certPem: forge.pki.certificateToPem(cert) };
}

export function fingerprintOf(certPem: string): string {
  const der = Buffer.from(
    forge.asn1.toDer(forge.pki.certificateToAsn1(forge.pki.certificateFromPem(certPem))).getBytes(),
    'binary'
  );
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

export interface PkiOptions {
  /** ICCSN of the simulated gSMC-K, the CN of the server certificate. */
  konnektorIccsn: string;
  hbaHolderName: string;
  hbaIccsn: string;
  /** Years until the eHBA's QES certificate expires. @default 5 */
  hbaValidityYears?: number;
}

export function createPki(o: PkiOptions): SimulatorPki {
  const caPair = newKeyPair();
  const caSubject = [
    { name: 'commonName', value: 'Konnektor-Simulator CA - NICHT PRODUKTIV' },
    { name: 'organizationName', value: 'signflow' },
    { name: 'countryName', value: 'DE' },
  ];
  const caCert = issue(caPair, {
    subject: caSubject,
    years: 20,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const issuer = { cert: caCert, key: caPair.privateKey };
  const serverPair = newKeyPair();
  const issued = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  const serverCert = issue(serverPair, {
    subject: [{ name: 'commonName', value: `${o.konnektorIccsn}-${issued}` }],
    issuer,
    years: 5,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'konnektor.konlan' }] },
    ],
  });
  const server = toPair(serverCert, serverPair.privateKey);
  const ca = toPair(caCert, caPair.privateKey);
  return {
    ca,
    server,
    hba: issueHbaQes(ca, o, 'ECC'),
    hbaRsa: issueHbaQes(ca, o, 'RSA'),
    serverFingerprint: fingerprintOf(server.certPem),
  };
}

export type HbaKeyAlgorithm = 'ECC' | 'RSA';

/** One of the eHBA's QES certificates (holder name, ICCSN as serialNumber, nonRepudiation only). */
function issueHbaQes(ca: KeyAndCert, o: PkiOptions, algorithm: HbaKeyAlgorithm): KeyAndCert {
  const subject = [
    { name: 'commonName', value: o.hbaHolderName },
    { type: '2.5.4.5', value: o.hbaIccsn },
    { name: 'countryName', value: 'DE' },
  ];
  const extensions = [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', nonRepudiation: true, critical: true },
  ];
  const years = o.hbaValidityYears ?? 5;
  if (algorithm === 'ECC') return issueEc({ subject, issuer: ca, years, extensions });
  const pair = newKeyPair();
  const issuer = {
    cert: forge.pki.certificateFromPem(ca.certPem),
    key: forge.pki.privateKeyFromPem(ca.keyPem) as forge.pki.rsa.PrivateKey,
  };
  return toPair(issue(pair, { subject, issuer, years, extensions }), pair.privateKey);
}

/** Issues a client-system certificate (CN = client system id) and packs it like a Konnektor export. */
export function issueClientBundle(ca: KeyAndCert, clientSystemId: string, format: P12Format): ClientBundle {
  const pair = newKeyPair();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem) as forge.pki.rsa.PrivateKey;
  const cert = issue(pair, {
    subject: [
      { name: 'commonName', value: clientSystemId },
      { name: 'organizationName', value: 'Clientsystem' },
    ],
    issuer: { cert: caCert, key: caKey },
    years: 5,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
  const password = randomBytes(9).toString('base64url');
  const p12 =
    format === 'legacy'
      ? buildLegacyP12(pair.privateKey, [cert, caCert], password)
      : Buffer.from(
          forge.asn1
            .toDer(forge.pkcs12.toPkcs12Asn1(pair.privateKey, [cert, caCert], password, { algorithm: 'aes256' }))
            .getBytes(),
          'binary'
        );
  const zip = new AdmZip();
  zip.addFile(`${clientSystemId}.p12`, p12);
  zip.addFile(`${clientSystemId}_Passwort.txt`, Buffer.from(`${password}\n`, 'utf8'));
  return { clientSystemId, p12, password, zip: zip.toBuffer(), certPem: forge.pki.certificateToPem(cert) };
}

/** File name stem of each part of the PKI in the data folder. */
const FILES = { ca: 'ca', server: 'server', hba: 'hba-ecc', hbaRsa: 'hba-rsa' } as const;
type PkiPart = keyof typeof FILES;

/**
 * Loads the PKI from `dir` or creates and stores it there (first start). `dir` undefined: in memory only. A folder from
 * before the eHBA had two keys (CA and server, one `hba.*`) keeps its CA, server and client certificates: only the
 * missing eHBA certificates are issued from the stored CA.
 */
export function loadOrCreatePki(dir: string | undefined, o: PkiOptions): SimulatorPki {
  const has = (part: PkiPart) =>
    !!dir &&
    fs.existsSync(path.join(dir, `${FILES[part]}.key.pem`)) &&
    fs.existsSync(path.join(dir, `${FILES[part]}.cert.pem`));
  const read = (part: PkiPart): KeyAndCert => ({
    keyPem: fs.readFileSync(path.join(dir!, `${FILES[part]}.key.pem`), 'utf8'),
    certPem: fs.readFileSync(path.join(dir!, `${FILES[part]}.cert.pem`), 'utf8'),
  });
  const write = (part: PkiPart, kc: KeyAndCert) => {
    if (!dir) return;
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${FILES[part]}.key.pem`), kc.keyPem, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, `${FILES[part]}.cert.pem`), kc.certPem);
  };
  if (has('ca') && has('server')) {
    const ca = read('ca');
    const server = read('server');
    const hbaOf = (part: 'hba' | 'hbaRsa', algorithm: HbaKeyAlgorithm): KeyAndCert => {
      if (has(part)) return read(part);
      const kc = issueHbaQes(ca, o, algorithm);
      write(part, kc);
      return kc;
    };
    return {
      ca,
      server,
      hba: hbaOf('hba', 'ECC'),
      hbaRsa: hbaOf('hbaRsa', 'RSA'),
      serverFingerprint: fingerprintOf(server.certPem),
    };
  }
  const pki = createPki(o);
  for (const part of Object.keys(FILES) as PkiPart[]) write(part, pki[part]);
  return pki;
}

/** Loads the client bundle of `clientSystemId` from `dir` or issues and stores it. */
export function loadOrIssueClientBundle(
  dir: string | undefined,
  ca: KeyAndCert,
  clientSystemId: string,
  format: P12Format
): ClientBundle {
  const file = dir ? path.join(dir, `client-${clientSystemId}-${format}.zip`) : undefined;
  if (file && fs.existsSync(file)) {
    const zipBuf = fs.readFileSync(file);
    const zip = new AdmZip(zipBuf);
    const p12 = zip.getEntry(`${clientSystemId}.p12`)?.getData();
    const password = zip.getEntry(`${clientSystemId}_Passwort.txt`)?.getData().toString('utf8').trim();
    const certPem = dir ? fs.readFileSync(path.join(dir, `client-${clientSystemId}-${format}.cert.pem`), 'utf8') : '';
    if (p12 && password && certPem) return { clientSystemId, p12, password, zip: zipBuf, certPem };
  }
  const bundle = issueClientBundle(ca, clientSystemId, format);
  if (file && dir) {
    fs.writeFileSync(file, bundle.zip, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, `client-${clientSystemId}-${format}.cert.pem`), bundle.certPem);
  }
  return bundle;
}
