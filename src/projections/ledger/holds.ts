import type { Queryable } from '../../infra/database';

/** The most members one call returns. */
export const EXPIRED_HOLDERS_MAX = 10_000;

/**
 * Members with a hold past its expiry that nothing released yet, by member id: the idle members
 * whose next command would release it (MemberService.releaseDueHolds does it for them). A member
 * released drops out, so the next call is the next page.
 *
 * ul_balances narrows it to members holding points; the holds' expiries are in the events
 * themselves (no read model keeps them), read through the (stream_id, stream_revision) index of
 * each such member's stream. With another event-store adapter ul_events is empty and this finds
 * nobody: such members are then released by their next command, as before.
 */
export async function membersWithExpiredHolds(db: Queryable, nowMs: number, limit: number): Promise<string[]> {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > EXPIRED_HOLDERS_MAX) {
    throw new Error(`invariant violated: an expired-holds sweep of ${limit} rows (1 to ${EXPIRED_HOLDERS_MAX})`);
  }
  return db.map(
    `SELECT b.member_id FROM ul_balances b
      WHERE b.held > 0
        AND EXISTS (
          SELECT 1 FROM ul_events h
           WHERE h.stream_id = 'member-' || b.member_id AND h.event_type = 'PointsHeld'
             AND (h.data->>'expiresAtMs')::bigint <= $1
             AND NOT EXISTS (
               SELECT 1 FROM ul_events r
                WHERE r.stream_id = h.stream_id AND r.event_type IN ('HoldPosted', 'HoldVoided')
                  AND r.data->>'holdId' = h.data->>'holdId'))
      ORDER BY b.member_id LIMIT $2`,
    [nowMs, limit],
    (row: { member_id: string }) => row.member_id,
  );
}
