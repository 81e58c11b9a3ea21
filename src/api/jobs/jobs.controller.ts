import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { ApiParamSchema, ApiQuerySchema, NoQuery, parseNoBody, parseParams, parseQuery } from '../common/validation';
import { GetFailedJobs, RetryJob } from './jobs-handlers';
import { failedJobsQuery, jobParams } from './schemas';

/** Dead letters: jobs whose attempts ran out, and sending one back to its queue. */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/jobs')
export class JobsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Get('failed')
  @Roles('admin')
  @ApiQuerySchema(failedJobsQuery)
  @ApiOperation({ summary: 'Failed jobs of a queue (attempts ran out), most recent first: the request each was for (ids only) and why it failed (root admins only)' })
  async failed(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    const { queue, cursor, limit = 20 } = parseQuery(failedJobsQuery, query);
    return this.queries.execute(new GetFailedJobs(user, queue, cursor === undefined ? 0 : Number(cursor), limit));
  }

  @Post(':queue/:jobId/retry')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(jobParams)
  @ApiOperation({ summary: 'Send a failed job back to its queue with its attempts renewed (root admins only); the worker asks the outside service for the status first' })
  async retry(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    const { queue, jobId } = parseParams(jobParams, params);
    parseQuery(NoQuery, query);
    parseNoBody(body);
    return this.commands.execute(new RetryJob(user, queue, jobId));
  }
}
