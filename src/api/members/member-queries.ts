import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { UnionLedger } from '../../composition-root';
import type { MemberState } from '../../domain/members';
import { memberEvaluations } from '../../projections/members';
import { LEDGER } from '../tokens';

/** The members context's queries as @nestjs/cqrs queries: one class and one handler each. */

/** The member's state as of the latest event (the command handler's cache, checked against the stream). */
export class GetMemberState extends Query<{ state: MemberState; revision: bigint }> {
  constructor(readonly memberId: string) {
    super();
  }
}

@QueryHandler(GetMemberState)
export class GetMemberStateHandler implements IQueryHandler<GetMemberState> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  execute({ memberId }: GetMemberState) {
    return this.ledger.members.load(memberId);
  }
}

export class GetEvaluations extends Query<Array<Record<string, unknown>>> {
  constructor(readonly memberId: string) {
    super();
  }
}

@QueryHandler(GetEvaluations)
export class GetEvaluationsHandler implements IQueryHandler<GetEvaluations> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  execute({ memberId }: GetEvaluations) {
    return memberEvaluations(this.ledger.store, memberId);
  }
}

export const MEMBER_QUERY_HANDLERS = [GetMemberStateHandler, GetEvaluationsHandler];
