import { percentOf, rankAmongSiblings } from '../../domain/campaigns';
import { DomainError } from '../../domain/shared';
import type { EventStore } from '../../eventstore/event-store';
import type { Database } from '../../infra/database';
import { catchUpProjection, CheckpointMovedError } from '../../projections';
import { campaignsActiveBetween, campaignsProjection, rolledUp, type CampaignRow } from '../../projections/campaigns';
import type { Principal } from '../orgs';
import type { Campaigns } from './campaigns';
import { CONTENT_TYPES, REPORT_FORMATS, renderReport, type ReportFormat, type ReportRow } from './report-files';

/**
 * The weekly report (every Monday 00:00 Asia/Shanghai, the `campaign-weekly-reports` schedule):
 * for each campaign that ran during the week just ended, a snapshot of every organisation of its
 * tree (done, target, members, rank among siblings, change since last week's report), stored once
 * (ul_campaign_reports / ul_campaign_report_rows: the first run of a week records it, any later
 * run finds it). The files of a subtree (CSV, XLSX, SVG chart) are rendered from the snapshot:
 * the campaign root's at once, any other subtree's on its first download, and kept
 * (ul_campaign_report_files). An admin downloads the subtree of their own union; auditors any.
 */

const DAY_MS = 24 * 3600 * 1000;
const REPORT_ID = /^\d{4}-\d{2}-\d{2}$/;
/** Reports listed per campaign: a campaign runs at most 367 days, so 53 Mondays. */
const REPORTS_LISTED_MAX = 60;
const ACTIVE_CAMPAIGNS_MAX = 10_000;
const CATCH_UP_ATTEMPTS = 5;

export interface ReportSummary {
  reportId: string;
  generatedAt: Date;
  previousReportId: string | null;
  units: number;
}

export interface ReportFile {
  content: Buffer;
  contentType: string;
  filename: string;
}

/** The instant a report id (a Monday, YYYY-MM-DD) stands for: that day's 00:00 in Shanghai. */
export function reportInstantMs(reportId: string): number {
  if (!REPORT_ID.test(reportId)) throw new DomainError('CAMPAIGN.REPORT_NOT_FOUND', 'a report id is a day, YYYY-MM-DD', 404);
  const atMs = Date.parse(`${reportId}T00:00:00+08:00`);
  if (Number.isNaN(atMs)) throw new DomainError('CAMPAIGN.REPORT_NOT_FOUND', 'a report id is a real day', 404);
  return atMs;
}

export class CampaignReports {
  private readonly clock: () => Date;

  constructor(private readonly deps: { store: EventStore; db: Database; campaigns: Campaigns; clock?: () => Date }) {
    this.clock = deps.clock ?? (() => new Date());
  }

  /**
   * The week's reports, once each: every campaign created before `reportId` (a Monday) whose
   * period overlaps the seven days before it. The campaigns read model is first brought up to
   * the end of the log, so the counts are those of the moment of the run.
   */
  async generateWeekly(reportId: string): Promise<{ campaigns: number; reports: number; units: number }> {
    const atMs = reportInstantMs(reportId);
    await this.catchUp();
    const active = (await campaignsActiveBetween(this.deps.db, atMs - 7 * DAY_MS, atMs, ACTIVE_CAMPAIGNS_MAX)).filter((row) => row.createdAt.getTime() < atMs);
    let reports = 0;
    let units = 0;
    for (const campaign of active) {
      const made = await this.generate(campaign, reportId);
      if (made > 0) {
        reports += 1;
        units += made;
      }
    }
    return { campaigns: active.length, reports, units };
  }

