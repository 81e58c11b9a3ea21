import { Controller, Get, Param, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { ApiParamSchema, NoQuery, parseParams, parseQuery } from '../common/validation';
import { GetReconciliation } from './payouts-queries';
import { presentReconciliation } from './present';
import { reconciliationParams } from './schemas';

@ApiTags('payouts')
@ApiBearerAuth()
@Controller('v1/admin/reconciliation')
export class ReconciliationController {
  constructor(private readonly queries: QueryBus) {}

  @Get(':date')
  @Roles('admin', 'auditor')
  @ApiParamSchema(reconciliationParams)
  @ApiOperation({
    summary: "A day's payouts against the payment gateway's statement: paid but not recorded, recorded but not paid, amounts that differ (auditors and root admins)",
  })
  async reconciliation(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { date } = parseParams(reconciliationParams, params);
    parseQuery(NoQuery, query);
    return presentReconciliation(await this.queries.execute(new GetReconciliation(user, date)));
  }
}
