/**
 * The client-system certificate signflow presents to the Konnektor (SOAP1: TLS with client certificate).
 *
 * The Konnektor's management UI exports it as a ZIP holding a PKCS#12 file and its password; admins may also hand over
 * the .p12 and the password separately. Older exports use 40-bit RC2 / 3DES PBE, which Node's OpenSSL 3 refuses
 * ("Unsupported PKCS12 PFX data"): those are decoded with node-forge (pure JS) and handed to TLS as PEM key + cert.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import AdmZip from 'adm-zip';
import forge from 'node-forge';
import { KonnektorError, KonnektorFailureType } from '../../domain/konnektor-errors';

/**
 * TLS client credentials: the PKCS#12 itself when OpenSSL reads it (RSA or ECC), PEM key + certificate decoded by
 * node-forge when it does not (legacy RSA exports).
 */
export type ClientCredentials = (
  | { kind: 'pfx'; pfx: Buffer; passphrase: string }
  | {
      kind: 'pem';
      keyPem: string;
      certPem: string;
      /** Further certificates from the .p12 (issuer chain), PEM. */
      chainPem: string[];
    }
) & {
  /** Names the certificate for people: subject, serial, validity and where it came from (never the password). */
  label?: string;
};

/** The options `tls.connect` needs for these credentials. */
export function tlsOptionsOf(credentials: ClientCredentials): tls.ConnectionOptions {
  return credentials.kind === 'pfx'
    ? { pfx: credentials.pfx, passphrase: credentials.passphrase }
    : { key: credentials.keyPem, cert: [credentials.certPem, ...credentials.chainPem].join('\n') };
}

export interface P12Bundle {
  p12: Buffer;
  password: string;
  /** Name of the .p12 entry inside the ZIP. */
  entryName: string;
}

function configError(message: string, cause?: unknown): KonnektorError {
  return new KonnektorError(
    message,
    { failureType: KonnektorFailureType.KONNEKTOR_CLIENT_AUTH_FAILED, faultClass: 'needs-person' },
    { cause }
  );
}

const PASSWORD_NAME = /(pass|pwd|pin|kennwort|secret)/i;

/**
 * Finds the .p12/.pfx and its password inside the ZIP the Konnektor exports. The password is the single line of a text
 * entry (preferably one whose name mentions a password or shares the .p12's base name); `fallbackPassword` is used when
 * the ZIP holds none.
 */
export function readClientZip(zip: Buffer, fallbackPassword?: string): P12Bundle {
  let entries: AdmZip.IZipEntry[];
  try {
    entries = new AdmZip(zip).getEntries().filter((e) => !e.isDirectory);
  } catch (err) {
    throw configError(`client ZIP cannot be read: ${(err as Error).message}`, err);
  }
  const p12s = entries.filter((e) => /\.(p12|pfx)$/i.test(e.entryName));
  if (p12s.length === 0) {
    throw configError(`client ZIP holds no .p12/.pfx file (entries: ${entries.map((e) => e.entryName).join(', ')})`);
  }
  const texts = entries.filter((e) => !/\.(p12|pfx|pem|crt|cer|der)$/i.test(e.entryName) && e.header.size < 4096);
  const baseOf = (name: string) =>
    path
      .basename(name)
      .replace(/\.[^.]*$/, '')
      .toLowerCase();
  let chosen = p12s[0]!;
  let passwordEntry = texts.find((t) => PASSWORD_NAME.test(path.basename(t.entryName)));
  for (const p of p12s) {
    const sameBase = texts.find((t) => baseOf(t.entryName) === baseOf(p.entryName));
    if (sameBase) {
      chosen = p;
      passwordEntry = sameBase;
      break;
    }
  }
  passwordEntry ??= texts.length === 1 ? texts[0] : undefined;
  const password = passwordEntry
    ? passwordEntry
        .getData()
        .toString('utf8')
        .replace(/^\uFEFF/, '')
        .trim()
    : fallbackPassword;
  if (password === undefined) {
    throw configError('client ZIP holds no password file; configure SIGNFLOW_KONNEKTOR_P12_PASSWORD');
  }
  return { p12: chosen.getData(), password, entryName: chosen.entryName };
}

