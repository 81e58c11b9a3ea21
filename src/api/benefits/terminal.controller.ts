import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { IdempotencyKey } from '../common/idempotency';
import { ApiBodySchema, ApiParamSchema, ApiQuerySchema, NoQuery, parseBody, parseNoBody, parseParams, parseQuery } from '../common/validation';
import { AuthorisePayment, CapturePayment, RefundPayment, VoidPayment } from './benefits-commands';
import { GetMerchantLedger, GetPayment } from './benefits-queries';
import { presentPayment, presentRow } from './present';
import { amountSchema, authoriseSchema, paymentParams, settlementsQuery } from './schemas';

/**
 * A merchant's till terminal: authorise an amount against a member's payment code (vouchers
 * first, then the wallet), capture it (possibly less) or void it, refund up to what was captured.
 * Every step is exactly once per Idempotency-Key.
 */
@ApiTags('benefits')
@ApiBearerAuth()
@Controller('v1/merchant')
export class TerminalController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post('payments')
  @Roles('merchant')
  @ApiBodySchema(authoriseSchema)
  @ApiOperation({ summary: 'Authorise an amount against the member’s one-time payment code: the amount is held on their vouchers and wallet' })
  async authorise(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { payment } = await this.commands.execute(new AuthorisePayment(user, key, parseBody(authoriseSchema, body)));
    return presentPayment(payment);
  }

  @Get('payments/:paymentId')
  @Roles('merchant')
  @ApiParamSchema(paymentParams)
  @ApiOperation({ summary: 'One of this merchant’s payments' })
  async read(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentPayment(await this.queries.execute(new GetPayment(user, parseParams(paymentParams, params))));
  }

  @Post('payments/:paymentId/capture')
  @HttpCode(200)
  @Roles('merchant')
  @ApiParamSchema(paymentParams)
  @ApiBodySchema(amountSchema)
  @ApiOperation({ summary: 'Capture up to the authorised amount (vouchers first); the rest returns to the member' })
  async capture(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = { ...parseParams(paymentParams, params), ...parseBody(amountSchema, body) };
    return presentPayment((await this.commands.execute(new CapturePayment(user, key, input))).payment);
  }

  @Post('payments/:paymentId/void')
  @HttpCode(200)
  @Roles('merchant')
  @ApiParamSchema(paymentParams)
  @ApiOperation({ summary: 'Void an authorisation: everything held returns to the member' })
  async void(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    parseNoBody(body);
    return presentPayment((await this.commands.execute(new VoidPayment(user, key, parseParams(paymentParams, params)))).payment);
  }

  @Post('payments/:paymentId/refunds')
  @Roles('merchant')
  @ApiParamSchema(paymentParams)
  @ApiBodySchema(amountSchema)
  @ApiOperation({ summary: 'Refund part or all of a captured payment (the refund id is the Idempotency-Key)' })
  async refund(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = { ...parseParams(paymentParams, params), ...parseBody(amountSchema, body) };
    const result = await this.commands.execute(new RefundPayment(user, key, input));
    return { refundId: result.refundId, payment: presentPayment(result.payment) };
  }

  @Get('settlements')
  @Roles('merchant')
  @ApiQuerySchema(settlementsQuery)
  @ApiOperation({ summary: 'This merchant’s settlements, newest first' })
  async settlements(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    const page = await this.queries.execute(new GetMerchantLedger(user, { merchantId: user.org, part: 'settlements', ...parseQuery(settlementsQuery, query) }));
    return { settlements: page.items.map((row) => presentRow(row as unknown as Record<string, unknown>)), nextCursor: page.nextCursor };
  }
}
