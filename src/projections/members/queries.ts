import type { Queryable } from '../../infra/database';
import type { EventStore } from '../../eventstore/event-store';
import { memberStream } from '../../domain/members';

/** Display names of these members (ul_members); members not projected yet are missing from the map. */
export async function memberNames(db: Queryable, memberIds: readonly string[]): Promise<Map<string, string>> {
  if (memberIds.length === 0) return new Map();
  const rows = await db.any<{ member_id: string; name: string }>('SELECT member_id, name FROM ul_members WHERE member_id = ANY($1)', [memberIds]);
  return new Map(rows.map((row) => [row.member_id, row.name]));
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
