import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { AsOfError, parseAsOf, StatementCursorError, type AccountStatementPage, type BalancesAsOf, type VerificationStatus } from '../../application/audit';
import type { UnionLedger } from '../../composition-root';
import type { HeadsSealedData } from '../../domain/audit';
import type { RecordedEvent } from '../../eventstore/event-store';
import type { JwtClaims } from '../common/auth';
import { AppError } from '../common/errors';
import { LEDGER } from '../tokens';
import { ACCOUNT_NAME } from './schemas';

/**
 * The auditor routes' queries. Each is for the auditor role alone (auditors see every union, so no
 * subtree applies) and is logged as an AuditorRead event before it is answered.
 */

function auditorOnly(user: JwtClaims): void {
  if (user.role !== 'auditor') throw AppError.forbidden('AUTH.FORBIDDEN', 'only an auditor may read the audit routes');
}

export class GetBalancesAsOf extends Query<BalancesAsOf> {
  constructor(
    readonly user: JwtClaims,
    readonly asOf: string,
    readonly account: string | undefined,
    readonly limit: number,
  ) {
    super();
  }
}

@QueryHandler(GetBalancesAsOf)
export class GetBalancesAsOfHandler implements IQueryHandler<GetBalancesAsOf> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user, asOf, account, limit }: GetBalancesAsOf): Promise<BalancesAsOf> {
    auditorOnly(user);
    // Logged first: a question the service then refuses was still asked.
    await this.ledger.auditor.logAccess(user.sub, 'balances', { asOf, account: account ?? null, limit });
    const at = parseAsOf(asOf);
    if (!at) throw AppError.badRequest('AUDIT.AS_OF_INVALID', 'asOf is a global position or an ISO-8601 time');
    try {
      return await this.ledger.auditor.balances(at, { ...(account ? { account } : {}), limit });
    } catch (error) {
      if (error instanceof AsOfError) throw AppError.notFound('AUDIT.POSITION_UNKNOWN', error.message);
      throw error;
    }
  }
}

export class GetStreamEvents extends Query<RecordedEvent[]> {
  constructor(
    readonly user: JwtClaims,
    readonly streamId: string,
    readonly fromRevision: number,
    readonly limit: number,
  ) {
    super();
  }
}

@QueryHandler(GetStreamEvents)
export class GetStreamEventsHandler implements IQueryHandler<GetStreamEvents> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user, streamId, fromRevision, limit }: GetStreamEvents): Promise<RecordedEvent[]> {
    auditorOnly(user);
    await this.ledger.auditor.logAccess(user.sub, 'stream-events', { streamId, fromRevision, limit });
    return this.ledger.auditor.streamEvents(streamId, BigInt(fromRevision), limit);
  }
}

export class GetSeals extends Query<HeadsSealedData[]> {
  constructor(readonly user: JwtClaims) {
    super();
  }
}

@QueryHandler(GetSeals)
export class GetSealsHandler implements IQueryHandler<GetSeals> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user }: GetSeals): Promise<HeadsSealedData[]> {
    auditorOnly(user);
    await this.ledger.auditor.logAccess(user.sub, 'seals', {});
    return this.ledger.auditor.listSeals();
  }
}

export class GetAccountStatement extends Query<AccountStatementPage> {
  constructor(
    readonly user: JwtClaims,
    readonly account: string,
    readonly afterPosition: string | undefined,
    readonly limit: number,
  ) {
    super();
  }
}

@QueryHandler(GetAccountStatement)
export class GetAccountStatementHandler implements IQueryHandler<GetAccountStatement> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user, account, afterPosition, limit }: GetAccountStatement): Promise<AccountStatementPage> {
    auditorOnly(user);
    // Logged before the name is judged, as balances logs before its asOf is: the question was asked.
    await this.ledger.auditor.logAccess(user.sub, 'account-statement', { account, afterPosition: afterPosition ?? null, limit });
    if (!ACCOUNT_NAME.test(account)) {
      throw AppError.badRequest('AUDIT.ACCOUNT_INVALID', 'an account is a lower-case kind and one to four colon-separated parts, e.g. member:42:available');
    }
    try {
      return await this.ledger.auditor.accountStatement(account, afterPosition === undefined ? null : BigInt(afterPosition), limit);
    } catch (error) {
      if (error instanceof StatementCursorError) throw AppError.notFound('AUDIT.POSITION_UNKNOWN', error.message);
      throw error;
    }
  }
}

export class GetVerification extends Query<VerificationStatus> {
  constructor(readonly user: JwtClaims) {
    super();
  }
}

@QueryHandler(GetVerification)
export class GetVerificationHandler implements IQueryHandler<GetVerification> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user }: GetVerification): Promise<VerificationStatus> {
    auditorOnly(user);
    await this.ledger.auditor.logAccess(user.sub, 'verification', {});
    return this.ledger.auditor.verifications.status();
  }
}

export const AUDIT_QUERY_HANDLERS = [GetBalancesAsOfHandler, GetStreamEventsHandler, GetSealsHandler, GetAccountStatementHandler, GetVerificationHandler];
