import { createHash } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTHeaderParameters, type JWTPayload } from 'jose';

/**
 * Bearer tokens: HS256 JWTs signed and verified with `jose`. Every token names its key (`kid`), so
 * keys rotate: the first key signs, every listed key verifies until it is removed. Verification
 * pins the algorithm, the issuer and the audience, checks `exp`, `nbf` and `iat` (with one minute
 * of clock skew) and refuses a token that claims to live longer than the longest lifetime this
 * service issues, however validly it is signed.
 */

export const ROLES = ['member', 'visitor', 'admin', 'finance', 'auditor', 'merchant'] as const;
/**
 * member: a member acting for themselves; visitor: a WeChat user not yet bound to a member (may
 * only activate); admin: a union admin of their subtree; finance: a finance approver of their
 * subtree; auditor: reads the whole ledger, writes nothing; merchant: a merchant's till terminal
 * (its `org` is the merchant's id), which takes members' payments.
 */
export type Role = (typeof ROLES)[number];

export interface TokenClaims {
  /** The member, account or WeChat login the token speaks for. */
  sub: string;
  role: Role;
  /** The organisation the subject belongs to or administers ('-' for a visitor). */
  org: string;
  /** The session (refresh-token family) the token belongs to; absent on tokens minted by the CLI. */
  sid?: string;
  /** Issue and expiry time, seconds since the epoch. */
  iat: number;
  exp: number;
}

export type TokenSubject = Pick<TokenClaims, 'sub' | 'role' | 'org' | 'sid'>;

export const TOKEN_ISSUER = 'union-ledger';
export const TOKEN_AUDIENCE = 'union-ledger-api';
/** Access tokens of sessions live 15 minutes; refresh tokens renew them. */
export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
/** The longest lifetime of any token (development tokens from the CLI); a longer one is refused. */
export const MAX_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
const CLOCK_SKEW_SECONDS = 60;
const MAX_TOKEN_CHARS = 4096;
const MAX_ID_CHARS = 200;

export interface SigningKey {
  kid: string;
  secret: Uint8Array;
}

/** A key id that names a secret without revealing it: the first 16 hex digits of its SHA-256. */
export function signingKey(secret: string): SigningKey {
  return { kid: createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 16), secret: new TextEncoder().encode(secret) };
}

/** A token that does not verify; the API answers it as 401 AUTH.INVALID_TOKEN with the reason. */
export class InvalidTokenError extends Error {
  constructor(readonly reason: string) {
    super(`invalid bearer token: ${reason}`);
    this.name = 'InvalidTokenError';
  }
}

function invalid(reason: string): InvalidTokenError {
  return new InvalidTokenError(reason);
}

function checkSubject(subject: TokenSubject): void {
  for (const field of ['sub', 'org'] as const) {
    const value = subject[field];
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_CHARS) {
      throw new TypeError(`${field} must be a string of 1 to ${MAX_ID_CHARS} characters`);
    }
  }
  if (!(ROLES as readonly string[]).includes(subject.role)) throw new TypeError(`role must be one of ${ROLES.join(', ')}`);
}

export class TokenService {
  private readonly byKid: Map<string, SigningKey>;

  /** `keys[0]` signs; all verify. */
  constructor(private readonly keys: readonly SigningKey[]) {
    if (keys.length === 0) throw new Error('invariant violated: a token service needs at least one key');
    this.byKid = new Map(keys.map((key) => [key.kid, key]));
  }

  /**
   * `audience` (default TOKEN_AUDIENCE, the API's) names what else a token may open: a token for
   * another audience (the queue dashboard's session cookie) is refused by the API, and an API
   * token is refused where that other audience is required.
   */
  async sign(subject: TokenSubject, options: { ttlSeconds: number; nowMs?: number; audience?: string }): Promise<string> {
    checkSubject(subject);
    if (!Number.isSafeInteger(options.ttlSeconds) || options.ttlSeconds < 1 || options.ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
      throw new TypeError(`ttlSeconds must be an integer from 1 to ${MAX_TOKEN_TTL_SECONDS}`);
    }
    const key = this.keys[0]!;
    const iat = Math.floor((options.nowMs ?? Date.now()) / 1000);
    return new SignJWT({ role: subject.role, org: subject.org, ...(subject.sid ? { sid: subject.sid } : {}) })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: key.kid })
      .setSubject(subject.sub)
      .setIssuer(TOKEN_ISSUER)
      .setAudience(options.audience ?? TOKEN_AUDIENCE)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + options.ttlSeconds)
      .sign(key.secret);
  }

  /** The claims of a valid token; throws DomainError 401 AUTH.INVALID_TOKEN with the reason otherwise. */
  async verify(token: string, nowMs: number = Date.now(), audience: string = TOKEN_AUDIENCE): Promise<TokenClaims> {
    if (token.length > MAX_TOKEN_CHARS) throw invalid('too long');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (header: JWTHeaderParameters) => this.keyFor(header), {
        algorithms: ['HS256'],
        issuer: TOKEN_ISSUER,
        audience,
        clockTolerance: CLOCK_SKEW_SECONDS,
        currentDate: new Date(nowMs),
        requiredClaims: ['sub', 'iat', 'exp', 'nbf'],
      }));
    } catch (error) {
      throw invalid(reasonOf(error));
    }
    const { sub, role, org, sid, iat, exp } = payload as JWTPayload & { role?: unknown; org?: unknown; sid?: unknown };
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_ID_CHARS) throw invalid('sub missing or too long');
    if (typeof org !== 'string' || org.length === 0 || org.length > MAX_ID_CHARS) throw invalid('org missing or too long');
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) throw invalid('unknown role');
    if (sid !== undefined && (typeof sid !== 'string' || sid.length > MAX_ID_CHARS)) throw invalid('bad session id');
    if (typeof iat !== 'number' || typeof exp !== 'number') throw invalid('iat or exp missing');
    if (iat > Math.floor(nowMs / 1000) + CLOCK_SKEW_SECONDS) throw invalid('issued in the future');
    // A validly signed token may still have been minted for longer than this service ever issues.
    if (exp - iat > MAX_TOKEN_TTL_SECONDS) throw invalid('lifetime longer than allowed');
    return { sub, role: role as Role, org, ...(typeof sid === 'string' ? { sid } : {}), iat, exp };
  }

  private keyFor(header: JWTHeaderParameters): Uint8Array {
    const key = header.kid === undefined ? undefined : this.byKid.get(header.kid);
    if (!key) throw invalid('unknown key id');
    return key.secret;
  }
}

function reasonOf(error: unknown): string {
  if (error instanceof InvalidTokenError) return error.reason;
  if (error instanceof joseErrors.JWTExpired) return 'expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `${error.claim} ${error.reason}`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm must be HS256';
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return 'malformed';
  return 'malformed';
}
