/**
 * The Konnektor lines of `signflow doctor` (only when QES is on, `SIGNFLOW_QES_ENABLED=true`): the Konnektor host
 * answers, mutual TLS works with the client system's certificate, `connector.sds` is readable, the SignatureService
 * version it offers, and the eHBA is inserted. Each line says OK or what to do; a line that cannot be checked because
 * an earlier one failed is left out (the earlier line says what to fix first). Through the same Konnektor client as the
 * worker (activities/konnektor/), so the doctor sees what the worker will see.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { KonnektorClient } from '../../activities/konnektor/konnektor-client';
import type { KonnektorEndpoints } from '../../activities/konnektor/service-directory';
import { KonnektorError, KonnektorFailureType } from '../../domain/konnektor-errors';
import type { SignflowConfig } from '../../temporal.config';

export interface DoctorCheck {
  name: string;
  ok: boolean;
  /** OK: what was found. Failed: what is wrong and what to do. */
  message: string;
}

export const KONNEKTOR_CHECKS = {
  reachable: 'Konnektor reachable',
  tls: 'Konnektor TLS client certificate',
  directory: 'Konnektor service directory',
  signatureService: 'Konnektor SignatureService',
  card: 'Konnektor eHBA',
} as const;

/** TCP connect to the service directory's host and port: the network route, before any TLS. */
function connects(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (problem: string | undefined) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs / 1000} s`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

/**
 * Whether the Konnektor refuses the client certificate, asked in a TLS 1.2 handshake (which every Konnektor speaks):
 * there the refusal ends the handshake itself (an alert, or the connection reset before it is secure), while under
 * TLS 1.3 it comes after the handshake and a client sees only a closed connection ("socket hang up"). Answers how the
 * handshake ended, or undefined when it went through (then the certificate is not the problem).
 */
async function clientCertificateRefusal(
  cfg: SignflowConfig['konnektor'],
  host: string,
  port: number
): Promise<string | undefined> {
  const { loadClientCredentials, tlsOptionsOf } = await import('../../activities/konnektor/credentials');
  const { KONNEKTOR_ECDH_GROUPS } = await import('../../activities/konnektor/tls-agent');
  const credentials = loadClientCredentials({
    clientZipPath: cfg.clientZipPath,
    p12Path: cfg.p12Path,
    p12Password: cfg.p12Password,
  });
  return new Promise<string | undefined>((resolve) => {
    const socket = tls.connect({
      host,
      port,
      ...(net.isIP(host) === 0 ? { servername: host } : {}),
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
      ecdhCurve: KONNEKTOR_ECDH_GROUPS,
      ...tlsOptionsOf(credentials),
      // Only the client side is asked here; the server was already judged by the trust check.
      rejectUnauthorized: false,
    });
    const done = (answer: string | undefined) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(10_000, () => done(undefined));
    socket.once('secureConnect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      done(
        /ALERT_(BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|UNKNOWN_CA|CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|ACCESS_DENIED)|^ECONNRESET$/.test(
          code
        )
          ? code
          : undefined
      );
    });
  });
}

/** The Konnektor lines of the doctor. */
export async function konnektorChecks(config: SignflowConfig): Promise<DoctorCheck[]> {
  const cfg = config.konnektor;
  const out: DoctorCheck[] = [];
  const ok = (name: string, message: string) => out.push({ name, ok: true, message });
  const fail = (name: string, message: string) => {
    out.push({ name, ok: false, message });
    return out;
  };

  if (!cfg.sdsUrl) {
    return fail(
      KONNEKTOR_CHECKS.reachable,
      'QES is on (SIGNFLOW_QES_ENABLED) but SIGNFLOW_KONNEKTOR_SDS_URL is not set: set it to https://<konnektor>/connector.sds'
    );
  }
  const url = new URL(cfg.sdsUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 443);
  const unreachable = await connects(host, port, Math.min(cfg.callTimeout, 10_000));
  if (unreachable) {
    return fail(
      KONNEKTOR_CHECKS.reachable,
      `${host}:${port} does not answer (${unreachable}): check SIGNFLOW_KONNEKTOR_SDS_URL and the network route from ` +
        'this host to the Konnektor (firewall, VPN to the practice network)'
    );
  }
  ok(KONNEKTOR_CHECKS.reachable, `${host}:${port} answers`);

  const { createKonnektorClient } = await import('../../activities/konnektor/client-from-config');
  let client: KonnektorClient;
  try {
    client = createKonnektorClient(cfg);
  } catch (err) {
    return fail(
      KONNEKTOR_CHECKS.tls,
      `${(err as Error).message}; the client system's certificate comes from the Konnektor's management ` +
        '(SIGNFLOW_KONNEKTOR_CLIENT_ZIP, or SIGNFLOW_KONNEKTOR_P12_PATH and SIGNFLOW_KONNEKTOR_P12_PASSWORD), the trust ' +
        'anchor from SIGNFLOW_KONNEKTOR_SERVER_FINGERPRINT or SIGNFLOW_KONNEKTOR_CA_PATH'
    );
  }
  try {
    let endpoints: KonnektorEndpoints;
    try {
      endpoints = await client.discover(true);
    } catch (err) {
      const type = err instanceof KonnektorError ? err.failureType : undefined;
      const message = (err as Error).message;
      const refusal =
        type === KonnektorFailureType.KONNEKTOR_UNAVAILABLE
          ? await clientCertificateRefusal(cfg, host, port).catch(() => undefined)
          : undefined;
      if (type === KonnektorFailureType.KONNEKTOR_CLIENT_AUTH_FAILED || refusal) {
        return fail(
          KONNEKTOR_CHECKS.tls,
          `${refusal ? `the Konnektor ended the TLS handshake on seeing the client certificate (${refusal}): it does not accept it` : message}; register client system ${cfg.clientSystemId} with this certificate in the Konnektor's ` +
            'management (or export its ZIP again and point SIGNFLOW_KONNEKTOR_CLIENT_ZIP at it)'
        );
      }
      if (type === KonnektorFailureType.KONNEKTOR_SERVER_UNTRUSTED) {
        return fail(
          KONNEKTOR_CHECKS.tls,
          `${message}; compare SIGNFLOW_KONNEKTOR_SERVER_FINGERPRINT (or SIGNFLOW_KONNEKTOR_CA_PATH, ` +
            "SIGNFLOW_KONNEKTOR_SERVER_IDENTITY) with the certificate the Konnektor's management shows"
        );
      }
      if (type === KonnektorFailureType.KONNEKTOR_UNAVAILABLE) {
        return fail(
          KONNEKTOR_CHECKS.tls,
          `${message}; the host answers but the TLS connection or its first request failed: check that ` +
            'SIGNFLOW_KONNEKTOR_SDS_URL names the Konnektor (https) and that TLS is switched on there'
        );
      }
      ok(KONNEKTOR_CHECKS.tls, `mutual TLS with client system ${cfg.clientSystemId}'s certificate`);
      return fail(
        KONNEKTOR_CHECKS.directory,
        `${message}; check SIGNFLOW_KONNEKTOR_SDS_URL (it must be the Konnektor's connector.sds)`
      );
    }
    ok(KONNEKTOR_CHECKS.tls, `mutual TLS with client system ${cfg.clientSystemId}'s certificate`);
    ok(KONNEKTOR_CHECKS.directory, `${cfg.sdsUrl} read; event service ${endpoints.event.url}`);

    const sig = endpoints.signature;
    ok(
      KONNEKTOR_CHECKS.signatureService,
      sig.interfaceVersion === '7.5'
        ? `version ${sig.version} offered (comfort signature available) at ${sig.url}`
        : `version ${sig.version} offered at ${sig.url}: no comfort signature (SignatureService 7.4), so every ` +
            'countersignature batch asks for the eHBA PIN at the card terminal'
    );

    try {
      const card = await client.findHbaCard(cfg.hbaIccsn);
      const where = card.ctId ? ` in card terminal ${card.ctId}${card.slotId ? `, slot ${card.slotId}` : ''}` : '';
      const until = card.certificateExpirationDate
        ? `, QES certificate valid until ${card.certificateExpirationDate}`
        : '';
      ok(KONNEKTOR_CHECKS.card, `eHBA ${card.iccsn ?? card.cardHandle}${where}${until}`);
    } catch (err) {
      const type = err instanceof KonnektorError ? err.failureType : undefined;
      const todo =
        type === KonnektorFailureType.CARD_MISSING
          ? `insert the practice's eHBA into a card terminal of workplace ${cfg.workplaceId}` +
            (cfg.hbaIccsn ? ` (or correct SIGNFLOW_KONNEKTOR_HBA_ICCSN=${cfg.hbaIccsn})` : '')
          : type === KonnektorFailureType.CERTIFICATE_INVALID
            ? 'the card can no longer sign: order a new eHBA and insert it'
            : `check SIGNFLOW_KONNEKTOR_MANDANT, SIGNFLOW_KONNEKTOR_CLIENT_SYSTEM and SIGNFLOW_KONNEKTOR_WORKPLACE ` +
              `against the Konnektor's information model`;
      fail(KONNEKTOR_CHECKS.card, `${(err as Error).message}; ${todo}`);
    }
    return out;
  } finally {
    client.close();
  }
}
