import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { IdempotencyKey } from '../common/idempotency';
import { ApiBodySchema, ApiParamSchema, NoQuery, parseBody, parseNoBody, parseParams, parseQuery } from '../common/validation';
import { GetCombo, GetComboPick, OfferCombo, PickCombo, WithdrawCombo } from './mall-commands';
import { presentCombo, presentPick } from './present';
import { comboParams, offerComboSchema, pickComboSchema } from './schemas';

/**
 * Welfare combinations (福利套餐): a unit offers SKUs within a value per member; each active member
 * of its subtree picks once, and the pick becomes pickup orders paid by the combination.
 */
@ApiTags('mall')
@ApiBearerAuth()
@Controller('v1')
export class CombosController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post('admin/mall/combos')
  @Roles('admin')
  @ApiBodySchema(offerComboSchema)
  @ApiOperation({ summary: 'Offer a welfare combination: SKUs the unit’s members pick from, within a value per member (the SKUs’ prices now)' })
  async offer(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentCombo(await this.commands.execute(new OfferCombo(user, key, parseBody(offerComboSchema, body))));
  }

  @Post('admin/mall/combos/:comboId/withdraw')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(comboParams)
  @ApiOperation({ summary: 'Withdraw a welfare combination: no more picks (picks made stand)' })
  async withdraw(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    parseNoBody(body);
    return presentCombo(await this.commands.execute(new WithdrawCombo(user, key, parseParams(comboParams, params))));
  }

  @Get('mall/combos/:comboId')
  @Roles('member', 'admin', 'auditor')
  @ApiParamSchema(comboParams)
  @ApiOperation({ summary: 'A welfare combination: its SKUs, their values and the budget per member' })
  async read(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentCombo(await this.queries.execute(new GetCombo(user, parseParams(comboParams, params))));
  }

  @Post('me/mall/combos/:comboId/pick')
  @Roles('member')
  @ApiParamSchema(comboParams)
  @ApiBodySchema(pickComboSchema)
  @ApiOperation({ summary: 'Pick from a welfare combination, once: each SKU becomes a pickup order paid by the combination (nothing from your points or wallet)' })
  async pick(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentPick(await this.commands.execute(new PickCombo(user, key, { ...parseParams(comboParams, params), ...parseBody(pickComboSchema, body) })));
  }

  @Get('me/mall/combos/:comboId/pick')
  @Roles('member')
  @ApiParamSchema(comboParams)
  @ApiOperation({ summary: 'Your pick and its orders (with their pickup codes)' })
  async myPick(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentPick(await this.queries.execute(new GetComboPick(user, parseParams(comboParams, params))));
  }
}
