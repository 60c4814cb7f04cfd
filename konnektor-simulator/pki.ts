/**
 * The simulator's own test PKI, made with node-forge at first start and kept under its data folder:
 * - a CA ("Konnektor-Simulator CA"; stands in for GEM.KOMP-CA and the HBA-qCA);
 * - the Konnektor's server certificate, named like a real one: CN = ICCSN of its gSMC-K plus issue date, SAN
 *   `konnektor.konlan`, NOT the host it runs on (clients must check it explicitly);
 * - the eHBA's QES certificate and key (nonRepudiation), used for real CMS signatures;
 * - the client-system certificate, exported as a ZIP with a .p12 and a password file, the way the management UI does.
 * RSA keys come from Node's crypto (fast); forge builds the certificates and the PKCS#12.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
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
  hba: KeyAndCert;
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
  const hbaPair = newKeyPair();
  const hbaCert = issue(hbaPair, {
    subject: [
      { name: 'commonName', value: o.hbaHolderName },
      { type: '2.5.4.5', value: o.hbaIccsn },
      { name: 'countryName', value: 'DE' },
    ],
    issuer,
    years: o.hbaValidityYears ?? 5,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', nonRepudiation: true, critical: true },
    ],
  });
  const server = toPair(serverCert, serverPair.privateKey);
  return {
    ca: toPair(caCert, caPair.privateKey),
    server,
    hba: toPair(hbaCert, hbaPair.privateKey),
    serverFingerprint: fingerprintOf(server.certPem),
  };
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

const FILES = ['ca', 'server', 'hba'] as const;

/** Loads the PKI from `dir` or creates and stores it there (first start). `dir` undefined: in memory only. */
export function loadOrCreatePki(dir: string | undefined, o: PkiOptions): SimulatorPki {
  if (dir) {
    const complete = FILES.every(
      (f) => fs.existsSync(path.join(dir, `${f}.key.pem`)) && fs.existsSync(path.join(dir, `${f}.cert.pem`))
    );
    if (complete) {
      const read = (f: string): KeyAndCert => ({
        keyPem: fs.readFileSync(path.join(dir, `${f}.key.pem`), 'utf8'),
        certPem: fs.readFileSync(path.join(dir, `${f}.cert.pem`), 'utf8'),
      });
      const server = read('server');
      return { ca: read('ca'), server, hba: read('hba'), serverFingerprint: fingerprintOf(server.certPem) };
    }
  }
  const pki = createPki(o);
  if (dir) {
    fs.mkdirSync(dir, { recursive: true });
    for (const f of FILES) {
      fs.writeFileSync(path.join(dir, `${f}.key.pem`), pki[f].keyPem, { mode: 0o600 });
      fs.writeFileSync(path.join(dir, `${f}.cert.pem`), pki[f].certPem);
    }
  }
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
