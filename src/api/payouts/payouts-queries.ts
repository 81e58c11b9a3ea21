import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { PaymentGatewayError } from '../../application/payouts';
import type { UnionLedger } from '../../composition-root';
import type { JwtClaims } from '../common/auth';
import { AppError } from '../common/errors';
import { LEDGER } from '../tokens';

/** The payouts context's queries as @nestjs/cqrs queries. */

type Report = Awaited<ReturnType<UnionLedger['reconciliation']['report']>>;

/**
 * A day's payouts against the gateway's statement, compared now (nothing recorded: the daily job
 * and `union-ledger reconcile` record). For auditors and admins of a root union: the statement
 * covers every union's merchants.
 */
export class GetReconciliation extends Query<Report> {
  constructor(
    readonly user: JwtClaims,
    readonly day: string,
  ) {
    super();
  }
}

@QueryHandler(GetReconciliation)
export class GetReconciliationHandler implements IQueryHandler<GetReconciliation> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user, day }: GetReconciliation): Promise<Report> {
    if (user.role !== 'auditor' && !(await this.ledger.orgAccess.isRootAdmin(user))) {
      throw AppError.forbidden('AUTH.FORBIDDEN', 'only an auditor or an admin of a root organisation may reconcile payouts');
    }
    try {
      return await this.ledger.reconciliation.report(day);
    } catch (error) {
      // The gateway's own failure: not the client's, nor ours.
      if (error instanceof PaymentGatewayError) throw new AppError('PAYMENT_GATEWAY.UNAVAILABLE', error.message, 502);
      throw error;
    }
  }
}

export const PAYOUTS_QUERY_HANDLERS = [GetReconciliationHandler];
