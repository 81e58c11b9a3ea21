import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { IdempotencyKey } from '../common/idempotency';
import { object, parseBody, str, toJsonSchema } from '../common/validation';
import { RebindMemberLogin } from './identity-commands';

const rebindSchema = object({ loginKey: str({ min: 64, max: 64, pattern: /^[0-9a-f]{64}$/ }) });

@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/members')
export class MemberLoginsController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':memberId/login')
  @HttpCode(200)
  @Roles('admin')
  @ApiBody({ schema: toJsonSchema(rebindSchema) })
  @ApiOperation({
    summary: "Bind a member's new WeChat login (they changed phone): the login key is the subject of the member's new visitor session; ends their old sessions",
  })
  async rebind(@CurrentUser() admin: JwtClaims, @IdempotencyKey() key: string, @Param('memberId') memberId: string, @Body() body: unknown) {
    const input = parseBody(rebindSchema, body);
    return this.commands.execute(new RebindMemberLogin(admin, key, memberId, input.loginKey));
  }
}
