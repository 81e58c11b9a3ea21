import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import type { FastifyReply } from 'fastify';
import { EventSourcedIdempotency, IdempotencyDigest, IdempotencyKey } from '../common/idempotency';
import { ApiBodySchema, ApiParamSchema, ApiQuerySchema, NoQuery, parseBody, parseNoBody, parseParams, parseQuery } from '../common/validation';
import { ClaimUnit, CreateCampaign } from './claims-commands';
import { GetCampaign, GetMyClaim, ListClaims } from './claims-queries';
import { presentCampaign } from './present';
import { campaignParams, claimsPageQuery, createCampaignSchema } from './schemas';

/** Limited-quota claim campaigns (限量领取): admins create and watch them, members claim. */
@ApiTags('claims')
@ApiBearerAuth()
@Controller('v1')
export class ClaimsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post('admin/claim-campaigns')
  @Roles('admin')
  @ApiBodySchema(createCampaignSchema)
  @ApiOperation({ summary: 'Create a claim campaign: N units for the active members of a union’s subtree in a window, one per member; N vouchers are reserved from the union’s budget now' })
  async create(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentCampaign(await this.commands.execute(new CreateCampaign(user, key, parseBody(createCampaignSchema, body))));
  }

  @Get('admin/claim-campaigns/:campaignId')
  @Roles('admin', 'finance', 'auditor')
  @ApiParamSchema(campaignParams)
  @ApiOperation({ summary: 'A campaign with its counts: granted (read model), admitted and pending (the gate), remaining' })
  async campaign(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { campaignId } = parseParams(campaignParams, params);
    parseQuery(NoQuery, query);
    const view = await this.queries.execute(new GetCampaign(user, campaignId));
    return presentCampaign(view.terms, view);
  }

  @Get('admin/claim-campaigns/:campaignId/claims')
  @Roles('admin', 'finance', 'auditor')
  @ApiParamSchema(campaignParams)
  @ApiQuerySchema(claimsPageQuery)
  @ApiOperation({ summary: 'Granted claims in arrival order (slot 1 first); page with afterSeq' })
  async claims(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { campaignId } = parseParams(campaignParams, params);
    const { afterSeq = 0, limit = 100 } = parseQuery(claimsPageQuery, query);
    const rows = await this.queries.execute(new ListClaims(user, campaignId, { afterSeq, limit }));
    return {
      claims: rows.map((row) => ({ memberId: row.memberId, orgId: row.orgId, seq: row.seq, voucherId: row.voucherId, orderId: row.orderId, admittedAt: new Date(row.admittedAtMs).toISOString(), grantedAt: row.grantedAt })),
      nextAfterSeq: rows.length === limit ? rows[rows.length - 1]!.seq : null,
    };
  }

  @Post('me/claim-campaigns/:campaignId/claim')
  @Roles('member')
  @ApiParamSchema(campaignParams)
  @ApiOperation({
    summary:
      'Claim one unit: 201 granted (slot and voucher) or at once 409 CLAIM.SOLD_OUT / CLAIM.NOT_OPEN / CLAIM.CLOSED / CLAIM.ALREADY_CLAIMED, 403 CLAIM.NOT_ELIGIBLE',
  })
  // The burst's path writes no idempotency row: every refusal (sold out, not open, closed, not
  // eligible, already claimed) changes nothing and is answered again from the state; a granted
  // claim is its own record (ClaimGranted carries the request's key and digest), from which a
  // retry with the same key is answered. See docs/CLAIMS.md, "One claim".
  @EventSourcedIdempotency({ storeRefusals: false })
  async claim(
    @CurrentUser() user: JwtClaims,
    @IdempotencyKey() key: string,
    @IdempotencyDigest() digest: string,
    @Param() params: unknown,
    @Body() body: unknown,
    @Query() query: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const { campaignId } = parseParams(campaignParams, params);
    parseQuery(NoQuery, query);
    parseNoBody(body);
    const { replayed, ...outcome } = await this.commands.execute(new ClaimUnit(user, key, { campaignId, digest }));
    if (replayed) void reply.header('idempotent-replay', 'true');
    return outcome;
  }

  @Get('me/claim-campaigns/:campaignId/claim')
  @Roles('member')
  @ApiParamSchema(campaignParams)
  @ApiOperation({ summary: 'The member’s claim in the campaign, from the log: granted (slot, voucher) or none' })
  async myClaim(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { campaignId } = parseParams(campaignParams, params);
    parseQuery(NoQuery, query);
    const claim = await this.queries.execute(new GetMyClaim(user, campaignId));
    return claim ?? { campaignId, memberId: user.sub, status: 'none' };
  }
}

