import type { DbTask } from '../../infra/database';
import type { RecordedEvent } from '../../eventstore/event-store';
import type { MemberEvent } from '../../domain/members';
import type { Projection } from '../runner';

/** Members with their union and status (ul_members): names on leaderboards, counts per unit. */
export const MEMBERS_PROJECTION = 'members';

export function membersProjection(): Projection {
  return {
    name: MEMBERS_PROJECTION,
    tables: ['ul_members'],
    streamPrefixes: ['member-'],
    eventTypes: ['MemberEnrolled', 'MemberActivated'],
    // Every row is keyed by the stream whose events write it: partitions by stream give the same rows.
    partitionable: true,
    async apply(tx: DbTask, events: RecordedEvent[]) {
      for (const recorded of events) {
        const event = { type: recorded.type, data: recorded.data } as unknown as MemberEvent;
        const memberId = recorded.streamId.slice('member-'.length);
        const occurredAt = recorded.metadata.occurredAt;
        if (event.type === 'MemberEnrolled') {
          await tx.none(`INSERT INTO ul_members (member_id, org_id, name, status, enrolled_at) VALUES ($1, $2, $3, 'enrolled', $4)`, [
            memberId,
            event.data.orgId,
            event.data.name,
            occurredAt,
          ]);
        } else if (event.type === 'MemberActivated') {
          await tx.none(`UPDATE ul_members SET status = 'active', activated_at = $2 WHERE member_id = $1`, [memberId, occurredAt]);
        }
      }
    },
  };
}
