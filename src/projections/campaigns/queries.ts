import type { Milestone } from '../../domain/campaigns';
import type { Queryable } from '../../infra/database';

/** The campaigns read model's queries: campaigns, and progress rolled up through the current tree. */

export interface CampaignRow {
  campaignId: string;
  name: string;
  rootOrgId: string;
  measure: string;
  evaluationCampaignId: string | null;
  programmeId: string | null;
  startsAtMs: number;
  endsAtMs: number;
  milestones: Milestone[];
  createdBy: string;
  createdAt: Date;
  targetsVersion: number;
  targetUnits: number;
  totalTarget: number;
  totalMembers: number;
}

const CAMPAIGN_COLUMNS = `campaign_id, name, root_org_id, measure, evaluation_campaign_id, programme_id, starts_at_ms, ends_at_ms, milestones,
  created_by, created_at, targets_version, target_units, total_target, total_members`;

interface RawCampaign {
  campaign_id: string;
  name: string;
  root_org_id: string;
  measure: string;
  evaluation_campaign_id: string | null;
  programme_id: string | null;
  starts_at_ms: string;
  ends_at_ms: string;
  milestones: Milestone[];
  created_by: string;
  created_at: Date;
  targets_version: number;
  target_units: number;
  total_target: string;
  total_members: string;
}

const campaignOf = (row: RawCampaign): CampaignRow => ({
  campaignId: row.campaign_id,
  name: row.name,
  rootOrgId: row.root_org_id,
  measure: row.measure,
  evaluationCampaignId: row.evaluation_campaign_id,
  programmeId: row.programme_id,
  startsAtMs: Number(row.starts_at_ms),
  endsAtMs: Number(row.ends_at_ms),
  milestones: row.milestones,
  createdBy: row.created_by,
  createdAt: row.created_at,
  targetsVersion: row.targets_version,
  targetUnits: row.target_units,
  totalTarget: Number(row.total_target),
  totalMembers: Number(row.total_members),
});

export async function campaignRow(db: Queryable, campaignId: string): Promise<CampaignRow | null> {
  const row = await db.oneOrNone<RawCampaign>(`SELECT ${CAMPAIGN_COLUMNS} FROM ul_campaigns WHERE campaign_id = $1`, [campaignId]);
  return row ? campaignOf(row) : null;
}

/**
 * Campaigns that concern an organisation, page by page in id order: those rooted in its subtree,
 * and those rooted above it (a unit's admin follows the city's campaign for their unit). Auditors
 * pass null: every campaign.
 */
export async function campaignsFor(db: Queryable, orgPath: readonly string[] | null, page: { after: string | null; limit: number }): Promise<CampaignRow[]> {
  const rows = await db.any<RawCampaign>(
    `SELECT ${CAMPAIGN_COLUMNS} FROM ul_campaigns c
     WHERE ($1::text[] IS NULL
            OR c.root_org_id = ANY($1::text[])
            OR EXISTS (SELECT 1 FROM ul_orgs o WHERE o.org_id = c.root_org_id AND o.path @> ARRAY[($1::text[])[array_length($1::text[], 1)]]))
       AND ($2::text IS NULL OR c.campaign_id > $2)
     ORDER BY c.campaign_id LIMIT $3`,
    [orgPath, page.after, page.limit],
  );
  return rows.map(campaignOf);
}

/** Campaigns whose period overlaps [fromMs, toMs): the ones the milestone check and the weekly report look at. */
export async function campaignsActiveBetween(db: Queryable, fromMs: number, toMs: number, limit: number): Promise<CampaignRow[]> {
  const rows = await db.any<RawCampaign>(
    `SELECT ${CAMPAIGN_COLUMNS} FROM ul_campaigns WHERE starts_at_ms < $2 AND ends_at_ms > $1 ORDER BY campaign_id LIMIT $3`,
    [fromMs, toMs, limit],
  );
  return rows.map(campaignOf);
}

export interface MilestoneRow {
  percent: number;
  byDay: string;
  done: number;
  target: number;
  reachedAtMs: number;
  onTime: boolean;
}

export async function milestonesReached(db: Queryable, campaignId: string): Promise<MilestoneRow[]> {
  const rows = await db.any<{ percent: number; by_day: string; done: string; target: string; reached_at_ms: string; on_time: boolean }>(
    'SELECT percent, by_day, done, target, reached_at_ms, on_time FROM ul_campaign_milestones WHERE campaign_id = $1 ORDER BY percent',
    [campaignId],
  );
  return rows.map((row) => ({ percent: row.percent, byDay: row.by_day, done: Number(row.done), target: Number(row.target), reachedAtMs: Number(row.reached_at_ms), onTime: row.on_time }));
}

