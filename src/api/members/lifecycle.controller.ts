import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { IdempotencyKey } from '../common/idempotency';
import { ApiBodySchema, ApiParamSchema, ApiQuerySchema, NoBody, NoQuery, parseBody, parseParams, parseQuery } from '../common/validation';
import {
  AcceptTransfer,
  ApplyToJoin,
  ApproveJoin,
  DeclineJoin,
  DeclineTransfer,
  LeaveUnion,
  ListPending,
  ListUnitMembers,
  ParkMember,
  ReinstateMember,
  RequestTransfer,
  WithdrawTransfer,
} from './lifecycle';
import {
  applicationParams,
  joinSchema,
  ownTransferParams,
  joinsQuery,
  memberParams,
  pendingQuery,
  reasonSchema,
  transferParams,
  transferSchema,
  unitMembersQuery,
  unitParams,
} from './schemas';

const DEFAULT_PAGE = 50;

/**
 * The member lifecycle over HTTP (docs/ORGS.md): transfers (转会), parking, leaving and
 * reinstating by admins; a member's own transfer request and its withdrawal; online applications to join (入会) and
 * their decisions; each unit's approvals inbox. A member, transfer, application or unit outside
 * the caller's subtree is not found (404).
 */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1')
export class LifecycleController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post('admin/members/:memberId/transfers')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(memberParams)
  @ApiBodySchema(transferSchema)
  @ApiOperation({ summary: 'Request the transfer of a member of your subtree to another grassroots union, whose admins then accept or decline it' })
  async requestTransfer(@CurrentUser() admin: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { memberId } = parseParams(memberParams, params);
    return this.commands.execute(new RequestTransfer(admin, key, { memberId, ...parseBody(transferSchema, body) }));
  }

  @Post('me/transfers')
  @HttpCode(200)
  @Roles('member')
  @ApiBodySchema(transferSchema)
  @ApiOperation({ summary: 'Ask to be transferred to another grassroots union; its admins accept or decline' })
  async requestOwnTransfer(@CurrentUser() member: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return this.commands.execute(new RequestTransfer(member, key, { memberId: member.sub, ...parseBody(transferSchema, body) }));
  }

  @Post('admin/members/:memberId/transfers/:transferId/acceptance')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(transferParams)
  @ApiBodySchema(NoBody)
  @ApiOperation({ summary: 'Accept a transfer into a unit of your subtree: the member, with their points, wallet and history, belongs to it from now on' })
  async accept(@CurrentUser() admin: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    parseBody(NoBody, body ?? {});
    return this.commands.execute(new AcceptTransfer(admin, key, parseParams(transferParams, params)));
  }

  @Post('admin/members/:memberId/transfers/:transferId/rejection')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(transferParams)
  @ApiBodySchema(reasonSchema)
  @ApiOperation({ summary: 'Decline a transfer into a unit of your subtree' })
  async decline(@CurrentUser() admin: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return this.commands.execute(new DeclineTransfer(admin, key, { ...parseParams(transferParams, params), ...parseBody(reasonSchema, body) }));
  }

  @Post('admin/members/:memberId/transfers/:transferId/withdrawal')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(transferParams)
  @ApiBodySchema(NoBody)
  @ApiOperation({ summary: 'Take back a transfer of a member of your subtree while it still waits for the receiving unit; the member stays' })
  async withdraw(@CurrentUser() admin: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    parseBody(NoBody, body ?? {});
    return this.commands.execute(new WithdrawTransfer(admin, key, parseParams(transferParams, params)));
  }

  @Post('me/transfers/:transferId/withdrawal')
  @HttpCode(200)
  @Roles('member')
  @ApiParamSchema(ownTransferParams)
  @ApiBodySchema(NoBody)
  @ApiOperation({ summary: 'Take back your transfer request while it still waits for the receiving union; you stay where you are and may ask again' })
  async withdrawOwn(@CurrentUser() member: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    parseBody(NoBody, body ?? {});
    return this.commands.execute(new WithdrawTransfer(member, key, { memberId: member.sub, ...parseParams(ownTransferParams, params) }));
  }

  @Post('admin/members/:memberId/parking')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(memberParams)
  @ApiBodySchema(reasonSchema)
  @ApiOperation({ summary: 'Park a member who left their job at the upper-level union of their unit, until a new unit takes them in by a transfer' })
  async park(@CurrentUser() admin: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return this.commands.execute(new ParkMember(admin, key, { ...parseParams(memberParams, params), ...parseBody(reasonSchema, body) }));
  }

  @Post('admin/members/:memberId/leaving')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(memberParams)
  @ApiBodySchema(reasonSchema)
  @ApiOperation({ summary: 'Record that a member of your subtree left the union: no earning or spending until reinstated; balances stay' })
  async leave(@CurrentUser() admin: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return this.commands.execute(new LeaveUnion(admin, key, { ...parseParams(memberParams, params), ...parseBody(reasonSchema, body) }));
  }

  @Post('admin/members/:memberId/reinstatement')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(memberParams)
  @ApiBodySchema(reasonSchema)
  @ApiOperation({ summary: 'Reinstate a member of your subtree who had left' })
  async reinstate(@CurrentUser() admin: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return this.commands.execute(new ReinstateMember(admin, key, { ...parseParams(memberParams, params), ...parseBody(reasonSchema, body) }));
  }

  @Post('join-applications')
  @HttpCode(200)
  @Roles('visitor')
  @ApiBodySchema(joinSchema)
  @ApiOperation({ summary: 'Apply online to join a grassroots union (入会): ID number and phone are sealed in the vault; the unit’s admins approve or decline' })
  async apply(@CurrentUser() visitor: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return this.commands.execute(new ApplyToJoin(visitor, key, parseBody(joinSchema, body)));
  }

  @Post('admin/join-applications/:applicationId/approval')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(applicationParams)
  @ApiBodySchema(NoBody)
  @ApiOperation({ summary: 'Approve an application to join a unit of your subtree: the applicant is enrolled as a member (as a roster import would)' })
  async approve(@CurrentUser() admin: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    parseBody(NoBody, body ?? {});
    return this.commands.execute(new ApproveJoin(admin, key, parseParams(applicationParams, params)));
  }

  @Post('admin/join-applications/:applicationId/rejection')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(applicationParams)
  @ApiBodySchema(reasonSchema)
  @ApiOperation({ summary: 'Decline an application to join a unit of your subtree' })
  async declineJoin(@CurrentUser() admin: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return this.commands.execute(new DeclineJoin(admin, key, { ...parseParams(applicationParams, params), ...parseBody(reasonSchema, body) }));
  }

  @Get('admin/orgs/:orgId/transfers')
  @Roles('admin', 'auditor')
  @ApiParamSchema(unitParams)
  @ApiQuerySchema(pendingQuery)
  @ApiOperation({
    summary:
      'Pending transfers of a unit of your subtree, oldest first: `incoming` (the default) wait for its decision, `outgoing` for another unit’s. Keyset pages: pass `next` as `after`',
  })
  async transfers(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { orgId } = parseParams(unitParams, params);
    const { direction, after, limit } = parseQuery(pendingQuery, query);
    const page = await this.queries.execute(
      new ListPending(user, { kind: 'transfer', orgId, direction: direction ?? 'incoming', after: after === undefined ? null : BigInt(after), limit: limit ?? DEFAULT_PAGE }),
    );
    return { transfers: page.rows, next: page.next };
  }

  @Get('admin/orgs/:orgId/join-applications')
  @Roles('admin', 'auditor')
  @ApiParamSchema(unitParams)
  @ApiQuerySchema(joinsQuery)
  @ApiOperation({ summary: 'Pending applications to join a unit of your subtree, oldest first (no ID number or phone). Keyset pages: pass `next` as `after`' })
  async joins(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { orgId } = parseParams(unitParams, params);
    const { after, limit } = parseQuery(joinsQuery, query);
    const page = await this.queries.execute(
      new ListPending(user, { kind: 'join', orgId, direction: 'incoming', after: after === undefined ? null : BigInt(after), limit: limit ?? DEFAULT_PAGE }),
    );
    return { applications: page.rows, next: page.next };
  }

  @Get('admin/orgs/:orgId/members')
  @Roles('admin', 'auditor')
  @ApiParamSchema(unitParams)
  @ApiQuerySchema(unitMembersQuery)
  @ApiOperation({ summary: 'Members whose union is this unit of your subtree (id, name, status), by member id. Keyset pages: pass `next` as `after`' })
  async members(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { orgId } = parseParams(unitParams, params);
    const { after, limit } = parseQuery(unitMembersQuery, query);
    const page = await this.queries.execute(new ListUnitMembers(user, orgId, { afterMemberId: after ?? null, limit: limit ?? DEFAULT_PAGE }));
    return { members: page.rows, next: page.next };
  }
}
