import type { Database, Queryable } from '../../infra/database';
import { VersionedCache } from '../../infra/versioned-cache';

/**
 * The organisation tree as the orgs projection stores it (ul_orgs), with paths cached. A path
 * changes when the org or one of its ancestors moves, possibly in another process: the cache is
 * valid only while ul_org_tree (the position of the last move, written by the orgs projection in
 * the transaction of the move) says what it said when the cache was filled. That check is one
 * primary-key read, shared by the calls of `validityMs` (0: every call checks).
 */
export class OrgDirectory {
  private readonly paths: VersionedCache<string[]>;

  constructor(
    private readonly db: Database,
    cacheEntries = 100_000,
    validityMs = 0,
  ) {
    this.paths = new VersionedCache(() => treeVersion(db), cacheEntries, validityMs);
  }

  /** The org's ancestors from the root down, ending with the org; null when it is unknown. */
  async pathOf(orgId: string): Promise<string[] | null> {
    await this.paths.check();
    const cached = this.paths.get(orgId);
    if (cached) return cached;
    const row = await this.db.oneOrNone<{ path: string[] }>('SELECT path FROM ul_orgs WHERE org_id = $1', [orgId]);
    if (!row) return null;
    this.paths.set(orgId, row.path);
    return row.path;
  }

  /** Forgets every cached path (this process just moved an organisation). */
  invalidate(): void {
    this.paths.invalidate();
  }
}

/** The global position of the last move in the tree ('' before any): changes whenever some path does. */
export async function treeVersion(db: Queryable): Promise<string> {
  const row = await db.oneOrNone<{ changed_at_position: string }>('SELECT changed_at_position FROM ul_org_tree WHERE id = 1');
  return row?.changed_at_position ?? '';
}

/** Organisations of one subtree listed at most: a province has a few thousand unions. */
export const SUBTREE_MAX = 100_000;

/** The organisation and every organisation below it (ul_orgs.path), for scoping lists to an admin's subtree. */
export async function subtreeOrgIds(db: Queryable, orgId: string): Promise<string[]> {
  const rows = await db.any<{ org_id: string }>('SELECT org_id FROM ul_orgs WHERE path @> ARRAY[$1]::text[] ORDER BY org_id LIMIT $2', [orgId, SUBTREE_MAX]);
  return rows.map((row) => row.org_id);
}

export interface OrgSummary {
  orgId: string;
  name: string;
  parentId: string | null;
  level: string;
  path: string[];
  closed: boolean;
  mergedInto: string | null;
  /** Open organisations directly under this one. */
  children: number;
  /** Members of this organisation and its whole subtree, by status (the tree and the members as they are now). */
  members: { enrolled: number; active: number; left: number; total: number };
  /** Members whose union is this organisation itself (parked members, for an upper-level union). */
  ownMembers: number;
}

/** An organisation with its counts; null when the projection does not know it. */
export async function orgSummary(db: Queryable, orgId: string): Promise<OrgSummary | null> {
  const row = await db.oneOrNone<{
    org_id: string;
    name: string;
    parent_id: string | null;
    level: string;
    path: string[];
    closed: boolean;
    merged_into: string | null;
    children: string;
    enrolled: string;
    active: string;
    left_count: string;
    own: string;
  }>(
    `SELECT o.org_id, o.name, o.parent_id, o.level, o.path, o.closed, o.merged_into,
            (SELECT count(*) FROM ul_orgs c WHERE c.parent_id = o.org_id AND NOT c.closed) AS children,
            count(m.member_id) FILTER (WHERE m.status = 'enrolled') AS enrolled,
            count(m.member_id) FILTER (WHERE m.status = 'active') AS active,
            count(m.member_id) FILTER (WHERE m.status = 'left') AS left_count,
            count(m.member_id) FILTER (WHERE m.org_id = o.org_id) AS own
       FROM ul_orgs o
       LEFT JOIN ul_orgs s ON s.path @> ARRAY[o.org_id]
       LEFT JOIN ul_members m ON m.org_id = s.org_id
      WHERE o.org_id = $1
      GROUP BY o.org_id`,
    [orgId],
  );
  if (!row) return null;
  const [enrolled, active, left] = [Number(row.enrolled), Number(row.active), Number(row.left_count)];
  return {
    orgId: row.org_id,
    name: row.name,
    parentId: row.parent_id,
    level: row.level,
    path: row.path,
    closed: row.closed,
    mergedInto: row.merged_into,
    children: Number(row.children),
    members: { enrolled, active, left, total: enrolled + active + left },
    ownMembers: Number(row.own),
  };
}

/** Open organisations directly under `orgId` (ul_orgs): a unit with any cannot close or merge. */
export async function openChildCount(db: Queryable, orgId: string): Promise<number> {
  const row = await db.one<{ count: string }>('SELECT count(*) FROM ul_orgs WHERE parent_id = $1 AND NOT closed', [orgId]);
  return Number(row.count);
}
