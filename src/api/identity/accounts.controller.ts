import { Body, Controller, Post, Query } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { Unrecorded } from '../common/unrecorded';
import { ApiBodySchema, NoQuery, parseBody, parseQuery } from '../common/validation';
import { accountSchema } from './schemas';
import { CreateAccount, type AccountRole } from './identity-commands';

@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/accounts')
export class AccountsController {
  constructor(private readonly commands: CommandBus) {}

  @Post()
  @Roles('admin')
  @Unrecorded()
  @ApiBodySchema(accountSchema)
  @ApiOperation({ summary: 'Create an admin, finance approver, auditor or merchant terminal account (root admins only; a terminal’s orgId is an admitted merchant’s id); the answer holds its one-time password, shown once' })
  async create(@CurrentUser() admin: JwtClaims, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = parseBody(accountSchema, body);
    return this.commands.execute(new CreateAccount(admin, { ...input, role: input.role as AccountRole, totp: input.totp ?? false }));
  }
}
