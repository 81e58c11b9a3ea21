import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { CsvUpload } from '../common/http-limits';
import { csvBody, importSummary } from '../common/imports';
import { ImportMembers } from './member-commands';

/**
 * The real-name roster upload by union admins (text/csv, the same format as `union-ledger import
 * members`): members only into unions of the admin's own subtree; rows elsewhere are rejected
 * with ORG.FORBIDDEN.
 */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/imports')
export class MemberImportsController {
  constructor(private readonly commands: CommandBus) {}

  @Post('members')
  @HttpCode(200)
  @Roles('admin')
  @CsvUpload()
  @ApiOperation({ summary: 'Import the real-name roster (CSV: name,national_id,phone,org_id); rows are reported by line' })
  async members(@CurrentUser() user: JwtClaims, @Body() body: unknown) {
    return importSummary(await this.commands.execute(new ImportMembers(user, csvBody(body))));
  }
}