  /** One campaign's report for `reportId`; returns the organisations it holds (0: it was there already). */
  async generate(campaign: CampaignRow, reportId: string): Promise<number> {
    const exists = await this.deps.db.oneOrNone('SELECT 1 FROM ul_campaign_reports WHERE campaign_id = $1 AND report_id = $2', [campaign.campaignId, reportId]);
    if (exists) return 0;
    const rows = await rolledUp(this.deps.db, campaign.campaignId, campaign.rootOrgId, 64);
    if (rows.length === 0) return 0;
    const previous = await this.deps.db.oneOrNone<{ report_id: string }>(
      'SELECT report_id FROM ul_campaign_reports WHERE campaign_id = $1 AND report_id < $2 ORDER BY report_id DESC LIMIT 1',
      [campaign.campaignId, reportId],
    );
    const lastWeek = new Map<string, number>();
    if (previous) {
      const before = await this.deps.db.any<{ org_id: string; done: string }>('SELECT org_id, done FROM ul_campaign_report_rows WHERE campaign_id = $1 AND report_id = $2', [
        campaign.campaignId,
        previous.report_id,
      ]);
      for (const row of before) lastWeek.set(row.org_id, Number(row.done));
    }
    const siblings = new Map<string, typeof rows>();
    for (const row of rows) siblings.set(row.parentId ?? '', [...(siblings.get(row.parentId ?? '') ?? []), row]);
    const rank = new Map<(typeof rows)[number], number>();
    for (const group of siblings.values()) for (const [row, value] of rankAmongSiblings(group)) rank.set(row, value);
    const generatedAt = this.clock();
    const recorded = await this.deps.db.tx('campaign-report', async (tx) => {
      const inserted = await tx.oneOrNone(
        `INSERT INTO ul_campaign_reports (campaign_id, report_id, generated_at, previous_report_id, units) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (campaign_id, report_id) DO NOTHING RETURNING 1 AS one`,
        [campaign.campaignId, reportId, generatedAt, previous?.report_id ?? null, rows.length],
      );
      if (!inserted) return false; // Another run of the same week recorded it first.
      await tx.none(
        `INSERT INTO ul_campaign_report_rows (campaign_id, report_id, org_id, parent_id, name, level, depth, path, done, target, members, rank, change)
         SELECT $1, $2, r.org_id, r.parent_id, r.name, r.level, r.depth, string_to_array(r.path, '/'), r.done, r.target, r.members, r.rank, r.change
         FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::bigint[], $10::bigint[], $11::bigint[], $12::int[], $13::bigint[])
           AS r (org_id, parent_id, name, level, depth, path, done, target, members, rank, change)`,
        [
          campaign.campaignId,
          reportId,
          rows.map((row) => row.orgId),
          rows.map((row) => row.parentId),
          rows.map((row) => row.name),
          rows.map((row) => row.level),
          rows.map((row) => row.depth),
          // Organisation ids never hold a '/' (ORG_ID), so the path travels as one text per row.
          rows.map((row) => row.path.join('/')),
          rows.map((row) => row.done),
          rows.map((row) => row.target),
          rows.map((row) => row.members),
          rows.map((row) => rank.get(row) ?? 1),
          rows.map((row) => (previous ? row.done - (lastWeek.get(row.orgId) ?? 0) : null)),
        ],
      );
      return true;
    });
    if (!recorded) return 0;
    // The root's files at once: the report most people open.
    for (const format of REPORT_FORMATS) await this.renderAndKeep(campaign, reportId, campaign.rootOrgId, format);
    return rows.length;
  }

  async list(caller: Principal, campaignId: string): Promise<ReportSummary[]> {
    await this.deps.campaigns.campaignFor(caller, campaignId);
    const rows = await this.deps.db.any<{ report_id: string; generated_at: Date; previous_report_id: string | null; units: number }>(
      'SELECT report_id, generated_at, previous_report_id, units FROM ul_campaign_reports WHERE campaign_id = $1 ORDER BY report_id DESC LIMIT $2',
      [campaignId, REPORTS_LISTED_MAX],
    );
    return rows.map((row) => ({ reportId: row.report_id, generatedAt: row.generated_at, previousReportId: row.previous_report_id, units: row.units }));
  }

