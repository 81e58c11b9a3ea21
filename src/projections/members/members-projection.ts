import type { DbTask } from '../../infra/database';
import type { RecordedEvent } from '../../eventstore/event-store';
import type { JoinEvent, MemberEvent } from '../../domain/members';
import type { Projection } from '../runner';

/**
 * Members with their union and status (ul_members): names on leaderboards, counts per unit. A
 * transfer or a parking changes the member's union; leaving makes the status 'left' until a
 * reinstatement gives back 'active' or 'enrolled'. Transfers and join applications waiting for a
 * unit's decision are kept in ul_member_requests (the approvals inbox).
 */
export const MEMBERS_PROJECTION = 'members';

const LIFECYCLE_EVENTS = ['MemberTransferRequested', 'MemberTransferDeclined', 'MemberTransferWithdrawn', 'MemberTransferred', 'MemberParked', 'MemberLeft', 'MemberReinstated'];
const JOIN_EVENTS = ['JoinApplied', 'JoinApproved', 'JoinDeclined'];

export function membersProjection(): Projection {
  return {
    name: MEMBERS_PROJECTION,
    tables: ['ul_members', 'ul_member_requests'],
    streamPrefixes: ['member-', 'join-'],
    eventTypes: ['MemberEnrolled', 'MemberActivated', ...LIFECYCLE_EVENTS, ...JOIN_EVENTS],
    // Every row is keyed by the stream whose events write it (a member's row and transfer requests by
    // the member stream, a join application's by its join stream): partitions by stream give the same rows.
    partitionable: true,
    async apply(tx: DbTask, events: RecordedEvent[]) {
      for (const recorded of events) {
        if (recorded.streamId.startsWith('join-')) {
          await applyJoin(tx, recorded);
          continue;
        }
        const event = { type: recorded.type, data: recorded.data } as unknown as MemberEvent;
        const memberId = recorded.streamId.slice('member-'.length);
        const occurredAt = recorded.metadata.occurredAt;
        switch (event.type) {
          case 'MemberEnrolled':
            await tx.none(`INSERT INTO ul_members (member_id, org_id, name, status, enrolled_at) VALUES ($1, $2, $3, 'enrolled', $4)`, [
              memberId,
              event.data.orgId,
              event.data.name,
              occurredAt,
            ]);
            break;
          case 'MemberActivated':
            await tx.none(`UPDATE ul_members SET status = 'active', activated_at = $2 WHERE member_id = $1`, [memberId, occurredAt]);
            break;
          case 'MemberTransferRequested': {
            const { transferId, fromOrgId, toOrgId, byAdminId } = event.data;
            await tx.none(
              `INSERT INTO ul_member_requests (kind, request_id, member_id, name, from_org_id, to_org_id, status, requested_by, requested_at, requested_position)
               SELECT 'transfer', $1, $2, coalesce((SELECT name FROM ul_members WHERE member_id = $2), ''), $3, $4, 'pending', $5, $6, $7`,
              [transferId, memberId, fromOrgId, toOrgId, byAdminId ?? `member:${memberId}`, occurredAt, recorded.globalPosition.toString()],
            );
            break;
          }
          case 'MemberTransferDeclined':
            await decided(tx, 'transfer', event.data.transferId, 'declined', event.data.byAdminId, occurredAt, event.data.reason);
            break;
          case 'MemberTransferWithdrawn':
            // Leaves the receiving unit's inbox: taken back by the member (named as the request names them) or an admin.
            await decided(tx, 'transfer', event.data.transferId, 'withdrawn', event.data.byAdminId ?? `member:${memberId}`, occurredAt, null);
            break;
          case 'MemberTransferred':
            await tx.none('UPDATE ul_members SET org_id = $2 WHERE member_id = $1', [memberId, event.data.toOrgId]);
            // A merge moves the member without a request: no row to decide.
            await decided(tx, 'transfer', event.data.transferId, 'accepted', event.data.byAdminId, occurredAt, null);
            break;
          case 'MemberParked':
            await tx.none('UPDATE ul_members SET org_id = $2 WHERE member_id = $1', [memberId, event.data.toOrgId]);
            break;
          case 'MemberLeft':
            await tx.none(`UPDATE ul_members SET status = 'left' WHERE member_id = $1`, [memberId]);
            // Leaving drops the transfer that was waiting (the member's state forgets it too).
            await tx.none(
              `UPDATE ul_member_requests SET status = 'withdrawn', decided_by = $2, decided_at = $3
                WHERE kind = 'transfer' AND member_id = $1 AND status = 'pending'`,
              [memberId, event.data.byAdminId, occurredAt],
            );
            break;
          case 'MemberReinstated':
            await tx.none(
              `UPDATE ul_members SET status = CASE WHEN activated_at IS NULL THEN 'enrolled' ELSE 'active' END WHERE member_id = $1`,
              [memberId],
            );
            break;
          default:
            break;
        }
      }
    },
  };
}

async function decided(tx: DbTask, kind: string, requestId: string, status: string, by: string, at: string, reason: string | null): Promise<void> {
  await tx.none(
    `UPDATE ul_member_requests SET status = $3, decided_by = $4, decided_at = $5, reason = $6
      WHERE kind = $1 AND request_id = $2 AND status = 'pending'`,
    [kind, requestId, status, by, at, reason],
  );
}

async function applyJoin(tx: DbTask, recorded: RecordedEvent): Promise<void> {
  const event = { type: recorded.type, data: recorded.data } as unknown as JoinEvent;
  const occurredAt = recorded.metadata.occurredAt;
  switch (event.type) {
    case 'JoinApplied': {
      const { applicationId, memberId, name, orgId, applicantId } = event.data;
      await tx.none(
        `INSERT INTO ul_member_requests (kind, request_id, member_id, name, from_org_id, to_org_id, status, requested_by, requested_at, requested_position)
         VALUES ('join', $1, $2, $3, NULL, $4, 'pending', $5, $6, $7)`,
        [applicationId, memberId, name, orgId, applicantId, occurredAt, recorded.globalPosition.toString()],
      );
      break;
    }
    case 'JoinApproved':
      await decided(tx, 'join', event.data.applicationId, 'approved', event.data.byAdminId, occurredAt, null);
      break;
    case 'JoinDeclined':
      await decided(tx, 'join', event.data.applicationId, 'declined', event.data.byAdminId, occurredAt, event.data.reason);
      break;
    default: {
      const unknown: never = event;
      throw new Error(`unknown join event ${(unknown as { type: string }).type}`);
    }
  }
}
