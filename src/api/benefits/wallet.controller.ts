import { Body, Controller, Get, Post, Put, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { IdempotencyKey } from '../common/idempotency';
import { ApiBodySchema, ApiQuerySchema, NoQuery, parseBody, parseNoBody, parseQuery } from '../common/validation';
import { BindCard, IssuePaymentCode } from './benefits-commands';
import { GetWallet, GetWalletStatement } from './benefits-queries';
import { presentRow, presentWallet } from './present';
import { cardSchema, walletStatementQuery } from './schemas';

/** The member's benefit wallet (工会E卡): balance, vouchers, bank card, statement and payment codes. */
@ApiTags('benefits')
@ApiBearerAuth()
@Controller('v1/me')
export class WalletController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Get('wallet')
  @Roles('member')
  @ApiOperation({ summary: 'Wallet balance (yuan), held amounts, vouchers and the masked bank card, as of the latest event' })
  async wallet(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentWallet(user.sub, await this.queries.execute(new GetWallet(user, {})));
  }

  @Get('wallet/statement')
  @Roles('member')
  @ApiQuerySchema(walletStatementQuery)
  @ApiOperation({ summary: 'Wallet statement, newest first (page with `before`, a global position)' })
  async statement(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    const page = await this.queries.execute(new GetWalletStatement(user, parseQuery(walletStatementQuery, query)));
    return { entries: page.items.map((row) => presentRow(row as unknown as Record<string, unknown>)), nextCursor: page.nextCursor };
  }

  @Put('wallet/card')
  @Roles('member')
  @ApiBodySchema(cardSchema)
  @ApiOperation({ summary: 'Bind or replace the wallet’s bank card (checked; kept as an HMAC and a sealed copy; shown masked)' })
  async card(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentWallet(user.sub, await this.commands.execute(new BindCard(user, key, parseBody(cardSchema, body))));
  }

  @Post('payment-codes')
  @Roles('member')
  @ApiOperation({ summary: 'A one-time payment code to show at a merchant’s till (single use, valid for a minute)' })
  async paymentCode(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    parseNoBody(body);
    const { code, expiresAt } = await this.commands.execute(new IssuePaymentCode(user, key, {}));
    return { paymentCode: code, expiresAt: expiresAt.toISOString() };
  }
}