/** Decodes a PKCS#12 with node-forge: works for the legacy RC2/3DES PBE that OpenSSL 3 refuses. */
export function decodeP12WithForge(p12: Buffer, password: string): Extract<ClientCredentials, { kind: 'pem' }> {
  const asn1 = forge.asn1.fromDer(forge.util.createBuffer(p12.toString('binary')));
  const pfx = forge.pkcs12.pkcs12FromAsn1(asn1, false, password);
  const keyBags = [
    ...(pfx.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag! })[forge.pki.oids.pkcs8ShroudedKeyBag!] ?? []),
    ...(pfx.getBags({ bagType: forge.pki.oids.keyBag! })[forge.pki.oids.keyBag!] ?? []),
  ];
  const certBags = pfx.getBags({ bagType: forge.pki.oids.certBag! })[forge.pki.oids.certBag!] ?? [];
  const keyBag = keyBags.find((b) => b.key);
  if (!keyBag?.key) throw new Error('no private key in the PKCS#12');
  const certs = certBags.map((b) => b.cert).filter((c): c is forge.pki.Certificate => !!c);
  if (certs.length === 0) throw new Error('no certificate in the PKCS#12');
  const key = keyBag.key as forge.pki.rsa.PrivateKey;
  // The leaf is the certificate whose public key matches the private key; the rest is the chain.
  const modulusHex = key.n.toString(16);
  const leaf = certs.find((c) => (c.publicKey as forge.pki.rsa.PublicKey).n?.toString(16) === modulusHex) ?? certs[0]!;
  return {
    kind: 'pem',
    keyPem: forge.pki.privateKeyToPem(key),
    certPem: forge.pki.certificateToPem(leaf),
    chainPem: certs.filter((c) => c !== leaf).map((c) => forge.pki.certificateToPem(c)),
  };
}

/**
 * Loads a PKCS#12. OpenSSL (through a TLS context) is tried first, so modern files (RSA or ECC) are used as they are;
 * when it refuses the file, node-forge decodes it to PEM.
 */
export function loadP12(p12: Buffer, password: string): ClientCredentials {
  let opensslError: Error;
  try {
    tls.createSecureContext({ pfx: p12, passphrase: password });
    return { kind: 'pfx', pfx: p12, passphrase: password };
  } catch (err) {
    opensslError = err as Error;
  }
  try {
    return decodeP12WithForge(p12, password);
  } catch (forgeError) {
    throw configError(
      `client certificate (.p12) cannot be read: OpenSSL: ${opensslError.message}; node-forge: ${(forgeError as Error).message}`,
      forgeError
    );
  }
}

export interface CredentialSource {
  /** The ZIP exported by the Konnektor (path). */
  clientZipPath?: string;
  /** The ZIP as bytes (tests, the embedded simulator). */
  clientZip?: Buffer;
  p12Path?: string;
  p12Password?: string;
}

/** The leaf certificate of the credentials, when it can be read (PEM, or the .p12 through node-forge). */
function leafCertificate(credentials: ClientCredentials): X509Certificate | undefined {
  try {
    if (credentials.kind === 'pem') return new X509Certificate(credentials.certPem);
    return new X509Certificate(decodeP12WithForge(credentials.pfx, credentials.passphrase).certPem);
  } catch {
    return undefined;
  }
}

/** `subject "CN=Z1" (serial …, valid until …) from <where>`: what a TLS error message names. */
export function describeCredentials(credentials: ClientCredentials, from: string): string {
  const cert = leafCertificate(credentials);
  if (!cert) return `the client certificate from ${from}`;
  const subject = cert.subject.split('\n').join(', ');
  return `the client certificate "${subject}" (serial ${cert.serialNumber}, valid until ${new Date(cert.validTo).toISOString().slice(0, 10)}) from ${from}`;
}

/** Reads the client credentials from whichever source is configured (the ZIP wins). */
export function loadClientCredentials(source: CredentialSource): ClientCredentials {
  if (source.clientZip || source.clientZipPath) {
    const zip = source.clientZip ?? readFileOrThrow(source.clientZipPath!);
    const bundle = readClientZip(zip, source.p12Password);
    const credentials = loadP12(bundle.p12, bundle.password);
    const file = source.clientZipPath ? `SIGNFLOW_KONNEKTOR_CLIENT_ZIP ${source.clientZipPath}` : 'the client ZIP';
    return { ...credentials, label: describeCredentials(credentials, `${file} (${bundle.entryName})`) };
  }
  if (source.p12Path) {
    if (source.p12Password === undefined)
      throw configError('SIGNFLOW_KONNEKTOR_P12_PASSWORD is required with SIGNFLOW_KONNEKTOR_P12_PATH');
    const credentials = loadP12(readFileOrThrow(source.p12Path), source.p12Password);
    return { ...credentials, label: describeCredentials(credentials, `SIGNFLOW_KONNEKTOR_P12_PATH ${source.p12Path}`) };
  }
  throw configError(
    'no Konnektor client certificate configured: set SIGNFLOW_KONNEKTOR_CLIENT_ZIP or SIGNFLOW_KONNEKTOR_P12_PATH'
  );
}

function readFileOrThrow(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw configError(`cannot read ${file}: ${(err as Error).message}`, err);
  }
}
