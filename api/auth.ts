/**
 * Who is calling: one credential per caller role, so a role can never do what another role may (the portal cannot
 * confirm for staff). Bearer tokens for every role; the CRM role may instead sign each call with HMAC-SHA256 over the
 * canonical string of the request (below), valid inside a replay window and only once.
 *
 * Canonical string (version 1), lines joined with a single `\n`, no trailing newline:
 *
 *     v1
 *     <METHOD in upper case>
 *     <path with query, exactly as sent in the request line, e.g. /api/v1/contracts/12?x=1>
 *     <timestamp: unix seconds, the X-Signflow-Timestamp header>
 *     <hex SHA-256 of the raw body bytes; of the empty string for a call without body>
 *
 * So a signature is bound to one method, one path and query, one moment and one body: the headers of a signed
 * `GET /contracts/1` are worthless for `POST /contracts/21/signature-request`. Accepted signatures are remembered until
 * they leave the window in a `ReplayStore`; the API uses the database (`signflow_hmac_replay`), so a replay fails
 * after a restart and on every other API process that shares the database.
 *
 * Secrets are compared in constant time (`crypto.timingSafeEqual` over SHA-256 digests, so lengths never leak) and
 * never logged (the server redacts the headers that carry them).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import type { SignflowConfig } from '../temporal.config';
import { ApiError, ApiErrorCode } from './errors';
import { isUniqueViolation } from '../db/unique-violation';

export const ROLES = ['crm', 'portal', 'staff', 'ops'] as const;
export type Role = (typeof ROLES)[number];

/** Header with the call's unix time in whole seconds. */
export const HMAC_TIMESTAMP_HEADER = 'x-signflow-timestamp';
/** Header with `sha256=<hex HMAC-SHA256(secret, canonical string)>` (the `sha256=` prefix is optional). */
export const HMAC_SIGNATURE_HEADER = 'x-signflow-signature';

/** What a caller presented, as read from the request. */
export interface CallerCredentials {
  /** HTTP method and the path with query as received (the request line); both are signed. */
  method?: string;
  url?: string;
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

/** What an HMAC signature covers besides the timestamp. */
export interface SignedRequest {
  method: string;
  /** Path with query string, as in the request line (`/api/v1/contracts/12?x=1`). */
  url: string;
  rawBody: string | Buffer;
}

/** The canonical string of a call (see the module comment); exported for clients and tests. */
export function hmacCanonicalString(timestamp: string | number, request: SignedRequest): string {
  const bodySha256 = createHash('sha256').update(request.rawBody).digest('hex');
  return ['v1', request.method.toUpperCase(), request.url, String(timestamp), bodySha256].join('\n');
}

/** The HMAC a CRM computes for a call; exported for clients and tests. */
export function hmacSignature(secret: string, timestamp: string | number, request: SignedRequest): string {
  return createHmac('sha256', secret).update(hmacCanonicalString(timestamp, request)).digest('hex');
}

/** Headers for an HMAC-signed call, as a CRM would send them. */
export function hmacHeaders(secret: string, request: SignedRequest, now = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  return {
    [HMAC_TIMESTAMP_HEADER]: String(timestamp),
    [HMAC_SIGNATURE_HEADER]: `sha256=${hmacSignature(secret, timestamp, request)}`,
  };
}

/** Remembers accepted signatures until they leave the replay window. */
export interface ReplayStore {
  /** True when `key` is new (and records it until `expiresAt`); false when it was accepted before and not expired. */
  accept(key: string, expiresAt: number, now: number): Promise<boolean>;
}

/**
 * In-process memory: for a single process without a database (unit tests). The API server uses `DbReplayStore`.
 */
export class ReplayGuard implements ReplayStore {
  private readonly seen = new Map<string, number>();

  constructor(private readonly maxEntries = 100_000) {}

  accept(key: string, expiresAt: number, now: number): Promise<boolean> {
    for (const [k, expires] of this.seen) if (expires <= now) this.seen.delete(k);
    if (this.seen.has(key)) return Promise.resolve(false);
    // A full cache fails closed for new signatures rather than forgetting old ones early.
    if (this.seen.size >= this.maxEntries) return Promise.resolve(false);
    this.seen.set(key, expiresAt);
    return Promise.resolve(true);
  }
}

export const HMAC_REPLAY_TABLE = 'signflow_hmac_replay';

/**
 * The replay memory in the database: the primary key decides, so two API processes that get the same signed request
 * at the same moment accept it once. Expired rows are deleted on the way (at most every 10 s per process).
 */
export class DbReplayStore implements ReplayStore {
  private lastPrune = 0;

  constructor(private readonly db: Knex) {}

  async accept(key: string, expiresAt: number, now: number): Promise<boolean> {
    if (now - this.lastPrune > 10_000) {
      this.lastPrune = now;
      await this.db(HMAC_REPLAY_TABLE).where('expires_at', '<=', new Date(now)).delete();
    }
    const hashed = createHash('sha256').update(key).digest('hex');
    try {
      await this.db(HMAC_REPLAY_TABLE).insert({ signature_sha256: hashed, expires_at: new Date(expiresAt) });
      return true;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      // Seen before; it may have expired without being pruned yet (clocks of several processes): then take it over.
      const taken = await this.db(HMAC_REPLAY_TABLE)
        .where('signature_sha256', hashed)
        .andWhere('expires_at', '<=', new Date(now))
        .update({ expires_at: new Date(expiresAt) });
      return taken === 1;
    }
  }
}

export class Authenticator {
  private readonly tokens: [Role, string][];
  private readonly replay: ReplayStore;

  constructor(
    private readonly api: SignflowConfig['api'],
    replay: ReplayStore = new ReplayGuard()
  ) {
    this.tokens = ROLES.flatMap((role) => {
      const token = api.tokens[role];
      return token ? [[role, token] as [Role, string]] : [];
    });
    this.replay = replay;
  }

  /** Roles that have no credential configured (they cannot call the API). */
  rolesWithoutCredentials(): Role[] {
    return ROLES.filter((r) => !this.api.tokens[r] && !(r === 'crm' && this.api.hmacSecretCrm));
  }

  /** The caller's role, or an ApiError 401 that says what is wrong. */
  async authenticate(c: CallerCredentials, now = Date.now()): Promise<Role> {
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

  private async authenticateHmac(c: CallerCredentials, now: number): Promise<Role> {
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
    const expected = hmacSignature(secret, ts, { method: c.method ?? '', url: c.url ?? '', rawBody: c.rawBody });
    if (!/^[0-9a-f]{64}$/.test(presented) || !secretEquals(presented, expected)) {
      throw unauthorized(
        ApiErrorCode.INVALID_HMAC,
        `${HMAC_SIGNATURE_HEADER} does not match HMAC-SHA256 over ` +
          '"v1\\n<METHOD>\\n<path?query>\\n<timestamp>\\n<hex sha256(body)>" (docs/api.md)'
      );
    }
    // Remembered until its timestamp leaves the window (at most one window from its timestamp on either side).
    if (!(await this.replay.accept(expected, Number(ts) * 1000 + this.api.hmacWindow + 1000, now))) {
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
