import { Body, Controller, HttpCode, Post, Query } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { CsvUpload } from '../common/http-limits';
import { csvBody, importSummary } from '../common/imports';
import { NoQuery, parseQuery } from '../common/validation';
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
  @ApiBody({ description: 'The CSV file (name,national_id,phone,org_id, UTF-8); checked row by row by the importer', schema: { type: 'string', format: 'binary' } })
  @ApiOperation({ summary: 'Import the real-name roster (CSV: name,national_id,phone,org_id); rows are reported by line' })
  async members(@CurrentUser() user: JwtClaims, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return importSummary(await this.commands.execute(new ImportMembers(user, csvBody(body))));
  }
}
