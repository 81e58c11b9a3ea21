import { Body, Controller, HttpCode, Inject, Post, Query } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AUTH_SETTINGS, CurrentUser, Roles, signJwt, type AuthSettings, type JwtClaims } from '../common/auth';
import { IdempotencyKey } from '../common/idempotency';
import { ApiBodySchema, NoQuery, parseBody, parseQuery } from '../common/validation';
import { ActivateMember } from './member-commands';
import { presentMemberResult } from './present';
import { activationSchema } from './schemas';

const MEMBER_TOKEN_TTL_SECONDS = 7 * 24 * 3600;

@ApiTags('members')
@ApiBearerAuth()
@Controller('v1')
export class ActivationController {
  constructor(
    private readonly commands: CommandBus,
    @Inject(AUTH_SETTINGS) private readonly auth: AuthSettings,
  ) {}

  @Post('activation')
  @HttpCode(200)
  @Roles('member')
  @ApiOperation({ summary: 'Activate a member by national ID number and name; returns a member token' })
  @ApiBodySchema(activationSchema)
  async activate(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = parseBody(activationSchema, body);
    const { memberId, result } = await this.commands.execute(new ActivateMember(user, key, input.nationalId, input.name));
    const token = signJwt({ sub: memberId, role: 'member', org: result.state.orgId }, this.auth.jwtSecret, { ttlSeconds: MEMBER_TOKEN_TTL_SECONDS });
    return { ...presentMemberResult(memberId, result), orgId: result.state.orgId, token };
  }
}
