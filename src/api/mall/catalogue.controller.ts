import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { IdempotencyKey } from '../common/idempotency';
import { ApiBodySchema, ApiParamSchema, ApiQuerySchema, NoQuery, parseBody, parseNoBody, parseParams, parseQuery } from '../common/validation';
import { GetCatalogue, GetSku, GetStock, ListSku, Restock, WithdrawSku } from './mall-commands';
import { presentSku } from './present';
import { catalogueQuery, listSkuSchema, restockSchema, skuParams } from './schemas';

/** The welfare mall's catalogue and stock: union admins list and stock SKUs for their subtree; members browse what their units list. */
@ApiTags('mall')
@ApiBearerAuth()
@Controller('v1')
export class CatalogueController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post('admin/mall/skus')
  @Roles('admin')
  @ApiBodySchema(listSkuSchema)
  @ApiOperation({ summary: 'List a SKU (points and/or yuan per unit) for the subtree of a union you administer' })
  async list(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentSku({ ...(await this.commands.execute(new ListSku(user, key, parseBody(listSkuSchema, body)))) });
  }

  @Post('admin/mall/skus/:skuId/withdraw')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(skuParams)
  @ApiOperation({ summary: 'Withdraw a SKU from sale (orders already placed go on)' })
  async withdraw(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    parseNoBody(body);
    const state = await this.commands.execute(new WithdrawSku(user, key, parseParams(skuParams, params)));
    return { skuId: state.listing?.skuId, status: state.status };
  }

  @Post('admin/mall/skus/:skuId/stock')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(skuParams)
  @ApiBodySchema(restockSchema)
  @ApiOperation({ summary: 'Add units to a SKU’s stock, spread over its shards (the Idempotency-Key names the restock: a retry adds nothing twice)' })
  async restock(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return this.commands.execute(new Restock(user, key, { ...parseParams(skuParams, params), ...parseBody(restockSchema, body) }));
  }

  @Get('mall/skus')
  @Roles('member', 'admin')
  @ApiQuerySchema(catalogueQuery)
  @ApiOperation({ summary: 'The catalogue: SKUs listed for you (a member: by your units; an admin: in your subtree), with stock from the read model' })
  async catalogue(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    const page = await this.queries.execute(new GetCatalogue(user, parseQuery(catalogueQuery, query)));
    return { skus: page.items.map((row) => presentSku({ ...row })), nextCursor: page.nextCursor };
  }

  @Get('mall/skus/:skuId')
  @Roles('member', 'admin', 'auditor')
  @ApiParamSchema(skuParams)
  @ApiOperation({ summary: 'One SKU with its stock per shard (read model)' })
  async sku(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { sku, shards } = await this.queries.execute(new GetSku(user, parseParams(skuParams, params)));
    return { sku: sku ? presentSku({ ...sku }) : null, shards };
  }

  @Get('mall/skus/:skuId/stock')
  @Roles('member', 'admin', 'auditor')
  @ApiParamSchema(skuParams)
  @ApiOperation({ summary: 'A SKU’s stock from its shards’ streams (never lags): available, reserved by unpaid orders, sold' })
  async stock(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return this.queries.execute(new GetStock(user, parseParams(skuParams, params)));
  }
}
