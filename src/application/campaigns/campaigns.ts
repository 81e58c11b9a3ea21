import { createHash } from 'node:crypto';
import {
  campaignStream,
  createCampaign,
  evolveCampaign,
  initialCampaignState,
  nextMilestone,
  percentOf,
  rankAmongSiblings,
  recordMilestones,
  setTargets,
  type CampaignEvent,
  type CampaignState,
  type CampaignTerms,
  type Measure,
  type Milestone,
} from '../../domain/campaigns';
import { DomainError } from '../../domain/shared';
import type { EventStore } from '../../eventstore/event-store';
import type { Database } from '../../infra/database';
import { campaignRow, campaignsActiveBetween, campaignsFor, milestonesReached, rolledUp, type CampaignRow, type MilestoneRow, type RolledUpRow } from '../../projections/campaigns';
import { CommandHandler, type CommandMeta } from '../command-handler';
import type { OrgAccess, Principal } from '../orgs';
import { parseTargets, type TargetsReport } from './targets-csv';
import { CampaignReports } from './weekly-reports';

/**
 * Campaigns with per-unit targets: creation, targets from the published CSV, progress per unit
 * rolled up through the tree, and milestones recorded once when crossed.
 *
 * Who sees what: an admin sees the campaigns rooted in their subtree and those rooted above their
 * union (a unit follows the city's campaign for its own part), and of a campaign only the part of
 * the tree below their union; auditors see everything. Anything else is not found (404), so an
 * admin cannot tell a sibling's campaign exists. Only admins of the campaign's root (or above)
 * change it.
 */

export const CAMPAIGNS_PAGE_MAX = 200;
/** Campaigns the milestone check looks at per run. */
const ACTIVE_CAMPAIGNS_MAX = 1_000;

export interface CampaignsDeps {
  store: EventStore;
  db: Database;
  orgAccess: OrgAccess;
  clock?: () => Date;
}

export interface CreateCampaignInput {
  campaignId?: string | undefined;
  name: string;
  rootOrgId: string;
  measure: Measure;
  evaluationCampaignId?: string | null | undefined;
  programmeId?: string | null | undefined;
  startsAtMs: number;
  endsAtMs: number;
  milestones: Milestone[];
}

export interface UnitProgress {
  orgId: string;
  name: string;
  level: string;
  done: number;
  target: number;
  members: number;
  /** done / target in percent, one decimal, rounded down; null without a target. */
  percent: number | null;
}

export interface ProgressView {
  campaignId: string;
  measure: string;
  org: UnitProgress & { next: { percent: number; by: string; needed: number; gap: number } | null };
  /** Direct children of `org` within the tree, with their rank among these siblings (1 = best). */
  children: Array<UnitProgress & { rank: number; hasChildren: boolean }>;
  /** The campaign's milestones (`by`: the day, Asia/Shanghai); those the campaign as a whole has reached, with when and whether by their day. */
  milestones: Array<{ percent: number; by: string; reached: { at: string; done: number; target: number; onTime: boolean } | null }>;
}

export class Campaigns {
  private readonly handler: CommandHandler<CampaignState, CampaignEvent>;
  private readonly clock: () => Date;
  /** The weekly reports: snapshots and their files. */
  readonly reports: CampaignReports;

  constructor(private readonly deps: CampaignsDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.reports = new CampaignReports({ store: deps.store, db: deps.db, campaigns: this, clock: this.clock });
    this.handler = new CommandHandler(deps.store, { name: 'campaign', initialState: initialCampaignState, evolve: evolveCampaign }, { cacheEntries: 1000, clock: this.clock });
  }

  async create(caller: Principal, input: CreateCampaignInput, key: string): Promise<CampaignTerms> {
    if (caller.role !== 'admin') throw new DomainError('AUTH.FORBIDDEN', 'only a union admin creates campaigns', 403);
    await this.deps.orgAccess.assertCanView(caller, input.rootOrgId);
    const meta = this.meta(caller, key);
    // Without an id of the caller's, one derived from the command: a retried request names the same campaign.
    const campaignId = input.campaignId ?? `c-${createHash('sha256').update(meta.commandId).digest('hex').slice(0, 16)}`;
    const terms: CampaignTerms = {
      campaignId,
      name: input.name,
      rootOrgId: input.rootOrgId,
      measure: input.measure,
      evaluationCampaignId: input.evaluationCampaignId ?? null,
      programmeId: input.programmeId ?? null,
      startsAtMs: input.startsAtMs,
      endsAtMs: input.endsAtMs,
      milestones: input.milestones,
      createdBy: caller.sub,
    };
    const result = await this.handler.handle(campaignStream(campaignId), (state) => createCampaign(state, terms), meta);
    return result.state.terms!;
  }

