import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { IdempotencyKey } from '../common/idempotency';
import { ApiBodySchema, ApiParamSchema, ApiQuerySchema, NoQuery, parseBody, parseNoBody, parseParams, parseQuery } from '../common/validation';
import { CancelOrder, CollectOrder, ConfirmOrder, DispatchOrder, GetMemberOrders, GetOrder, GetUnitPickups, PlaceOrder, ReturnOrder } from './mall-commands';
import { presentOrder } from './present';
import { collectSchema, orderParams, ordersQuery, pickupsQuery, placeOrderSchema, returnSchema, unitParams } from './schemas';

/**
 * Mall orders: a member places (stock reserved, points held, wallet authorised) and confirms
 * (captured) or cancels (released); an unpaid order expires. The unit admin hands a pickup over
 * on the member's code, dispatches a delivery, and takes returns (refunded).
 */
@ApiTags('mall')
@ApiBearerAuth()
@Controller('v1')
export class OrdersController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post('me/mall/orders')
  @Roles('member')
  @ApiBodySchema(placeOrderSchema)
  @ApiOperation({ summary: 'Place an order: stock is reserved, the points held and the yuan authorised on your wallet and vouchers until you confirm or the time runs out' })
  async place(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentOrder(await this.commands.execute(new PlaceOrder(user, key, parseBody(placeOrderSchema, body))));
  }

  @Get('me/mall/orders')
  @Roles('member')
  @ApiQuerySchema(ordersQuery)
  @ApiOperation({ summary: 'Your orders, newest first (page with `before`)' })
  async mine(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    const page = await this.queries.execute(new GetMemberOrders(user, parseQuery(ordersQuery, query)));
    return { orders: page.items.map((row) => presentOrder({ ...row })), nextCursor: page.nextCursor };
  }

  @Post('me/mall/orders/:orderId/confirm')
  @HttpCode(200)
  @Roles('member')
  @ApiParamSchema(orderParams)
  @ApiOperation({ summary: 'Pay a reserved order: the points and yuan held are captured (of a confirm and a cancel racing, one wins; the other answers 409)' })
  async confirm(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    parseNoBody(body);
    return presentOrder(await this.commands.execute(new ConfirmOrder(user, key, parseParams(orderParams, params))));
  }

  @Post('mall/orders/:orderId/cancel')
  @HttpCode(200)
  @Roles('member', 'admin')
  @ApiParamSchema(orderParams)
  @ApiOperation({ summary: 'Cancel an unpaid order (the member, or an admin of their unit’s tree): stock, points and yuan are released' })
  async cancel(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    parseNoBody(body);
    return presentOrder(await this.commands.execute(new CancelOrder(user, key, parseParams(orderParams, params))));
  }

  @Get('mall/orders/:orderId')
  @Roles('member', 'admin', 'auditor')
  @ApiParamSchema(orderParams)
  @ApiOperation({ summary: 'One order from its stream (the member sees their pickup code)' })
  async read(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentOrder(await this.queries.execute(new GetOrder(user, parseParams(orderParams, params))));
  }

  @Post('admin/mall/orders/:orderId/collect')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(orderParams)
  @ApiBodySchema(collectSchema)
  @ApiOperation({ summary: 'Hand a paid pickup order over at the unit: the member’s code is checked' })
  async collect(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentOrder(await this.commands.execute(new CollectOrder(user, key, { ...parseParams(orderParams, params), ...parseBody(collectSchema, body) })));
  }

  @Post('admin/mall/orders/:orderId/dispatch')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(orderParams)
  @ApiOperation({ summary: 'Record a paid delivery order as dispatched' })
  async dispatch(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    parseNoBody(body);
    return presentOrder(await this.commands.execute(new DispatchOrder(user, key, parseParams(orderParams, params))));
  }

  @Post('admin/mall/orders/:orderId/return')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(orderParams)
  @ApiBodySchema(returnSchema)
  @ApiOperation({ summary: 'Take a paid order back: its points and yuan are refunded, once' })
  async return(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentOrder(await this.commands.execute(new ReturnOrder(user, key, { ...parseParams(orderParams, params), ...parseBody(returnSchema, body) })));
  }

  @Get('admin/mall/units/:orgId/pickups')
  @Roles('admin')
  @ApiParamSchema(unitParams)
  @ApiQuerySchema(pickupsQuery)
  @ApiOperation({ summary: 'A unit’s pickup orders (default: paid, waiting to be collected), newest first' })
  async pickups(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const page = await this.queries.execute(new GetUnitPickups(user, { ...parseParams(unitParams, params), ...parseQuery(pickupsQuery, query) }));
    return { orders: page.items.map((row) => presentOrder({ ...row })), nextCursor: page.nextCursor };
  }
}
