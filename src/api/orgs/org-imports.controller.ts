import { Body, Controller, HttpCode, Post, Query } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { CsvUpload } from '../common/http-limits';
import { csvBody, importSummary } from '../common/imports';
import { NoQuery, parseQuery } from '../common/validation';
import { ImportOrganisations } from './org-commands';

/**
 * Organisation uploads by union admins (text/csv, the same format as `union-ledger import orgs`):
 * organisations only under the admin's own subtree; rows elsewhere are rejected with ORG.FORBIDDEN.
 */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/imports')
export class OrgImportsController {
  constructor(private readonly commands: CommandBus) {}

  @Post('orgs')
  @HttpCode(200)
  @Roles('admin')
  @CsvUpload()
  @ApiBody({ description: 'The CSV file (id,name,parent_id,level, UTF-8); checked row by row by the importer', schema: { type: 'string', format: 'binary' } })
  @ApiOperation({ summary: 'Import organisations (CSV: id,name,parent_id,level); rows are reported by line' })
  async orgs(@CurrentUser() user: JwtClaims, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return importSummary(await this.commands.execute(new ImportOrganisations(user, csvBody(body))));
  }
}
