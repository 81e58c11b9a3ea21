import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  Inject,
  Injectable,
  SetMetadata,
  createParamDecorator,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './errors';

/**
 * Bearer tokens: HS256 JWTs signed with the configured secret (JWT_SECRET, or the development
 * secret in `${DATA_DIR}/secrets.json`). Implemented on node:crypto because the whole of it is an
 * HMAC and a few checks, and every check here is one a library could get wrong by default
 * (`alg: none`, a non-constant-time compare, a missing `exp`).
 */

export const ROLES = ['member', 'admin', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export interface JwtClaims {
  /** The member (or admin, or auditor) the token speaks for. */
  sub: string;
  role: Role;
  /** The organisation (union unit) the subject belongs to or administers. */
  org: string;
  /** Expiry and issue time, in seconds since the epoch as RFC 7519 says. */
  exp: number;
  iat: number;
}

export type TokenSubject = Pick<JwtClaims, 'sub' | 'role' | 'org'>;

/** Bounds: a token longer than this is refused unread; ids are short; a token lives at most 30 days. */
const MAX_TOKEN_CHARS = 4096;
const MAX_ID_CHARS = 200;
export const MAX_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
/** Clocks differ a little between the issuer and this service; beyond this, `iat` in the future is refused. */
const CLOCK_SKEW_SECONDS = 60;

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function hmac(secret: string, signingInput: string): Buffer {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(signingInput, 'utf8').digest();
}

function invalid(reason: string): AppError {
  return AppError.unauthorized('AUTH.INVALID_TOKEN', `invalid bearer token: ${reason}`, { reason });
}

function checkSubject(subject: TokenSubject): void {
  for (const field of ['sub', 'org'] as const) {
    const value = subject[field];
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_CHARS) {
      throw new TypeError(`${field} must be a string of 1 to ${MAX_ID_CHARS} characters`);
    }
  }
  if (!ROLES.includes(subject.role)) throw new TypeError(`role must be one of ${ROLES.join(', ')}`);
}

export function signJwt(subject: TokenSubject, secret: string, options: { ttlSeconds: number; nowMs?: number }): string {
  checkSubject(subject);
  if (!Number.isSafeInteger(options.ttlSeconds) || options.ttlSeconds < 1 || options.ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
    throw new TypeError(`ttlSeconds must be an integer from 1 to ${MAX_TOKEN_TTL_SECONDS}`);
  }
  const iat = Math.floor((options.nowMs ?? Date.now()) / 1000);
  const claims: JwtClaims = { sub: subject.sub, role: subject.role, org: subject.org, iat, exp: iat + options.ttlSeconds };
  const signingInput = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${signingInput}.${hmac(secret, signingInput).toString('base64url')}`;
}

function parseJsonPart(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw invalid(`${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** Returns the claims of a valid token; throws AppError 401 AUTH.INVALID_TOKEN otherwise. */
export function verifyJwt(token: string, secret: string, nowMs: number = Date.now()): JwtClaims {
  if (token.length > MAX_TOKEN_CHARS) throw invalid('too long');
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) throw invalid('malformed');
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];

  // The algorithm is fixed here, never taken from the token: `none` and RS/HS confusion cannot happen.
  const header = parseJsonPart(headerPart, 'header');
  if (header.alg !== 'HS256') throw invalid('algorithm must be HS256');

  const expected = hmac(secret, `${headerPart}.${payloadPart}`);
  const given = Buffer.from(signaturePart, 'base64url');
  // timingSafeEqual needs equal lengths; the length of an HS256 signature is public anyway.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid('bad signature');

  const payload = parseJsonPart(payloadPart, 'payload');
  const { sub, role, org, exp, iat } = payload;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_ID_CHARS) throw invalid('sub missing or too long');
  if (typeof org !== 'string' || org.length === 0 || org.length > MAX_ID_CHARS) throw invalid('org missing or too long');
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) throw invalid('unknown role');
  if (typeof exp !== 'number' || !Number.isSafeInteger(exp)) throw invalid('exp missing');
  if (typeof iat !== 'number' || !Number.isSafeInteger(iat)) throw invalid('iat missing');
  const nowSeconds = Math.floor(nowMs / 1000);
  if (exp <= nowSeconds) throw invalid('expired');
  if (iat > nowSeconds + CLOCK_SKEW_SECONDS) throw invalid('issued in the future');
  return { sub, role: role as Role, org, exp, iat };
}

// ---- Nest wiring ----

/** DI token for the authentication settings (the secret), provided by AppModule. */
export const AUTH_SETTINGS = Symbol('AUTH_SETTINGS');
export interface AuthSettings {
  jwtSecret: string;
}

const IS_PUBLIC = 'union-ledger:public';
const REQUIRED_ROLES = 'union-ledger:roles';

/** The route (or every route of the controller) needs no token: health checks, documentation. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

/** Only these roles may call the route (or the controller); others get 403 AUTH.FORBIDDEN. */
export const Roles = (...roles: Role[]): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_ROLES, roles);

/** Claims of the request's verified token, kept beside the request instead of patched onto it. */
const principals = new WeakMap<object, JwtClaims>();

/** The verified claims of a request, or undefined on a public route. */
export function principalOf(request: FastifyRequest): JwtClaims | undefined {
  return principals.get(request);
}

/** `@CurrentUser() user: JwtClaims`: the caller's verified claims. */
export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext): JwtClaims => {
  const claims = principalOf(context.switchToHttp().getRequest<FastifyRequest>());
  // A handler asking for the user on a @Public() route is a programming error, not the client's.
  if (!claims) throw new Error('@CurrentUser() used on a route without authentication');
  return claims;
});

/**
 * Global guard: every route needs a valid bearer token unless marked @Public(); @Roles() then
 * narrows who may call it. Registered first among the guards, so rate limiting can key on the subject.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(AUTH_SETTINGS) private readonly settings: AuthSettings,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const reply = context.switchToHttp().getResponse<FastifyReply>();

    const header = request.headers.authorization;
    if (header === undefined || header.trim() === '') {
      void reply.header('www-authenticate', 'Bearer realm="union-ledger"');
      throw AppError.unauthorized('AUTH.MISSING_TOKEN', 'a bearer token is required (Authorization: Bearer <token>)');
    }
    const match = /^Bearer +(\S+)\s*$/i.exec(header);
    let claims: JwtClaims;
    try {
      if (!match) throw invalid('the Authorization header must be "Bearer <token>"');
      claims = verifyJwt(match[1]!, this.settings.jwtSecret);
    } catch (error) {
      void reply.header('www-authenticate', 'Bearer realm="union-ledger", error="invalid_token"');
      throw error;
    }
    principals.set(request, claims);

    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(REQUIRED_ROLES, targets);
    if (roles && roles.length > 0 && !roles.includes(claims.role)) {
      throw AppError.forbidden('AUTH.FORBIDDEN', `this operation needs the role ${roles.join(' or ')}`, { required: roles, role: claims.role });
    }
    return true;
  }
}
