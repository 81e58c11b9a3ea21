import { Body, Controller, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { EventSourcedIdempotency, IdempotencyDigest, IdempotencyKey } from '../common/idempotency';
import { ApiBodySchema, ApiParamSchema, NoQuery, parseBody, parseNoBody, parseParams, parseQuery } from '../common/validation';
import { HoldPoints, SettleHold, SpendPoints } from './member-commands';
import { presentMemberResult } from './present';
import { holdParams, holdSchema, spendSchema } from './schemas';

/** Two-phase and direct spending of points; a balance never goes below zero. */
@ApiTags('members')
@ApiBearerAuth()
@Controller('v1/me')
export class SpendingController {
  constructor(private readonly commands: CommandBus) {}

  @Post('holds')
  @Roles('member')
  @ApiBodySchema(holdSchema)
  @ApiOperation({ summary: 'Hold points (two-phase spending); post or void the hold later' })
  @EventSourcedIdempotency()
  async hold(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @IdempotencyDigest() digest: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = parseBody(holdSchema, body);
    const expiresAtMs = Date.now() + input.expiresInSeconds * 1000;
    const result = await this.commands.execute(new HoldPoints(user, key, { type: 'HoldPoints', holdId: key, points: input.points, purpose: input.purpose, expiresAtMs }, digest));
    return { ...presentMemberResult(user.sub, result), holdId: key };
  }

  @Post('holds/:holdId/post')
  @ApiParamSchema(holdParams)
  @HttpCode(200)
  @Roles('member')
  @ApiOperation({ summary: 'Post a hold: the held points are spent' })
  @EventSourcedIdempotency()
  async postHold(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @IdempotencyDigest() digest: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    const { holdId } = parseParams(holdParams, params);
    parseQuery(NoQuery, query);
    parseNoBody(body);
    return presentMemberResult(user.sub, await this.commands.execute(new SettleHold(user, key, { type: 'PostHold', holdId }, digest)));
  }

  @Post('holds/:holdId/void')
  @ApiParamSchema(holdParams)
  @HttpCode(200)
  @Roles('member')
  @ApiOperation({ summary: 'Void a hold: the held points return to the available balance' })
  @EventSourcedIdempotency()
  async voidHold(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @IdempotencyDigest() digest: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    const { holdId } = parseParams(holdParams, params);
    parseQuery(NoQuery, query);
    parseNoBody(body);
    return presentMemberResult(user.sub, await this.commands.execute(new SettleHold(user, key, { type: 'VoidHold', holdId }, digest)));
  }

  @Post('spends')
  @Roles('member')
  @ApiBodySchema(spendSchema)
  @ApiOperation({ summary: 'Spend points directly' })
  @EventSourcedIdempotency()
  async spend(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @IdempotencyDigest() digest: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = parseBody(spendSchema, body);
    return presentMemberResult(user.sub, await this.commands.execute(new SpendPoints(user, key, { type: 'SpendPoints', spendId: key, points: input.points, purpose: input.purpose }, digest)));
  }
}
