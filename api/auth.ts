/**
 * Who is calling: one credential per caller role, so a role can never do what another role may (the portal cannot
 * confirm for staff). Bearer tokens for every role; the CRM role may instead sign each call with HMAC-SHA256 over
 * `timestamp + "." + rawBody`, valid inside a replay window and only once.
 *
 * Secrets are compared in constant time (`crypto.timingSafeEqual` over SHA-256 digests, so lengths never leak) and
 * never logged (the server redacts the headers that carry them).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { SignflowConfig } from '../temporal.config';
import { ApiError, ApiErrorCode } from './errors';

export const ROLES = ['crm', 'portal', 'staff', 'ops'] as const;
export type Role = (typeof ROLES)[number];

/** Header with the call's unix time in whole seconds. */
export const HMAC_TIMESTAMP_HEADER = 'x-signflow-timestamp';
/** Header with `sha256=<hex HMAC-SHA256(secret, timestamp + "." + rawBody)>` (the `sha256=` prefix is optional). */
export const HMAC_SIGNATURE_HEADER = 'x-signflow-signature';

/** What a caller presented, as read from the request. */
export interface CallerCredentials {
  authorization?: string;
  hmacTimestamp?: string;
  hmacSignature?: string;
  /** The body exactly as received; empty for a call without body. */
  rawBody: Buffer;
}

function digest(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time equality of two secrets of any length. */
export function secretEquals(a: string | Buffer, b: string | Buffer): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** The HMAC a CRM computes for a call; exported for clients and tests. */
export function hmacSignature(secret: string, timestamp: string | number, rawBody: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

/** Headers for an HMAC-signed call, as a CRM would send them. */
export function hmacHeaders(secret: string, rawBody: string | Buffer, now = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  return {
    [HMAC_TIMESTAMP_HEADER]: String(timestamp),
    [HMAC_SIGNATURE_HEADER]: `sha256=${hmacSignature(secret, timestamp, rawBody)}`,
  };
}

/**
 * Remembers accepted HMAC signatures until they leave the replay window, so a captured request cannot be sent twice.
 * Per process: behind a load balancer with several API instances, the window alone bounds a replay.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries = 100_000
  ) {}

  /** True when the signature is new (and records it); false when it was seen inside the window. */
  accept(signature: string, now = Date.now()): boolean {
    this.prune(now);
    if (this.seen.has(signature)) return false;
    // A full cache fails closed for new signatures rather than forgetting old ones early.
    if (this.seen.size >= this.maxEntries) return false;
    // A signature stays replayable only while its timestamp is inside the window, at most 2 windows from now.
    this.seen.set(signature, now + 2 * this.windowMs);
    return true;
  }

  private prune(now: number): void {
    for (const [key, expires] of this.seen) {
      if (expires > now) break; // insertion order = expiry order
      this.seen.delete(key);
    }
  }
}

export class Authenticator {
  private readonly tokens: [Role, string][];
  private readonly replay: ReplayGuard;

  constructor(private readonly api: SignflowConfig['api']) {
    this.tokens = ROLES.flatMap((role) => {
      const token = api.tokens[role];
      return token ? [[role, token] as [Role, string]] : [];
    });
    this.replay = new ReplayGuard(api.hmacWindow);
  }

  /** Roles that have no credential configured (they cannot call the API). */
  rolesWithoutCredentials(): Role[] {
    return ROLES.filter((r) => !this.api.tokens[r] && !(r === 'crm' && this.api.hmacSecretCrm));
  }

  /** The caller's role, or an ApiError 401 that says what is wrong. */
  authenticate(c: CallerCredentials, now = Date.now()): Role {
    const auth = c.authorization?.trim();
    if (auth) {
      const match = /^Bearer\s+(\S+)$/i.exec(auth);
      if (!match?.[1]) {
        throw unauthorized(ApiErrorCode.INVALID_CREDENTIALS, 'the Authorization header must be "Bearer <token>"');
      }
      const presented = match[1];
      // Compare against every token, without stopping early, so timing does not tell which role almost matched.
      let role: Role | undefined;
      for (const [r, token] of this.tokens) if (secretEquals(presented, token) && !role) role = r;
      if (!role) throw unauthorized(ApiErrorCode.INVALID_CREDENTIALS, 'the bearer token is not valid');
      return role;
    }
    if (c.hmacSignature !== undefined || c.hmacTimestamp !== undefined) return this.authenticateHmac(c, now);
    throw unauthorized(
      ApiErrorCode.MISSING_CREDENTIALS,
      `send "Authorization: Bearer <token>" or, for the CRM, the ${HMAC_TIMESTAMP_HEADER} and ${HMAC_SIGNATURE_HEADER} headers`
    );
  }

  private authenticateHmac(c: CallerCredentials, now: number): Role {
    const secret = this.api.hmacSecretCrm;
    if (!secret) throw unauthorized(ApiErrorCode.INVALID_HMAC, 'HMAC-signed calls are not enabled on this server');
    const ts = c.hmacTimestamp?.trim() ?? '';
    if (!/^\d{1,12}$/.test(ts)) {
      throw unauthorized(
        ApiErrorCode.HMAC_TIMESTAMP_OUT_OF_WINDOW,
        `${HMAC_TIMESTAMP_HEADER} must be the current unix time in whole seconds`
      );
    }
    const skewMs = Math.abs(now - Number(ts) * 1000);
    if (skewMs > this.api.hmacWindow) {
      throw unauthorized(
        ApiErrorCode.HMAC_TIMESTAMP_OUT_OF_WINDOW,
        `${HMAC_TIMESTAMP_HEADER} is ${Math.round(skewMs / 1000)} s away from the server's time; ` +
          `at most ${Math.round(this.api.hmacWindow / 1000)} s are accepted`
      );
    }
    const presented = (c.hmacSignature ?? '')
      .trim()
      .replace(/^sha256=/i, '')
      .toLowerCase();
    const expected = hmacSignature(secret, ts, c.rawBody);
    if (!/^[0-9a-f]{64}$/.test(presented) || !secretEquals(presented, expected)) {
      throw unauthorized(
        ApiErrorCode.INVALID_HMAC,
        `${HMAC_SIGNATURE_HEADER} does not match HMAC-SHA256 over "<timestamp>.<body>"`
      );
    }
    if (!this.replay.accept(expected, now)) {
      throw unauthorized(ApiErrorCode.HMAC_REPLAYED, 'this signed request was already received; sign each call anew');
    }
    return 'crm';
  }
}

function unauthorized(code: ApiErrorCode, message: string): ApiError {
  return new ApiError(401, code, message, { 'www-authenticate': 'Bearer realm="signflow"' });
}

/** 403 when the role is authenticated but may not use the route. */
export function assertRoleAllowed(role: Role, allowed: readonly Role[], what: string): void {
  if (!allowed.includes(role)) {
    throw new ApiError(
      403,
      ApiErrorCode.ROLE_NOT_ALLOWED,
      `the ${role} role may not ${what}; allowed: ${allowed.join(', ')}`
    );
  }
}