  /** The campaign's terms from its stream; CAMPAIGN.NOT_FOUND when there is none or the caller may not see it. */
  async campaignFor(caller: Principal, campaignId: string): Promise<CampaignState & { terms: CampaignTerms }> {
    const { state } = await this.handler.load(campaignStream(campaignId));
    const terms = state.terms;
    if (!terms || !(await this.visible(caller, terms.rootOrgId))) throw new DomainError('CAMPAIGN.NOT_FOUND', 'no such campaign', 404, { campaignId });
    return { ...state, terms };
  }

  /** The read model's row of a visible campaign (counts of targets), or the terms alone while it is behind. */
  async summary(caller: Principal, campaignId: string): Promise<{ terms: CampaignTerms; row: CampaignRow | null; state: CampaignState }> {
    const state = await this.campaignFor(caller, campaignId);
    return { terms: state.terms, row: await campaignRow(this.deps.db, campaignId), state };
  }

  async list(caller: Principal, page: { orgId?: string | undefined; after: string | null; limit: number }): Promise<CampaignRow[]> {
    if (caller.role !== 'admin' && caller.role !== 'auditor') throw new DomainError('AUTH.FORBIDDEN', 'admins and auditors list campaigns', 403);
    let path: readonly string[] | null = null;
    if (page.orgId !== undefined) {
      path = await this.deps.orgAccess.pathOf(page.orgId);
      if (!path || (caller.role === 'admin' && !path.includes(caller.org))) throw new DomainError('ORG.NOT_FOUND', `no organisation ${page.orgId}`, 404);
    } else if (caller.role === 'admin') {
      path = await this.deps.orgAccess.pathOf(caller.org);
      if (!path) throw new DomainError('ORG.NOT_FOUND', `no organisation ${caller.org}`, 404);
    }
    return campaignsFor(this.deps.db, path, { after: page.after, limit: Math.min(page.limit, CAMPAIGNS_PAGE_MAX) });
  }

  /**
   * Replaces the campaign's targets with the file's (CSV `seq,unit,members,target`). A file with
   * any bad row is refused whole (CAMPAIGN.TARGETS_REJECTED, the report in the details): the
   * published table is one document, and half of it would make every percent above it wrong.
   */
  async importTargets(caller: Principal, campaignId: string, csv: Buffer, key: string): Promise<TargetsReport> {
    const { terms } = await this.campaignFor(caller, campaignId);
    await this.assertCanChange(caller, terms);
    const parsed = await parseTargets(this.deps.db, terms.rootOrgId, csv);
    if (parsed.report.totals.rejected > 0 || parsed.report.fatal) {
      throw new DomainError('CAMPAIGN.TARGETS_REJECTED', 'the file has rows in error: nothing was imported; fix them and upload the whole file again', 422, { report: parsed.report });
    }
    const result = await this.handler.handle(campaignStream(campaignId), (state) => setTargets(state, { targets: parsed.targets, setBy: caller.sub }), this.meta(caller, key));
    const changed = result.events.length > 0;
    return {
      ...parsed.report,
      totals: { ...parsed.report.totals, applied: changed ? parsed.report.totals.rows : 0, unchanged: changed ? 0 : parsed.report.totals.rows },
      targetsVersion: result.state.targetsVersion,
      totalTarget: result.state.totalTarget,
    };
  }

  /**
   * Progress of one organisation of the campaign and of each of its direct children (drill down
   * one level at a time). `orgId` defaults to the caller's union, or to the campaign's root when
   * the caller sits above it (or is an auditor).
   */
  async progress(caller: Principal, campaignId: string, orgId?: string): Promise<ProgressView> {
    const { terms, orgId: org } = await this.scope(caller, campaignId, orgId);
    const rows = await rolledUp(this.deps.db, campaignId, org, 1);
    const top = rows.find((row) => row.depth === 0);
    if (!top) throw new DomainError('CAMPAIGN.ORG_NOT_FOUND', `organisation ${org} is not in the campaign’s tree yet`, 404, { orgId: org });
    const children = rows.filter((row) => row.depth === 1);
    const ranks = rankAmongSiblings(children);
    const reached = await milestonesReached(this.deps.db, campaignId);
    return {
      campaignId,
      measure: terms.measure,
      org: { ...unitOf(top), next: presentNext(nextMilestone(terms.milestones, top.done, top.target)) },
      children: children.map((child) => ({ ...unitOf(child), rank: ranks.get(child)!, hasChildren: child.level !== 'grassroots' })),
      milestones: terms.milestones.map((milestone) => ({ percent: milestone.percent, by: milestone.byDay, reached: presentReached(reached.find((row) => row.percent === milestone.percent)) })),
    };
  }

