/**
 * HTTPS agent for the Konnektor: mutual TLS with the client-system certificate, and an explicit check of the server.
 *
 * The Konnektor's certificate names its gSMC-K (CN = ICCSN and issue date), not the host the practice reaches it by,
 * so Node's hostname check cannot be used. Instead every new connection is held back until the handshake is complete
 * and then checked here, before a single byte of a request is written:
 * - with a CA: the chain must verify against exactly that CA (Node's default roots are not used);
 * - with a pinned SHA-256 fingerprint (as the management UI shows it): the leaf must match it;
 * - with an expected identity: CN, the ICCSN part of the CN, or a DNS SAN must equal it.
 * At least a CA or a fingerprint is required. Skipping all checks is possible only in dev/test (NODE_ENV).
 */
import https from 'node:https';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { KonnektorError, KonnektorFailureType, type TlsHandshakeStage } from '../../domain/konnektor-errors';
import { tlsOptionsOf, type ClientCredentials } from './credentials';

export interface ServerTrust {
  /** PEM CA certificate(s) the Konnektor's certificate must chain to. */
  caPem?: string[];
  /** SHA-256 fingerprint of the Konnektor's certificate, hex with or without colons. */
  fingerprintSha256?: string;
  /** Expected CN / ICCSN / DNS name in the Konnektor's certificate. */
  expectedIdentity?: string;
  /** Accept any server certificate. Refused unless NODE_ENV is `development` or `test`. */
  insecureDevOnly?: boolean;
}

/** ECDHE groups offered to the Konnektor: the NIST curves and brainpoolP256r1/P384r1 (TLS 1.2). */
export const KONNEKTOR_ECDH_GROUPS = 'X25519:prime256v1:secp384r1:brainpoolP256r1:brainpoolP384r1';

/** Error code our agent puts on a rejected server certificate, read by the fault classifier. */
export const SERVER_UNTRUSTED_CODE = 'KONNEKTOR_SERVER_UNTRUSTED';

export function normalizeFingerprint(fp: string): string {
  return fp
    .replace(/^sha-?256[:=\s]*/i, '')
    .replace(/[^0-9a-f]/gi, '')
    .toUpperCase();
}

export function isDevEnvironment(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NODE_ENV === 'development' || env.NODE_ENV === 'test';
}

function untrusted(message: string): Error & { code: string } {
  return Object.assign(new Error(`Konnektor server certificate rejected: ${message}`), { code: SERVER_UNTRUSTED_CODE });
}

/** Returns why the peer is not acceptable, or undefined when it is. Exported for unit tests. */
export function checkKonnektorPeer(
  socket: Pick<tls.TLSSocket, 'authorized' | 'authorizationError' | 'getPeerCertificate'>,
  trust: ServerTrust
): Error | undefined {
  if (trust.insecureDevOnly) return undefined;
  const cert = socket.getPeerCertificate(false);
  if (!cert || Object.keys(cert).length === 0) return untrusted('no certificate presented');
  if (trust.fingerprintSha256) {
    const want = normalizeFingerprint(trust.fingerprintSha256);
    const got = normalizeFingerprint(cert.fingerprint256 ?? '');
    if (want !== got)
      return untrusted(`fingerprint ${cert.fingerprint256} is not the configured ${trust.fingerprintSha256}`);
  }
  if (trust.caPem && trust.caPem.length > 0 && !socket.authorized) {
    return untrusted(`chain does not verify against the configured CA (${String(socket.authorizationError)})`);
  }
  if (trust.expectedIdentity) {
    const id = trust.expectedIdentity.trim();
    const cnField = cert.subject?.CN;
    const cn = Array.isArray(cnField) ? cnField[0] : cnField;
    const sans = (cert.subjectaltname ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4));
    const iccsnOfCn = cn?.split(/[-\s]/)[0];
    if (cn !== id && iccsnOfCn !== id && !sans.includes(id)) {
      return untrusted(`identity ${id} not found (CN ${cn ?? '-'}, DNS ${sans.join(' ') || '-'})`);
    }
  }
  return undefined;
}

