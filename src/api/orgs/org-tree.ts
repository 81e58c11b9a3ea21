import { Controller, Get, Inject, Query } from '@nestjs/common';
import { Query as CqrsQuery, QueryBus, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '../../application/orgs';
import type { UnionLedger } from '../../composition-root';
import { ORG_ID } from '../../domain/orgs';
import { orgTree, type OrgTreeNode } from '../../projections/orgs';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { listRoot } from '../common/subtree';
import { ApiQuerySchema, object, optional, parseQuery, str } from '../common/validation';
import { LEDGER } from '../tokens';

/** The organisation tree with member counts, for the console's tree page. */

export const orgTreeQuery = object({ orgId: optional(str({ min: 1, max: 64, pattern: ORG_ID, description: 'the root of the tree to show (default: your own organisation)' })) });

export class GetOrgTree extends CqrsQuery<{ rootOrgId: string | null; orgs: OrgTreeNode[]; truncated: boolean }> {
  constructor(
    readonly principal: Principal,
    readonly orgId: string | undefined,
  ) {
    super();
  }
}

@QueryHandler(GetOrgTree)
export class GetOrgTreeHandler implements IQueryHandler<GetOrgTree> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ principal, orgId }: GetOrgTree) {
    const rootOrgId = await listRoot(this.ledger, principal, orgId);
    return { rootOrgId, ...(await orgTree(this.ledger.db, rootOrgId)) };
  }
}

@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/org-tree')
export class OrgTreeController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  @Roles('admin', 'finance', 'auditor')
  @ApiQuerySchema(orgTreeQuery)
  @ApiOperation({ summary: 'Your part of the union tree (auditors: all of it), each organisation with its own enrolled and activated member counts; at most 5,000 organisations' })
  async tree(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    const { orgId } = parseQuery(orgTreeQuery, query);
    return this.queries.execute(new GetOrgTree(user, orgId));
  }
}
