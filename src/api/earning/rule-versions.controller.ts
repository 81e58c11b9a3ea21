import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../common/auth';
import { ApiParamSchema, ApiQuerySchema, NoQuery, parseParams, parseQuery } from '../common/validation';
import { GetRuleHistory, GetRuleVersion } from './earning-queries';
import { ruleHistoryQuery, ruleVersionParams } from './schemas';

/**
 * The earning rules' history, for the console's editor and its diff between versions. The rules
 * are ledger-wide (not scoped to a subtree), so the same roles that read the current rules read
 * every earlier version.
 */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/earning-rules/versions')
export class RuleVersionsController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  @Roles('admin', 'auditor')
  @ApiQuerySchema(ruleHistoryQuery)
  @ApiOperation({ summary: 'Published versions of the earning rules, newest first: version, when, by whom' })
  async history(@Query() query: unknown) {
    const { limit } = parseQuery(ruleHistoryQuery, query);
    return this.queries.execute(new GetRuleHistory(limit));
  }

  @Get(':version')
  @Roles('admin', 'auditor')
  @ApiParamSchema(ruleVersionParams)
  @ApiOperation({ summary: 'One published version of the earning rules (RULES.VERSION_NOT_FOUND otherwise)' })
  async version(@Param() params: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { version } = parseParams(ruleVersionParams, params);
    return this.queries.execute(new GetRuleVersion(Number(version)));
  }
}
