import { createHash, timingSafeEqual } from 'node:crypto';
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
import { InvalidTokenError, ROLES, type Role, type TokenClaims, type TokenService } from '../../application/identity';
import { AppError } from './errors';

/**
 * Authentication of every route: a bearer token verified by the identity context's TokenService
 * (jose: pinned algorithm, key ids, issuer, audience, exp/nbf/iat, a maximum lifetime), then the
 * route's roles.
 */

export { ROLES, type Role };
/** The verified claims of the caller. */
export type JwtClaims = TokenClaims;

// ---- Nest wiring ----

/** DI token for the authentication settings (the token service), provided by AppModule. */
export const AUTH_SETTINGS = Symbol('AUTH_SETTINGS');
export interface AuthSettings {
  tokens: TokenService;
  /** True when the token's session was ended (logout, revocation): its access tokens are refused before they expire. */
  sessionEnded?: (sessionId: string | undefined) => boolean;
  /** METRICS_TOKEN: the bearer token the routes marked @MetricsToken() also accept (Prometheus has no user token). */
  metricsToken?: string | undefined;
}

const IS_PUBLIC = 'union-ledger:public';
const REQUIRED_ROLES = 'union-ledger:roles';
const METRICS_TOKEN = 'union-ledger:metrics-token';

/** The route (or every route of the controller) needs no token: health checks, documentation. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

/** Only these roles may call the route (or the controller); others get 403 AUTH.FORBIDDEN. */
export const Roles = (...roles: Role[]): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_ROLES, roles);

/**
 * The route also accepts METRICS_TOKEN as its bearer token, when one is configured: a scraper
 * carries no user. Any other token still goes through verification and @Roles().
 */
export const MetricsToken = (): MethodDecorator => SetMetadata(METRICS_TOKEN, true);

/** Compared as digests so that neither the length nor a common prefix leaks through timing. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

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

  async canActivate(context: ExecutionContext): Promise<boolean> {
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
    const metricsToken = this.settings.metricsToken;
    if (match && metricsToken !== undefined && this.reflector.get<boolean | undefined>(METRICS_TOKEN, context.getHandler()) && sameSecret(match[1]!, metricsToken)) return true;
    let claims: JwtClaims;
    try {
      if (!match) throw new InvalidTokenError('the Authorization header must be "Bearer <token>"');
      claims = await this.settings.tokens.verify(match[1]!);
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
      void reply.header('www-authenticate', 'Bearer realm="union-ledger", error="invalid_token"');
      throw AppError.unauthorized('AUTH.INVALID_TOKEN', error.message, { reason: error.reason });
    }
    if (this.settings.sessionEnded?.(claims.sid)) {
      void reply.header('www-authenticate', 'Bearer realm="union-ledger", error="invalid_token"');
      throw AppError.unauthorized('AUTH.SESSION_ENDED', 'the session of this token was ended (logged out or revoked); log in again');
    }
    principals.set(request, claims);

    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(REQUIRED_ROLES, targets);
    if (roles && roles.length > 0 && !roles.includes(claims.role)) {
      throw AppError.forbidden('AUTH.FORBIDDEN', `this operation needs the role ${roles.join(' or ')}`, { required: roles, role: claims.role });
    }
    return true;
  }
}
