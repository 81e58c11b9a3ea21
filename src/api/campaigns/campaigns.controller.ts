import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { CsvUpload } from '../common/http-limits';
import { IdempotencyKey } from '../common/idempotency';
import { csvBody } from '../common/imports';
import { ApiBodySchema, ApiParamSchema, ApiQuerySchema, NoQuery, parseBody, parseParams, parseQuery } from '../common/validation';
import { CreateCampaign, ImportTargets } from './campaigns-commands';
import { GetCampaign, GetProgress, GetReportFile, ListCampaigns, ListReports } from './campaigns-queries';
import { presentCampaign, presentRow } from './present';
import { campaignParams, createCampaignSchema, listQuery, progressQuery, reportFileParams, reportFileQuery } from './schemas';

/**
 * Campaigns with per-unit targets (docs/CAMPAIGNS.md): admins of the campaign's root create them
 * and import the targets; admins of any union of the tree and auditors follow the progress, one
 * level of the tree at a time. Campaigns and organisations outside the caller's part of the tree
 * are not found (404).
 */
@ApiTags('campaigns')
@ApiBearerAuth()
@Controller('v1/admin/campaigns')
export class CampaignsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post()
  @Roles('admin')
  @ApiBodySchema(createCampaignSchema)
  @ApiOperation({ summary: 'Create a campaign: a measure counted from events, a period, milestones, over a union’s subtree' })
  async create(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const terms = await this.commands.execute(new CreateCampaign(user, key, parseBody(createCampaignSchema, body)));
    return presentCampaign(await this.queries.execute(new GetCampaign(user, terms.campaignId)));
  }

  @Get()
  @Roles('admin', 'auditor')
  @ApiQuerySchema(listQuery)
  @ApiOperation({ summary: 'Campaigns concerning an organisation (rooted in its subtree or above it), in id order; page with cursor' })
  async list(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    const { orgId, cursor, limit = 50 } = parseQuery(listQuery, query);
    const rows = await this.queries.execute(new ListCampaigns(user, { orgId, after: cursor ?? null, limit }));
    return { campaigns: rows.map(presentRow), nextCursor: rows.length === limit ? rows[rows.length - 1]!.campaignId : null };
  }

  @Get(':campaignId')
  @Roles('admin', 'auditor')
  @ApiParamSchema(campaignParams)
  @ApiOperation({ summary: 'A campaign: its terms, targets version and totals, milestones reached' })
  async get(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { campaignId } = parseParams(campaignParams, params);
    parseQuery(NoQuery, query);
    return presentCampaign(await this.queries.execute(new GetCampaign(user, campaignId)));
  }

  @Post(':campaignId/targets')
  @HttpCode(200)
  @Roles('admin')
  @CsvUpload()
  @ApiParamSchema(campaignParams)
  @ApiBody({ description: 'CSV (UTF-8): seq,unit,members,target (or 序号,单位,会员数,目标数); the unit by id or name; up to 10,000 rows', schema: { type: 'string', format: 'binary' } })
  @ApiOperation({ summary: 'Replace the campaign’s targets from the published table; a file with any bad row is refused whole (422 CAMPAIGN.TARGETS_REJECTED with the per-row report)' })
  async targets(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    const { campaignId } = parseParams(campaignParams, params);
    parseQuery(NoQuery, query);
    return this.commands.execute(new ImportTargets(user, key, { campaignId, csv: csvBody(body) }));
  }

  @Get(':campaignId/progress')
  @Roles('admin', 'auditor')
  @ApiParamSchema(campaignParams)
  @ApiQuerySchema(progressQuery)
  @ApiOperation({ summary: 'An organisation’s done/target/percent, next milestone and gap, and each direct child’s with its rank among siblings' })
  async progress(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { campaignId } = parseParams(campaignParams, params);
    const { orgId } = parseQuery(progressQuery, query);
    return this.queries.execute(new GetProgress(user, campaignId, orgId));
  }

  @Get(':campaignId/reports')
  @Roles('admin', 'auditor')
  @ApiParamSchema(campaignParams)
  @ApiOperation({ summary: 'The weekly reports (every Monday 00:00 Asia/Shanghai), newest first, with the links of their files' })
  async reports(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const { campaignId } = parseParams(campaignParams, params);
    parseQuery(NoQuery, query);
    const reports = await this.queries.execute(new ListReports(user, campaignId));
    const base = `/v1/admin/campaigns/${campaignId}/reports`;
    return {
      reports: reports.map((report) => ({
        reportId: report.reportId,
        generatedAt: report.generatedAt.toISOString(),
        previousReportId: report.previousReportId,
        units: report.units,
        files: { csv: `${base}/${report.reportId}.csv`, xlsx: `${base}/${report.reportId}.xlsx`, svg: `${base}/${report.reportId}.svg` },
      })),
    };
  }

  @Get(':campaignId/reports/:file')
  @Roles('admin', 'auditor')
  @ApiParamSchema(reportFileParams)
  @ApiQuerySchema(reportFileQuery)
  @ApiProduces('text/csv', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'image/svg+xml')
  @ApiOperation({ summary: 'A weekly report of a subtree (yours by default) as CSV, XLSX or an SVG chart: each unit’s done/target/%/rank and the change since last week' })
  async reportFile(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const { campaignId, file } = parseParams(reportFileParams, params);
    const { orgId } = parseQuery(reportFileQuery, query);
    const [reportId, format] = file.split('.') as [string, 'csv' | 'xlsx' | 'svg'];
    const found = await this.queries.execute(new GetReportFile(user, campaignId, reportId, format, orgId));
    void reply.header('content-type', found.contentType).header('content-disposition', `attachment; filename="${found.filename}"`);
    return found.content;
  }
}