  /** A subtree's file of a report: the caller's union (or the campaign's root when above it) unless `orgId` names one of their subtree. */
  async file(caller: Principal, campaignId: string, reportId: string, format: ReportFormat, orgId?: string): Promise<ReportFile> {
    const { terms, orgId: org } = await this.deps.campaigns.scope(caller, campaignId, orgId);
    reportInstantMs(reportId);
    const exists = await this.deps.db.oneOrNone('SELECT 1 FROM ul_campaign_reports WHERE campaign_id = $1 AND report_id = $2', [campaignId, reportId]);
    if (!exists) throw new DomainError('CAMPAIGN.REPORT_NOT_FOUND', 'no such report of this campaign', 404, { reportId });
    const row = await this.deps.db.oneOrNone<CampaignRowLike>('SELECT name, measure FROM ul_campaigns WHERE campaign_id = $1', [campaignId]);
    const content = await this.renderAndKeep({ campaignId, name: row?.name ?? terms.name, measure: row?.measure ?? terms.measure }, reportId, org, format);
    return { content, contentType: CONTENT_TYPES[format], filename: `${campaignId}-${reportId}-${org}.${format}` };
  }

  private async renderAndKeep(campaign: { campaignId: string; name: string; measure: string }, reportId: string, orgId: string, format: ReportFormat): Promise<Buffer> {
    const key = [campaign.campaignId, reportId, orgId, format];
    const kept = await this.deps.db.oneOrNone<{ content: Buffer }>(
      'SELECT content FROM ul_campaign_report_files WHERE campaign_id = $1 AND report_id = $2 AND org_id = $3 AND format = $4',
      key,
    );
    if (kept) return kept.content;
    const stored = await this.deps.db.any<{
      org_id: string;
      parent_id: string | null;
      name: string;
      level: string;
      depth: number;
      done: string;
      target: string;
      members: string;
      rank: number;
      change: string | null;
      generated_at: Date;
    }>(
      `SELECT r.org_id, r.parent_id, r.name, r.level, r.depth, r.done, r.target, r.members, r.rank, r.change, p.generated_at
       FROM ul_campaign_report_rows r JOIN ul_campaign_reports p USING (campaign_id, report_id)
       WHERE r.campaign_id = $1 AND r.report_id = $2 AND r.path @> ARRAY[$3::text]`,
      [campaign.campaignId, reportId, orgId],
    );
    const top = stored.find((row) => row.org_id === orgId);
    // The organisation joined the tree after this report was made: it has no part in it.
    if (!top) throw new DomainError('CAMPAIGN.REPORT_NOT_FOUND', 'this report has no part for the organisation', 404, { reportId, orgId });
    // Tree order: each organisation followed by its children, best rank first.
    const children = new Map<string, typeof stored>();
    for (const row of stored) if (row.parent_id !== null) children.set(row.parent_id, [...(children.get(row.parent_id) ?? []), row]);
    const ordered: ReportRow[] = [];
    const visit = (row: (typeof stored)[number]) => {
      const done = Number(row.done);
      const target = Number(row.target);
      ordered.push({
        orgId: row.org_id,
        parentId: row.parent_id,
        name: row.name,
        level: row.level,
        depth: row.depth - top.depth,
        done,
        target,
        members: Number(row.members),
        percent: percentOf(done, target),
        rank: row.org_id === orgId ? 1 : row.rank,
        change: row.change === null ? null : Number(row.change),
      });
      for (const child of (children.get(row.org_id) ?? []).sort((a, b) => a.rank - b.rank || a.org_id.localeCompare(b.org_id))) visit(child);
    };
    visit(top);
    const content = await renderReport(format, { campaignName: campaign.name, measure: campaign.measure, reportId, generatedAt: top.generated_at, orgName: top.name }, ordered);
    await this.deps.db.none('INSERT INTO ul_campaign_report_files (campaign_id, report_id, org_id, format, content) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING', [...key, content]);
    const first = await this.deps.db.one<{ content: Buffer }>(
      'SELECT content FROM ul_campaign_report_files WHERE campaign_id = $1 AND report_id = $2 AND org_id = $3 AND format = $4',
      key,
    );
    return first.content;
  }

  private async catchUp(): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await catchUpProjection(this.deps.store, this.deps.db, campaignsProjection());
        return;
      } catch (error) {
        // The live runner moved the checkpoint under this catch-up: it is applying the same events; read on.
        if (!(error instanceof CheckpointMovedError) || attempt >= CATCH_UP_ATTEMPTS) throw error;
      }
    }
  }
}

interface CampaignRowLike {
  name: string;
  measure: string;
}
