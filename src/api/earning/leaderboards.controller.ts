import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { LEADERBOARD_PERIODS, LEADERBOARD_TOP_MAX, type LeaderboardPeriod } from '../../projections/earning';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { AppError } from '../common/errors';
import { oneOf, parseBody } from '../common/validation';
import { GetLeaderboard, GetRank } from './earning-queries';

const periodSchema = oneOf(LEADERBOARD_PERIODS);

@ApiTags('members')
@ApiBearerAuth()
@Controller('v1')
export class LeaderboardsController {
  constructor(private readonly queries: QueryBus) {}

  @Get('leaderboards/:orgId')
  @Roles('member', 'admin', 'finance', 'auditor')
  @ApiOperation({ summary: 'Top N of an organisation (the member’s own unit or an ancestor; admins: their subtree)' })
  async leaderboard(@CurrentUser() user: JwtClaims, @Param('orgId') orgId: string, @Query('period') periodText = 'week', @Query('top') topText = '100') {
    const period = parseBody(periodSchema, periodText) as LeaderboardPeriod;
    const top = Number(topText);
    if (!Number.isInteger(top) || top < 1 || top > LEADERBOARD_TOP_MAX) {
      throw AppError.badRequest('VALIDATION.FAILED', `top must be an integer from 1 to ${LEADERBOARD_TOP_MAX}`);
    }
    return this.queries.execute(new GetLeaderboard(user, orgId, period, top));
  }

  @Get('me/rank')
  @Roles('member')
  @ApiOperation({ summary: 'The member’s rank in one of their organisations' })
  async rank(@CurrentUser() user: JwtClaims, @Query('orgId') orgIdText?: string, @Query('period') periodText = 'week') {
    const period = parseBody(periodSchema, periodText) as LeaderboardPeriod;
    return this.queries.execute(new GetRank(user, orgIdText ?? user.org, period));
  }
}
