import type { Database, Queryable } from '../../infra/database';

/**
 * The organisation tree as the orgs projection stores it (ul_orgs). Paths are cached: an
 * organisation's place in the tree never changes once registered.
 */
export class OrgDirectory {
  private readonly paths = new Map<string, string[]>();

  constructor(
    private readonly db: Database,
    private readonly cacheEntries = 100_000,
  ) {}

  /** The org's ancestors from the root down, ending with the org; null when it is unknown. */
  async pathOf(orgId: string): Promise<string[] | null> {
    const cached = this.paths.get(orgId);
    if (cached) return cached;
    const row = await this.db.oneOrNone<{ path: string[] }>('SELECT path FROM ul_orgs WHERE org_id = $1', [orgId]);
    if (!row) return null;
    if (this.paths.size >= this.cacheEntries) this.paths.delete(this.paths.keys().next().value!);
    this.paths.set(orgId, row.path);
    return row.path;
  }
}

/** Organisations of one subtree listed at most: a province has a few thousand unions. */
export const SUBTREE_MAX = 100_000;

/** The organisation and every organisation below it (ul_orgs.path), for scoping lists to an admin's subtree. */
export async function subtreeOrgIds(db: Queryable, orgId: string): Promise<string[]> {
  const rows = await db.any<{ org_id: string }>('SELECT org_id FROM ul_orgs WHERE path @> ARRAY[$1]::text[] ORDER BY org_id LIMIT $2', [orgId, SUBTREE_MAX]);
  return rows.map((row) => row.org_id);
}
