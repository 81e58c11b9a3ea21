import { Body, Controller, HttpCode, Post, Query, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiAcceptedResponse, ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { CsvUpload } from '../common/http-limits';
import { csvBody, importSummary } from '../common/imports';
import { NoQuery, parseQuery } from '../common/validation';
import { ImportMembers } from './member-commands';

/**
 * The real-name roster upload by union admins (text/csv, the same format as `union-ledger import
 * members`): members only into unions of the admin's own subtree; rows elsewhere are rejected
 * with ORG.FORBIDDEN. A file of fewer than IMPORT_ASYNC_MIN_ROWS rows is imported in the request
 * (200 and the report); a larger one is stored sealed and imported by the imports worker (202, an
 * import id, and where to follow it: GET /v1/admin/imports/:importId).
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
  @ApiOperation({
    summary: 'Import the real-name roster (CSV: name,national_id,phone,org_id); rows are reported by line. Files of IMPORT_ASYNC_MIN_ROWS rows or more run as a job (202)',
  })
  @ApiOkResponse({ description: 'A small file, imported in the request: totals and the rejected rows by line' })
  @ApiAcceptedResponse({
    description: 'A large file, stored sealed and imported by the imports worker: follow it at statusUrl',
    schema: {
      type: 'object',
      properties: { importId: { type: 'string', format: 'uuid' }, statusUrl: { type: 'string' }, rows: { type: 'integer' } },
      required: ['importId', 'statusUrl', 'rows'],
    },
  })
  async members(@CurrentUser() user: JwtClaims, @Body() body: unknown, @Query() query: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    parseQuery(NoQuery, query);
    const upload = await this.commands.execute(new ImportMembers(user, csvBody(body)));
    if ('report' in upload) return importSummary(upload.report);
    void reply.status(202).header('location', `/v1/admin/imports/${upload.job.importId}`);
    return { importId: upload.job.importId, statusUrl: `/v1/admin/imports/${upload.job.importId}`, rows: upload.job.rowCount };
  }
}
