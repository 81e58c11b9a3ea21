import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { ApiParamSchema, ApiQuerySchema, parseParams, parseQuery } from '../common/validation';
import { GetLeaderboard, GetRank } from './earning-queries';
import { leaderboardParams, leaderboardQuery, rankQuery } from './schemas';

@ApiTags('members')
@ApiBearerAuth()
@Controller('v1')
export class LeaderboardsController {
  constructor(private readonly queries: QueryBus) {}

  @Get('leaderboards/:orgId')
  @Roles('member', 'admin', 'finance', 'auditor')
  @ApiParamSchema(leaderboardParams)
  @ApiQuerySchema(leaderboardQuery)
  @ApiOperation({ summary: 'Top N of an organisation (the member’s own unit or an ancestor; admins: their subtree)' })
  async leaderboard(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { orgId } = parseParams(leaderboardParams, params);
    const { period = 'week', top = 100 } = parseQuery(leaderboardQuery, query);
    return this.queries.execute(new GetLeaderboard(user, orgId, period, top));
  }

  @Get('me/rank')
  @Roles('member')
  @ApiQuerySchema(rankQuery)
  @ApiOperation({ summary: 'The member’s rank in one of their organisations' })
  async rank(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    const { orgId = user.org, period = 'week' } = parseQuery(rankQuery, query);
    return this.queries.execute(new GetRank(user, orgId, period));
  }
}
