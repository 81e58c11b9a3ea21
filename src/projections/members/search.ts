import type { Queryable } from '../../infra/database';

export const MEMBER_SEARCH_MAX = 50;

export interface MemberSearchHit {
  memberId: string;
  /** The name with every character after the first hidden: 张** (the console shows nothing more). */
  nameMasked: string;
  orgId: string;
  orgName: string;
  status: string;
  enrolledAt: string;
  activatedAt: string | null;
}

/** 张三 → 张*, 欧阳娜娜 → 欧***: enough to tell members apart in a list, not to identify a stranger. */
export function maskName(name: string): string {
  const characters = [...name];
  if (characters.length <= 1) return '*';
  return characters[0] + '*'.repeat(characters.length - 1);
}

/**
 * Members of the subtree under `rootOrgId` (null: everywhere, for auditors) whose name starts with
 * `text` or whose member id does, at most `limit`, by member id. Names leave this function masked:
 * the console's search shows no personal data in the clear.
 */
export async function searchMembers(db: Queryable, options: { rootOrgId: string | null; text: string; limit: number }): Promise<MemberSearchHit[]> {
  const limit = Math.max(1, Math.min(options.limit, MEMBER_SEARCH_MAX));
  // A prefix, with LIKE's own wildcards taken literally.
  const prefix = `${options.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const rows = await db.any<{ member_id: string; name: string; org_id: string; org_name: string; status: string; enrolled_at: Date; activated_at: Date | null }>(
    `SELECT m.member_id, m.name, m.org_id, o.name AS org_name, m.status, m.enrolled_at, m.activated_at
       FROM ul_members m JOIN ul_orgs o ON o.org_id = m.org_id
      WHERE ($1::text IS NULL OR o.path @> ARRAY[$1::text]) AND (m.name LIKE $2 OR m.member_id LIKE $2)
      ORDER BY m.member_id LIMIT $3`,
    [options.rootOrgId, prefix, limit],
  );
  return rows.map((row) => ({
    memberId: row.member_id,
    nameMasked: maskName(row.name),
    orgId: row.org_id,
    orgName: row.org_name,
    status: row.status,
    enrolledAt: row.enrolled_at.toISOString(),
    activatedAt: row.activated_at ? row.activated_at.toISOString() : null,
  }));
}
