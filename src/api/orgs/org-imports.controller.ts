import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { CsvUpload } from '../common/http-limits';
import { csvBody, importSummary } from '../common/imports';
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
  @ApiOperation({ summary: 'Import organisations (CSV: id,name,parent_id,level); rows are reported by line' })
  async orgs(@CurrentUser() user: JwtClaims, @Body() body: unknown) {
    return importSummary(await this.commands.execute(new ImportOrganisations(user, csvBody(body))));
  }
}
