import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { IdempotencyKey } from '../common/idempotency';
import { ApiBodySchema, ApiParamSchema, ApiQuerySchema, NoQuery, parseBody, parseNoBody, parseParams, parseQuery } from '../common/validation';
import { CreateLottery, DrawLottery, EnterLottery } from './claims-commands';
import { GetLottery, GetMyEntry, ListEntries } from './claims-queries';
import { presentLottery } from './present';
import { createLotterySchema, entriesQuery, lotteryParams } from './schemas';

/** Points lotteries (积分抽奖) with a verifiable draw: the commitment before, the seed after, the winners recomputable. */
@ApiTags('claims')
@ApiBearerAuth()
@Controller('v1')
export class LotteriesController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post('admin/lotteries')
  @Roles('admin')
  @ApiBodySchema(createLotterySchema)
  @ApiOperation({ summary: 'Create a lottery: a secret seed is sealed and its SHA-256 published as the commitment; the prizes’ vouchers are reserved from the union’s budget' })
  async create(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentLottery(await this.commands.execute(new CreateLottery(user, key, parseBody(createLotterySchema, body))));
  }

  @Get('lotteries/:lotteryId')
  @Roles('member', 'admin', 'finance', 'auditor')
  @ApiParamSchema(lotteryParams)
  @ApiOperation({ summary: 'A lottery: terms, commitment, entries so far; after the draw the revealed seed and the winners in prize order' })
  async lottery(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { lotteryId } = parseParams(lotteryParams, params);
    parseQuery(NoQuery, query);
    const { terms, state } = await this.queries.execute(new GetLottery(user, lotteryId));
    return presentLottery(terms, state);
  }

  @Get('lotteries/:lotteryId/entries')
  @Roles('member', 'admin', 'finance', 'auditor')
  @ApiParamSchema(lotteryParams)
  @ApiQuerySchema(entriesQuery)
  @ApiOperation({ summary: 'Entries by member id (the draw’s order), with their outcome after the draw; only=winners for the winners; page with after' })
  async entries(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { lotteryId } = parseParams(lotteryParams, params);
    const { after = '', limit = 100, only } = parseQuery(entriesQuery, query);
    const rows = await this.queries.execute(new ListEntries(user, lotteryId, { after, limit, winnersOnly: only === 'winners' }));
    return { entries: rows, nextAfter: rows.length === limit ? rows[rows.length - 1]!.memberId : null };
  }

  @Post('me/lotteries/:lotteryId/entries')
  @Roles('member')
  @ApiParamSchema(lotteryParams)
  @ApiOperation({ summary: 'Enter: the entry’s points are held until the draw (409 LOTTERY.NOT_OPEN / CLOSED / ALREADY_ENTERED / FULL, 422 POINTS.INSUFFICIENT)' })
  async enter(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    const { lotteryId } = parseParams(lotteryParams, params);
    parseQuery(NoQuery, query);
    parseNoBody(body);
    return this.commands.execute(new EnterLottery(user, key, { lotteryId }));
  }

  @Get('me/lotteries/:lotteryId/entry')
  @Roles('member')
  @ApiParamSchema(lotteryParams)
  @ApiOperation({ summary: 'The member’s entry and, after the draw, its outcome (won, refunded, spent, late)' })
  async myEntry(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { lotteryId } = parseParams(lotteryParams, params);
    parseQuery(NoQuery, query);
    return this.queries.execute(new GetMyEntry(user, lotteryId));
  }

  @Post('admin/lotteries/:lotteryId/draw')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(lotteryParams)
  @ApiOperation({ summary: 'Reveal the seed and draw (after entries close), then settle every entry; calling again finishes an interrupted settlement' })
  async draw(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    const { lotteryId } = parseParams(lotteryParams, params);
    parseQuery(NoQuery, query);
    parseNoBody(body);
    const state = await this.commands.execute(new DrawLottery(user, key, { lotteryId }));
    return presentLottery(state.terms!, state);
  }
}
