import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { ApiParamSchema, ApiQuerySchema, NoQuery, parseParams, parseQuery } from '../common/validation';
import { GetAccountStatement, GetBalancesAsOf, GetSeals, GetStreamEvents, GetVerification } from './audit-queries';
import { accountParams, accountStatementQuery, balancesQuery, streamEventsQuery, streamParams } from './schemas';

/** Read-only routes for finance auditors; every call is logged as an AuditorRead event. */
@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
export class AuditController {
  constructor(private readonly queries: QueryBus) {}

  @Get('balances')
  @Roles('auditor')
  @ApiQuerySchema(balancesQuery)
  @ApiOperation({ summary: "Every account's balance per asset and the trial balance as of a global position or a time, folded from the events (auditors; logged)" })
  async balances(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    const { asOf, account, limit = 1_000 } = parseQuery(balancesQuery, query);
    return this.queries.execute(new GetBalancesAsOf(user, asOf, account, limit));
  }

  @Get('streams/:streamId/events')
  @Roles('auditor')
  @ApiParamSchema(streamParams)
  @ApiQuerySchema(streamEventsQuery)
  @ApiOperation({ summary: "Any stream's events as stored, from a revision (auditors; logged)" })
  async streamEvents(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { streamId } = parseParams(streamParams, params);
    const { fromRevision = 0, limit = 100 } = parseQuery(streamEventsQuery, query);
    const events = await this.queries.execute(new GetStreamEvents(user, streamId, fromRevision, limit));
    return {
      events: events.map((event) => ({
        eventId: event.eventId,
        streamId: event.streamId,
        revision: event.revision.toString(),
        globalPosition: event.globalPosition.toString(),
        type: event.type,
        schemaVersion: event.schemaVersion,
        data: event.data,
        metadata: event.metadata,
        recordedAt: event.recordedAt.toISOString(),
      })),
    };
  }

  @Get('seals')
  @Roles('auditor')
  @ApiOperation({ summary: 'Every seal of the stream heads, oldest first, each naming the root before it (auditors; logged)' })
  async seals(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return { seals: await this.queries.execute(new GetSeals(user)) };
  }

  @Get('accounts/:account/statement')
  @Roles('auditor')
  @ApiParamSchema(accountParams)
  @ApiQuerySchema(accountStatementQuery)
  @ApiOperation({ summary: "Any account's postings in feed order, read from the events, paged by global position (auditors; logged)" })
  async accountStatement(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { account } = parseParams(accountParams, params);
    const { afterPosition, limit = 100 } = parseQuery(accountStatementQuery, query);
    return this.queries.execute(new GetAccountStatement(user, account, afterPosition, limit));
  }

  @Get('verification')
  @Roles('auditor')
  @ApiOperation({
    summary:
      "The last full verification (hash chains and double entry, as `union-ledger verify`), with its feed position and times; a stale or missing one starts a new run in the background (auditors; logged)",
  })
  async verification(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return this.queries.execute(new GetVerification(user));
  }
}
