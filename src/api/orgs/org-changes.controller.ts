import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { IdempotencyKey } from '../common/idempotency';
import { ApiBodySchema, ApiParamSchema, NoQuery, parseBody, parseParams, parseQuery } from '../common/validation';
import { CloseOrganisation, GetOrganisation, MergeOrganisation, MoveOrganisation, RenameOrganisation } from './org-changes';
import { closeSchema, mergeSchema, moveSchema, orgParams, renameSchema } from './schemas';

/**
 * Changes to the union tree by admins (docs/ORGS.md). An organisation outside the caller's subtree
 * is not found (ORG.NOT_FOUND, 404); moving, merging and closing are for units below the admin's own.
 */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/orgs')
export class OrgChangesController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Get(':orgId')
  @Roles('admin', 'auditor')
  @ApiParamSchema(orgParams)
  @ApiOperation({ summary: 'An organisation of your subtree: name, place in the tree, open units under it and its members counted over its whole subtree as it is now' })
  async organisation(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return this.queries.execute(new GetOrganisation(user, parseParams(orgParams, params).orgId));
  }

  @Post(':orgId/rename')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(orgParams)
  @ApiBodySchema(renameSchema)
  @ApiOperation({ summary: 'Rename an organisation of your subtree (OrganisationRenamed)' })
  async rename(@CurrentUser() admin: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { orgId } = parseParams(orgParams, params);
    return this.commands.execute(new RenameOrganisation(admin, key, orgId, parseBody(renameSchema, body)));
  }

  @Post(':orgId/move')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(orgParams)
  @ApiBodySchema(moveSchema)
  @ApiOperation({
    summary: 'Move a unit below yours, with its subtree, under another parent of your subtree (OrganisationMoved); a parent inside the moved subtree is ORG.MOVE_CYCLE',
  })
  async move(@CurrentUser() admin: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { orgId } = parseParams(orgParams, params);
    return this.commands.execute(new MoveOrganisation(admin, key, orgId, parseBody(moveSchema, body)));
  }

  @Post(':orgId/merge')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(orgParams)
  @ApiBodySchema(mergeSchema)
  @ApiOperation({ summary: 'Merge a unit below yours into another of the same level: its members are transferred there, then it closes (OrganisationMerged)' })
  async merge(@CurrentUser() admin: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { orgId } = parseParams(orgParams, params);
    return this.commands.execute(new MergeOrganisation(admin, key, orgId, parseBody(mergeSchema, body)));
  }

  @Post(':orgId/close')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(orgParams)
  @ApiBodySchema(closeSchema)
  @ApiOperation({ summary: 'Close a unit below yours (OrganisationClosed); refused while it has members (ORG.HAS_MEMBERS) or open units under it (ORG.HAS_CHILDREN)' })
  async close(@CurrentUser() admin: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { orgId } = parseParams(orgParams, params);
    return this.commands.execute(new CloseOrganisation(admin, key, orgId, parseBody(closeSchema, body)));
  }
}
