import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { IdempotencyKey } from '../common/idempotency';
import { ApiBodySchema, ApiParamSchema, ApiQuerySchema, NoQuery, parseBody, parseNoBody, parseParams, parseQuery } from '../common/validation';
import { ApplyMerchant, ProposeSuspension, ReinstateMerchant, SettleMerchantDay } from './benefits-commands';
import { GetMerchant, GetMerchantLedger, ListMerchants } from './benefits-queries';
import { presentMerchant, presentProposal, presentRow, presentSettlement } from './present';
import { merchantLinesQuery, merchantParams, merchantSchema, merchantsQuery, settlementSchema, settlementsQuery, suspensionSchema } from './schemas';

/**
 * Merchants of the benefit economy for union admins: applications (admitted through a proposal),
 * suspensions (also proposed), reinstatements, the merchant's ledger and its daily settlements.
 */
@ApiTags('benefits')
@ApiBearerAuth()
@Controller('v1/admin/merchants')
export class MerchantsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post()
  @Roles('admin')
  @ApiBodySchema(merchantSchema)
  @ApiOperation({ summary: 'Record a merchant’s application to your union and propose its admission' })
  async apply(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { merchant, proposal } = await this.commands.execute(new ApplyMerchant(user, key, parseBody(merchantSchema, body)));
    return { merchant: presentMerchant(merchant), proposal: presentProposal(proposal) };
  }

  @Get()
  @Roles('admin', 'finance', 'auditor')
  @ApiQuerySchema(merchantsQuery)
  @ApiOperation({ summary: 'Merchants signed by unions of your subtree' })
  async list(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    const page = await this.queries.execute(new ListMerchants(user, parseQuery(merchantsQuery, query)));
    return { merchants: page.items.map((row) => presentRow(row as unknown as Record<string, unknown>)), nextCursor: page.nextCursor };
  }

  @Get(':merchantId')
  @Roles('admin', 'finance', 'auditor')
  @ApiParamSchema(merchantParams)
  @ApiOperation({ summary: 'One merchant' })
  async read(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentMerchant(await this.queries.execute(new GetMerchant(user, parseParams(merchantParams, params))));
  }

  @Post(':merchantId/suspension')
  @Roles('admin')
  @ApiParamSchema(merchantParams)
  @ApiBodySchema(suspensionSchema)
  @ApiOperation({ summary: 'Propose suspending a merchant (complaints); once approved it takes no new payments' })
  async suspend(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = { ...parseParams(merchantParams, params), ...parseBody(suspensionSchema, body) };
    return presentProposal(await this.commands.execute(new ProposeSuspension(user, key, input)));
  }

  @Post(':merchantId/reinstatement')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(merchantParams)
  @ApiOperation({ summary: 'Reinstate a suspended merchant' })
  async reinstate(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    parseNoBody(body);
    return presentMerchant(await this.commands.execute(new ReinstateMerchant(user, key, parseParams(merchantParams, params))));
  }

  @Post(':merchantId/settlements')
  @Roles('admin')
  @ApiParamSchema(merchantParams)
  @ApiBodySchema(settlementSchema)
  @ApiOperation({ summary: 'Close a business day (Asia/Shanghai) into a settlement; a positive one requests a payout' })
  async settle(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = { ...parseParams(merchantParams, params), ...parseBody(settlementSchema, body) };
    const result = await this.commands.execute(new SettleMerchantDay(user, key, input));
    return { merchant: presentMerchant(result.merchant), settlement: presentSettlement(result.settlement), payout: presentSettlement(result.payout) };
  }

  @Get(':merchantId/settlements')
  @Roles('admin', 'finance', 'auditor')
  @ApiParamSchema(merchantParams)
  @ApiQuerySchema(settlementsQuery)
  @ApiOperation({ summary: 'A merchant’s settlements, newest first' })
  async settlements(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const page = await this.queries.execute(new GetMerchantLedger(user, { ...parseParams(merchantParams, params), part: 'settlements', ...parseQuery(settlementsQuery, query) }));
    return { settlements: page.items.map((row) => presentRow(row as unknown as Record<string, unknown>)), nextCursor: page.nextCursor };
  }

  @Get(':merchantId/ledger')
  @Roles('admin', 'finance', 'auditor')
  @ApiParamSchema(merchantParams)
  @ApiQuerySchema(merchantLinesQuery)
  @ApiOperation({ summary: 'A merchant’s captures and refunds, newest first, with the settlement each went into' })
  async ledger(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const page = await this.queries.execute(new GetMerchantLedger(user, { ...parseParams(merchantParams, params), part: 'lines', ...parseQuery(merchantLinesQuery, query) }));
    return { lines: page.items.map((row) => presentRow(row as unknown as Record<string, unknown>)), nextCursor: page.nextCursor };
  }
}
