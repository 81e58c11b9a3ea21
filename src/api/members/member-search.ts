import { Controller, Get, Inject, Query } from '@nestjs/common';
import { Query as CqrsQuery, QueryBus, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '../../application/orgs';
import type { UnionLedger } from '../../composition-root';
import { ORG_ID } from '../../domain/orgs';
import { MEMBER_SEARCH_MAX, searchMembers, type MemberSearchHit } from '../../projections/members';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { listRoot } from '../common/subtree';
import { ApiQuerySchema, int, object, optional, parseQuery, str } from '../common/validation';
import { LEDGER } from '../tokens';

/**
 * Member search for the console: by the start of a name or a member id, within the caller's
 * subtree, answering masked names only (no ID number, phone or card ever leaves the vault here).
 */

export const memberSearchQuery = object({
  q: str({ min: 1, max: 64, description: 'the start of a name or of a member id' }),
  orgId: optional(str({ min: 1, max: 64, pattern: ORG_ID, description: 'search under this organisation (default: your own)' })),
  limit: optional(int({ min: 1, max: MEMBER_SEARCH_MAX })),
});

export class SearchMembers extends CqrsQuery<{ members: MemberSearchHit[] }> {
  constructor(
    readonly principal: Principal,
    readonly input: { q: string; orgId?: string | undefined; limit?: number | undefined },
  ) {
    super();
  }
}

@QueryHandler(SearchMembers)
export class SearchMembersHandler implements IQueryHandler<SearchMembers> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ principal, input }: SearchMembers) {
    const rootOrgId = await listRoot(this.ledger, principal, input.orgId);
    return { members: await searchMembers(this.ledger.db, { rootOrgId, text: input.q.trim(), limit: input.limit ?? 20 }) };
  }
}

@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/member-search')
export class MemberSearchController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  @Roles('admin', 'auditor')
  @ApiQuerySchema(memberSearchQuery)
  @ApiOperation({ summary: 'Members of your subtree whose name or member id starts with q; names masked (张*), no other personal data' })
  async search(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    return this.queries.execute(new SearchMembers(user, parseQuery(memberSearchQuery, query)));
  }
}
