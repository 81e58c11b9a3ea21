import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { ApiParamSchema, ApiQuerySchema, parseParams, parseQuery } from '../common/validation';
import { GetImport } from './imports-queries';
import { importParams, importQuery } from './schemas';

/** Roster imports that run as jobs: progress and the report of rejected rows, by line and code. */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/imports')
export class ImportsController {
  constructor(private readonly queries: QueryBus) {}

  @Get(':importId')
  @Roles('admin')
  @ApiParamSchema(importParams)
  @ApiQuerySchema(importQuery)
  @ApiOperation({
    summary:
      "A roster import's progress (queued, running, completed; rows done of total, applied, unchanged, rejected) and a page of its rejected rows by line and code (admins of the uploader's subtree)",
  })
  async get(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { importId } = parseParams(importParams, params);
    const { afterLine = 0, limit = 100 } = parseQuery(importQuery, query);
    const { progress, rejectedRows, nextAfterLine } = await this.queries.execute(new GetImport(user, importId, afterLine, limit));
    return {
      importId: progress.importId,
      kind: progress.kind,
      state: progress.state,
      uploadedBy: progress.uploaderId,
      orgScope: progress.orgScope,
      rows: { total: progress.rowsTotal, done: progress.rowsDone, applied: progress.applied, unchanged: progress.unchanged, rejected: progress.rejected },
      file: { sizeBytes: progress.sizeBytes, sha256: progress.fileDigest },
      requestedAt: progress.requestedAt,
      updatedAt: progress.updatedAt,
      completedAt: progress.completedAt,
      report: { rejectedRows, nextAfterLine },
    };
  }
}
