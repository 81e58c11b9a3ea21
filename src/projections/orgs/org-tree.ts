import type { Queryable } from '../../infra/database';

/** Organisations one tree answer holds at most: a city with its counties and units is a few hundred. */
export const ORG_TREE_MAX = 5_000;

export interface OrgTreeNode {
  orgId: string;
  name: string;
  parentId: string | null;
  level: string;
  /** Members enrolled at this organisation itself (not below it). */
  members: number;
  /** Of them, activated. */
  activeMembers: number;
}

/**
 * The open organisations of the subtree under `rootOrgIds` (null: every root, for auditors) with
 * each organisation's own member counts (members who left excluded), shallowest first; the console sums them up the tree. The counts come from the
 * members read model (ul_members) in the same statement, so one answer is one snapshot.
 */
export async function orgTree(db: Queryable, rootOrgId: string | null, limit = ORG_TREE_MAX): Promise<{ orgs: OrgTreeNode[]; truncated: boolean }> {
  const rows = await db.any<{ org_id: string; name: string; parent_id: string | null; level: string; members: string; active: string }>(
    `SELECT o.org_id, o.name, o.parent_id, o.level,
            m.members, m.active
       FROM ul_orgs o
       -- Per organisation through ul_members_org_idx: only the subtree's members are counted.
       -- Members who left the union are not counted (GET /v1/admin/orgs/:id shows them apart).
       CROSS JOIN LATERAL (SELECT count(*) AS members, count(*) FILTER (WHERE activated_at IS NOT NULL) AS active
                             FROM ul_members WHERE org_id = o.org_id AND status <> 'left') m
      -- Closed (and merged) units are history: the tree shows the organisation as it stands.
      WHERE ($1::text IS NULL OR o.path @> ARRAY[$1::text]) AND NOT o.closed
      ORDER BY cardinality(o.path), o.org_id
      LIMIT $2`,
    [rootOrgId, limit + 1],
  );
  return {
    orgs: rows.slice(0, limit).map((row) => ({
      orgId: row.org_id,
      name: row.name,
      parentId: row.parent_id,
      level: row.level,
      members: Number(row.members),
      activeMembers: Number(row.active),
    })),
    truncated: rows.length > limit,
  };
}