/** One organisation of a subtree with the campaign's counts summed over its own subtree. */
export interface RolledUpRow {
  orgId: string;
  name: string;
  level: string;
  parentId: string | null;
  /** The organisation's ancestors from the subtree's top down, ending with it. */
  path: string[];
  /** 0 for the subtree's top, 1 for its direct children, … */
  depth: number;
  done: number;
  target: number;
  members: number;
}

/**
 * Every organisation of `orgId`'s subtree (down to `maxDepth` levels below it) with the
 * campaign's done, target and members summed over its own subtree. The tree is read as it is
 * now (ul_orgs): counts stay with the unit they were earned in, and follow that unit wherever the
 * tree puts it. One plain statement fetches each organisation with its own counts; the sums up the
 * tree are made here, deepest first (a province's 2,000 units: a few thousand additions), which
 * costs about the plain SELECT where the same roll-up in SQL (each unit joined to each ancestor,
 * then grouped) cost several times more.
 */
export async function rolledUp(db: Queryable, campaignId: string, orgId: string, maxDepth: number): Promise<RolledUpRow[]> {
  // No path column: parsing 2,000 text arrays cost more than the query; the tree is walked from parent ids instead.
  const rows = await db.any<{ org_id: string; name: string; level: string; parent_id: string | null; done: string | null; target: number | null; members: number | null }>(
    `SELECT o.org_id, o.name, o.level, o.parent_id, d.done, t.target, t.members
     FROM ul_orgs o
     LEFT JOIN ul_campaign_done d ON d.campaign_id = $1 AND d.org_id = o.org_id
     LEFT JOIN ul_campaign_targets t ON t.campaign_id = $1 AND t.org_id = o.org_id
     WHERE o.path @> ARRAY[$2::text]`,
    [campaignId, orgId],
  );
  const children = new Map<string, typeof rows>();
  let topRow: (typeof rows)[number] | undefined;
  for (const row of rows) {
    if (row.org_id === orgId) topRow = row;
    else if (row.parent_id !== null) {
      const siblings = children.get(row.parent_id);
      if (siblings) siblings.push(row);
      else children.set(row.parent_id, [row]);
    }
  }
  if (!topRow) return [];
  const toRow = (row: (typeof rows)[number], path: string[]): RolledUpRow => ({
    orgId: row.org_id,
    name: row.name,
    level: row.level,
    parentId: row.parent_id,
    path,
    depth: path.length - 1,
    done: row.done === null ? 0 : Number(row.done),
    target: row.target ?? 0,
    members: row.members ?? 0,
  });
  // Breadth first from the top: parents before children (the tree has at most a few levels).
  const ordered: RolledUpRow[] = [toRow(topRow, [orgId])];
  for (let index = 0; index < ordered.length; index += 1) {
    const parent = ordered[index]!;
    for (const child of children.get(parent.orgId) ?? []) ordered.push(toRow(child, [...parent.path, child.org_id]));
  }
  const byId = new Map(ordered.map((row) => [row.orgId, row]));
  // Deepest first: a child's sums are complete before they are added to its parent.
  for (let index = ordered.length - 1; index > 0; index -= 1) {
    const row = ordered[index]!;
    const parent = byId.get(row.parentId!)!;
    parent.done += row.done;
    parent.target += row.target;
    parent.members += row.members;
  }
  return ordered.filter((row) => row.depth <= maxDepth).sort((a, b) => a.depth - b.depth || (a.orgId < b.orgId ? -1 : a.orgId > b.orgId ? 1 : 0));
}

/** The orgs of a campaign's subtree found by id or by name (targets CSV rows name a unit either way). */
export async function unitsByIdOrName(db: Queryable, rootOrgId: string, keys: readonly string[]): Promise<Array<{ orgId: string; name: string; path: string[] }>> {
  if (keys.length === 0) return [];
  const rows = await db.any<{ org_id: string; name: string; path: string[] }>(
    `SELECT org_id, name, path FROM ul_orgs WHERE path @> ARRAY[$1::text] AND (org_id = ANY($2::text[]) OR name = ANY($2::text[]))`,
    [rootOrgId, keys],
  );
  return rows.map((row) => ({ orgId: row.org_id, name: row.name, path: row.path }));
}
