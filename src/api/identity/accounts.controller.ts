import { Body, Controller, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { Unrecorded } from '../common/unrecorded';
import { bool, object, oneOf, optional, parseBody, str, toJsonSchema } from '../common/validation';
import { ACCOUNT_ROLES, CreateAccount, type AccountRole } from './identity-commands';

const accountSchema = object({
  username: str({ min: 3, max: 64 }),
  name: str({ min: 1, max: 50 }),
  orgId: str({ min: 1, max: 64 }),
  role: oneOf(ACCOUNT_ROLES),
  totp: optional(bool()),
});

@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/accounts')
export class AccountsController {
  constructor(private readonly commands: CommandBus) {}

  @Post()
  @Roles('admin')
  @Unrecorded()
  @ApiBody({ schema: toJsonSchema(accountSchema) })
  @ApiOperation({ summary: 'Create an admin, finance approver or auditor account (root admins only); the answer holds its one-time password, shown once' })
  async create(@CurrentUser() admin: JwtClaims, @Body() body: unknown) {
    const input = parseBody(accountSchema, body);
    return this.commands.execute(new CreateAccount(admin, { ...input, role: input.role as AccountRole, totp: input.totp ?? false }));
  }
}
