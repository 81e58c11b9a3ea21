import { Controller, Get, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { AppError } from '../common/errors';
import { NoQuery, parseQuery } from '../common/validation';
import { GetEvaluations, GetMemberState } from './member-queries';

@ApiTags('members')
@ApiBearerAuth()
@Controller('v1/me')
export class MemberQueriesController {
  constructor(private readonly queries: QueryBus) {}

  @Get('balance')
  @Roles('member')
  @ApiOperation({ summary: 'Available, held and lifetime-earned points, as of the latest event' })
  async balance(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { state, revision } = await this.queries.execute(new GetMemberState(user.sub));
    if (state.status === 'none') throw AppError.notFound('MEMBER.NOT_FOUND', 'no such member');
    return {
      memberId: user.sub,
      status: state.status,
      availablePoints: state.available,
      heldPoints: state.held,
      lifetimeEarnedPoints: state.lifetimeEarned,
      streak: state.streak,
      lastCheckInDay: state.lastCheckInDay,
      asOfRevision: revision.toString(),
    };
  }

  @Get('insurance')
  @Roles('member')
  @ApiOperation({
    summary: 'The member’s insurance: the accident mutual-aid cover activation earned, with its policy number and term once the insurer enrolled them',
  })
  async insurance(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { state, revision } = await this.queries.execute(new GetMemberState(user.sub));
    if (state.status === 'none') throw AppError.notFound('MEMBER.NOT_FOUND', 'no such member');
    return {
      memberId: user.sub,
      // 'requested' until the insurance worker has the insurer's answer (seconds), then 'granted' or 'failed'.
      policies: [...state.insurance].map(([grantId, grant]) => ({ grantId, ...grant })),
      asOfRevision: revision.toString(),
    };
  }

  @Get('evaluations')
  @Roles('member')
  @ApiOperation({ summary: 'The member’s past evaluations, newest first' })
  async evaluations(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return { evaluations: await this.queries.execute(new GetEvaluations(user.sub)) };
  }
}
