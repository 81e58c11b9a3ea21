import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { UnionLedger } from '../../composition-root';
import { LEDGER } from '../tokens';
import { principalOf } from './auth';
import { AppError } from './errors';

/**
 * Global guard after authentication: an admin's or finance approver's token speaks for an
 * organisation's subtree, so that organisation must exist (read from its stream, never from a
 * lagging read model). A token for an unknown organisation is refused on every route, instead of
 * each route finding out (or not) on its own.
 */
@Injectable()
export class ScopeGuard implements CanActivate {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const claims = principalOf(context.switchToHttp().getRequest<FastifyRequest>());
    if (!claims || (claims.role !== 'admin' && claims.role !== 'finance')) return true;
    if ((await this.ledger.orgs.readOrg(claims.org)).registered) return true;
    throw AppError.forbidden('AUTH.ORG_UNKNOWN', `the organisation ${claims.org} of this token does not exist`, { org: claims.org });
  }
}
