import type { Queryable } from '../../infra/database';
import type { EventStore } from '../../eventstore/event-store';
import { memberStream } from '../../domain/members';

/** Display names of these members (ul_members); members not projected yet are missing from the map. */
export async function memberNames(db: Queryable, memberIds: readonly string[]): Promise<Map<string, string>> {
  if (memberIds.length === 0) return new Map();
  const rows = await db.any<{ member_id: string; name: string }>('SELECT member_id, name FROM ul_members WHERE member_id = ANY($1)', [memberIds]);
  return new Map(rows.map((row) => [row.member_id, row.name]));
}

/** Names one process keeps at most: the top 100 of some hundreds of boards, a few MB. */
export const MEMBER_NAMES_CACHED_MAX = 50_000;

/**
 * Display names behind a bounded in-process cache, for the leaderboards' top N, which every
 * request names (bench:checkin: the names query was most of a top-100 request's time). A name is a
 * fact of the member's MemberEnrolled event: ul_members writes it once, no event changes it, and a
 * rebuild writes the same name again, so a cached name is never stale and needs no invalidation
 * (a new event that renames members would have to clear this cache). Members not projected yet are
 * not cached, so their names show as soon as the members projection has them. When full, the least
 * recently used name goes first.
 */
export class MemberNames {
  private readonly cache = new Map<string, string>();

  constructor(private readonly maxEntries = MEMBER_NAMES_CACHED_MAX) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new Error(`invariant violated: a name cache of ${maxEntries} entries`);
  }

  /** As memberNames: members not projected yet are missing from the map. */
  async of(db: Queryable, memberIds: readonly string[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    const missing: string[] = [];
    for (const memberId of memberIds) {
      const name = this.cache.get(memberId);
      if (name === undefined) {
        missing.push(memberId);
        continue;
      }
      // Moved to the end: Map keeps insertion order, so the first key is the least recently used.
      this.cache.delete(memberId);
      this.cache.set(memberId, name);
      names.set(memberId, name);
    }
    if (missing.length === 0) return names;
    for (const [memberId, name] of await memberNames(db, missing)) {
      names.set(memberId, name);
      if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(memberId, name);
    }
    return names;
  }
}

/** Evaluations a member holds at most: one per campaign, a few a year. */
const EVALUATIONS_READ_MAX = 10_000;

/**
 * The member's past evaluations, newest first, read from their own stream (a member's history is
 * small, and this answers with what they just submitted, with no projection lag).
 */
export async function memberEvaluations(store: EventStore, memberId: string): Promise<Array<Record<string, unknown>>> {
  const events = await store.readStream(memberStream(memberId), { direction: 'backwards', maxCount: EVALUATIONS_READ_MAX });
  return events.filter((event) => event.type === 'EvaluationSubmitted').map((event) => ({ ...event.data, submittedAt: event.metadata.occurredAt }));
}

/** The union and status of these members (ul_members); members not projected yet are missing. */
export async function membersByIds(db: Queryable, memberIds: readonly string[]): Promise<Map<string, { orgId: string; status: string }>> {
  if (memberIds.length === 0) return new Map();
  const rows = await db.any<{ member_id: string; org_id: string; status: string }>('SELECT member_id, org_id, status FROM ul_members WHERE member_id = ANY($1)', [memberIds]);
  return new Map(rows.map((row) => [row.member_id, { orgId: row.org_id, status: row.status }]));
}

/** Rows of one page of a unit's members or requests at most. */
export const LIFECYCLE_PAGE_MAX = 200;

export interface MemberRequestRow {
  kind: 'transfer' | 'join';
  requestId: string;
  memberId: string;
  name: string;
  fromOrgId: string | null;
  toOrgId: string;
  status: string;
  requestedBy: string | null;
  requestedAt: string;
  /** The keyset cursor: the global position of the request. */
  position: string;
}

/**
 * A unit's pending transfers or join applications in feed order, a keyset page after `after` (a
 * position from the previous page): 'incoming' are those the unit decides, 'outgoing' the
 * transfers of its members waiting for another unit.
 */
export async function pendingRequests(
  db: Queryable,
  options: { kind: 'transfer' | 'join'; orgId: string; direction: 'incoming' | 'outgoing'; after: bigint | null; limit: number },
): Promise<{ rows: MemberRequestRow[]; next: string | null }> {
  if (!Number.isSafeInteger(options.limit) || options.limit < 1 || options.limit > LIFECYCLE_PAGE_MAX) {
    throw new Error(`invariant violated: a requests page holds 1 to ${LIFECYCLE_PAGE_MAX} rows`);
  }
  const column = options.direction === 'incoming' ? 'to_org_id' : 'from_org_id';
  const rows = await db.any<{
    kind: 'transfer' | 'join';
    request_id: string;
    member_id: string;
    name: string;
    from_org_id: string | null;
    to_org_id: string;
    status: string;
    requested_by: string | null;
    requested_at: Date;
    requested_position: string;
  }>(
    `SELECT kind, request_id, member_id, name, from_org_id, to_org_id, status, requested_by, requested_at, requested_position
       FROM ul_member_requests
      WHERE ${column} = $1 AND kind = $2 AND status = 'pending' AND requested_position > $3
      ORDER BY requested_position LIMIT $4`,
    [options.orgId, options.kind, (options.after ?? -1n).toString(), options.limit + 1],
  );
  const page = rows.slice(0, options.limit).map((row) => ({
    kind: row.kind,
    requestId: row.request_id,
    memberId: row.member_id,
    name: row.name,
    fromOrgId: row.from_org_id,
    toOrgId: row.to_org_id,
    status: row.status,
    requestedBy: row.requested_by,
    requestedAt: row.requested_at.toISOString(),
    position: row.requested_position,
  }));
  return { rows: page, next: rows.length > options.limit ? page[page.length - 1]!.position : null };
}

/** A unit's own members (not its subtree's), by member id: a keyset page after `afterMemberId`. */
export async function membersOfUnit(
  db: Queryable,
  orgId: string,
  options: { afterMemberId: string | null; limit: number },
): Promise<{ rows: Array<{ memberId: string; name: string; status: string }>; next: string | null }> {
  if (!Number.isSafeInteger(options.limit) || options.limit < 1 || options.limit > LIFECYCLE_PAGE_MAX * 50) {
    throw new Error(`invariant violated: a members page holds 1 to ${LIFECYCLE_PAGE_MAX * 50} rows`);
  }
  const rows = await db.any<{ member_id: string; name: string; status: string }>(
    `SELECT member_id, name, status FROM ul_members
      WHERE org_id = $1 AND ($2::text IS NULL OR member_id > $2)
      ORDER BY member_id LIMIT $3`,
    [orgId, options.afterMemberId, options.limit + 1],
  );
  const page = rows.slice(0, options.limit).map((row) => ({ memberId: row.member_id, name: row.name, status: row.status }));
  return { rows: page, next: rows.length > options.limit ? page[page.length - 1]!.memberId : null };
}

/** Members whose union is `orgId` itself, whatever their status: a unit with any cannot close. */
export async function unitMemberCount(db: Queryable, orgId: string): Promise<number> {
  const row = await db.one<{ count: string }>('SELECT count(*) FROM ul_members WHERE org_id = $1', [orgId]);
  return Number(row.count);
}
