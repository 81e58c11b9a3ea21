import { Body, Controller, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { IdempotencyKey } from '../common/idempotency';
import { ApiBodySchema, ApiParamSchema, NoQuery, parseBody, parseParams, parseQuery } from '../common/validation';
import { memberParams, rebindSchema } from './schemas';
import { RebindMemberLogin } from './identity-commands';

@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/members')
export class MemberLoginsController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':memberId/login')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(memberParams)
  @ApiBodySchema(rebindSchema)
  @ApiOperation({
    summary: "Bind a member's new WeChat login (they changed phone): the login key is the subject of the member's new visitor session; ends their old sessions",
  })
  async rebind(@CurrentUser() admin: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { memberId } = parseParams(memberParams, params);
    const input = parseBody(rebindSchema, body);
    return this.commands.execute(new RebindMemberLogin(admin, key, memberId, input.loginKey));
  }
}