  /** The campaign and the organisation of its tree the caller asks about (404 outside their part of it). */
  async scope(caller: Principal, campaignId: string, orgId?: string): Promise<{ terms: CampaignTerms; orgId: string }> {
    const { terms } = await this.campaignFor(caller, campaignId);
    return { terms, orgId: await this.scopedOrg(caller, terms, orgId) };
  }

  /** Every organisation of the campaign's subtree with its rolled-up counts (the dashboard; the weekly report). */
  async dashboard(campaignId: string, rootOrgId: string): Promise<RolledUpRow[]> {
    return rolledUp(this.deps.db, campaignId, rootOrgId, 64);
  }

  /**
   * Records the milestones each campaign in its period (or ended within a day) has crossed, once
   * each (the decider and the stream's revision: a second run adds nothing). Returns the number
   * recorded.
   */
  async checkMilestones(): Promise<number> {
    const nowMs = this.clock().getTime();
    const active = await campaignsActiveBetween(this.deps.db, nowMs - 24 * 3600 * 1000, nowMs, ACTIVE_CAMPAIGNS_MAX);
    let recorded = 0;
    for (const campaign of active) {
      if (campaign.milestones.length === 0 || campaign.totalTarget === 0) continue;
      const [root] = await rolledUp(this.deps.db, campaign.campaignId, campaign.rootOrgId, 0);
      if (!root) continue;
      const progress = { done: root.done, target: root.target };
      const result = await this.handler.handle(
        campaignStream(campaign.campaignId),
        (state, now) => recordMilestones(state, progress, now.getTime()),
        // The command id names what was seen: the same count checked twice is one command.
        { commandId: `milestones:${campaign.campaignId}:${progress.done}:${progress.target}`, actor: { type: 'system', id: 'campaign-milestones' } },
      );
      if (!result.replayed) recorded += result.events.length;
    }
    return recorded;
  }

  private meta(caller: Principal, key: string): CommandMeta {
    return { commandId: `${caller.sub}:${key}`, actor: { type: caller.role, id: caller.sub } };
  }

  private async visible(caller: Principal, rootOrgId: string): Promise<boolean> {
    if (caller.role === 'auditor') return true;
    if (caller.role !== 'admin') return false;
    const rootPath = await this.deps.orgAccess.pathOf(rootOrgId);
    if (rootPath?.includes(caller.org)) return true;
    const ownPath = await this.deps.orgAccess.pathOf(caller.org);
    return ownPath?.includes(rootOrgId) ?? false;
  }

  private async assertCanChange(caller: Principal, terms: CampaignTerms): Promise<void> {
    const rootPath = await this.deps.orgAccess.pathOf(terms.rootOrgId);
    if (caller.role !== 'admin' || !rootPath?.includes(caller.org)) {
      throw new DomainError('CAMPAIGN.FORBIDDEN', 'only an admin of the campaign’s root union (or above) changes the campaign', 403);
    }
  }

  private async scopedOrg(caller: Principal, terms: CampaignTerms, orgId: string | undefined): Promise<string> {
    const rootPath = (await this.deps.orgAccess.pathOf(terms.rootOrgId)) ?? [];
    const callerInside = caller.role === 'admin' && !rootPath.includes(caller.org);
    const org = orgId ?? (callerInside ? caller.org : terms.rootOrgId);
    const path = await this.deps.orgAccess.pathOf(org);
    // Outside the campaign's tree, or outside the caller's part of it: not found, whatever exists there.
    if (!path || !path.includes(terms.rootOrgId) || (caller.role === 'admin' && !path.includes(caller.org))) {
      throw new DomainError('CAMPAIGN.ORG_NOT_FOUND', `no organisation ${org} in this campaign for you`, 404, { orgId: org });
    }
    return org;
  }
}

function presentNext(next: ReturnType<typeof nextMilestone>): ProgressView['org']['next'] {
  return next && { percent: next.percent, by: next.byDay, needed: next.needed, gap: next.gap };
}

function presentReached(row: MilestoneRow | undefined): ProgressView['milestones'][number]['reached'] {
  return row ? { at: new Date(row.reachedAtMs).toISOString(), done: row.done, target: row.target, onTime: row.onTime } : null;
}

function unitOf(row: RolledUpRow): UnitProgress {
  return { orgId: row.orgId, name: row.name, level: row.level, done: row.done, target: row.target, members: row.members, percent: percentOf(row.done, row.target) };
}
