import { Controller, Get, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../common/auth';
import { NoQuery, parseQuery } from '../common/validation';
import { GetProjectionsStatus } from './ledger-queries';

@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin')
export class ProjectionsController {
  constructor(private readonly queries: QueryBus) {}

  @Get('projections')
  @Roles('admin', 'auditor')
  @ApiOperation({ summary: 'Projection checkpoints and lag (p50/p99 over recent events)' })
  async projections(@Query() query: unknown) {
    parseQuery(NoQuery, query);
    return this.queries.execute(new GetProjectionsStatus());
  }
}