/**
 * What a failed handshake carries to the fault classifier: how far it got and which client certificate was offered.
 * `keys` means the client had sent its certificate and key exchange (TLS 1.2: after the server asked for a
 * certificate), `hello` that it failed before (no shared cipher suite, group or version, or the network).
 */
export interface HandshakeFailure {
  handshakeStage: TlsHandshakeStage;
  clientCertificate?: string;
}

export interface KonnektorAgentOptions {
  credentials: ClientCredentials;
  trust: ServerTrust;
  /** Handshake timeout in ms. @default 15000 */
  handshakeTimeoutMs?: number;
  maxSockets?: number;
}

export function validateTrust(trust: ServerTrust, env: NodeJS.ProcessEnv = process.env): void {
  if (trust.insecureDevOnly) {
    if (!isDevEnvironment(env)) {
      throw new KonnektorError(
        'SIGNFLOW_KONNEKTOR_DEV_INSECURE is only allowed with NODE_ENV=development or test; configure the Konnektor CA or fingerprint',
        { failureType: KonnektorFailureType.KONNEKTOR_SERVER_UNTRUSTED, faultClass: 'needs-person' }
      );
    }
    return;
  }
  if (!trust.fingerprintSha256 && !(trust.caPem && trust.caPem.length > 0)) {
    throw new KonnektorError(
      'no trust anchor for the Konnektor: set SIGNFLOW_KONNEKTOR_CA_PATH or SIGNFLOW_KONNEKTOR_SERVER_FINGERPRINT',
      { failureType: KonnektorFailureType.KONNEKTOR_SERVER_UNTRUSTED, faultClass: 'needs-person' }
    );
  }
}

type CreateConnection = (
  options: tls.ConnectionOptions,
  callback: (err: Error | null, socket?: Duplex) => void
) => undefined;

/** An https.Agent whose connections are only handed out after `checkKonnektorPeer` accepted the server. */
export function createKonnektorAgent(options: KonnektorAgentOptions): https.Agent {
  validateTrust(options.trust);
  const { trust } = options;
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: options.maxSockets ?? 8,
    minVersion: 'TLSv1.2',
    // Node's default group list has no brainpool curves; Konnektoren that offer only those (TR-03116-1) then fail
    // the handshake with "no shared group". Offer them alongside the NIST curves.
    ecdhCurve: KONNEKTOR_ECDH_GROUPS,
    ...tlsOptionsOf(options.credentials),
    ...(trust.caPem && trust.caPem.length > 0 ? { ca: trust.caPem } : {}),
  });
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 15_000;
  const createConnection: CreateConnection = (connectOptions, callback) => {
    // Chain and identity are checked below, explicitly; OpenSSL still computes `authorized` against our `ca`.
    const socket = tls.connect({ ...connectOptions, rejectUnauthorized: false, checkServerIdentity: () => undefined });
    // OpenSSL reports key material once the client has sent its key exchange (TLS 1.2: right after its certificate):
    // the one sign, on a handshake that fails without an alert, that the Konnektor had asked for and got our
    // certificate. The key lines themselves are not kept.
    let stage: TlsHandshakeStage = 'hello';
    const onKeylog = () => {
      stage = 'keys';
    };
    socket.on('keylog', onKeylog);
    let settled = false;
    const settle = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('error', onError);
      socket.removeListener('keylog', onKeylog);
      if (err) {
        socket.destroy();
        callback(err);
      } else {
        callback(null, socket);
      }
    };
    const onError = (err: Error) => {
      const failure: HandshakeFailure = { handshakeStage: stage, clientCertificate: options.credentials.label };
      settle(Object.assign(err, failure));
    };
    const timer = setTimeout(
      () => settle(Object.assign(new Error('TLS handshake timeout'), { code: 'ETIMEDOUT' })),
      handshakeTimeoutMs
    );
    socket.once('error', onError);
    socket.once('secureConnect', () => settle(checkKonnektorPeer(socket, trust) ?? null));
    return undefined;
  };
  (agent as unknown as { createConnection: CreateConnection }).createConnection = createConnection;
  return agent;
}
