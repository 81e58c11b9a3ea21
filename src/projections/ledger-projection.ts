import type { DbTask } from '../infra/database';
import { pgp } from '../infra/database';
import type { RecordedEvent } from '../eventstore/event-store';
import type { MemberEvent, PointsGrantedData, Posting } from '../domain/member/member';
import type { OrganisationRegistered } from '../domain/org/organisation';
import type { Projection } from './projection-runner';

/**
 * The ledger's PostgreSQL read models, kept by one projection so they move together:
 * organisations (with their ancestor path), members, the double-entry journal, balances and the
 * member statement. Every row comes from event data alone (no now(), no sequence), so a rebuild
 * from event zero gives identical tables.
 */

export const LEDGER_PROJECTION = 'ledger';
export const LEDGER_TABLES = ['ul_orgs', 'ul_members', 'ul_journal', 'ul_balances', 'ul_statement'] as const;

const MEMBER_ACCOUNT = /^member:(.+):(available|held)$/;

const journalColumns = new pgp.helpers.ColumnSet(
  ['event_id', 'line', 'global_position', 'stream_id', 'stream_revision', 'account', 'amount', 'member_id', 'occurred_at'],
  { table: 'ul_journal' },
);
const balanceColumns = new pgp.helpers.ColumnSet(['member_id', 'org_id', 'available', 'held', 'lifetime_earned'], {
  table: 'ul_balances',
});
const statementColumns = new pgp.helpers.ColumnSet(
  [
    'member_id',
    'revision',
    'event_id',
    'occurred_at',
    'kind',
    'rule_id',
    'rule_version',
    'reference',
    'delta_available',
    'delta_held',
    'available_after',
    'held_after',
  ],
  { table: 'ul_statement' },
);

interface Balance {
  orgId: string | null;
  available: number;
  held: number;
  lifetimeEarned: number;
}

function postingsOf(event: MemberEvent): Posting[] {
  return 'postings' in event.data ? event.data.postings : [];
}

function referenceOf(event: MemberEvent): string | null {
  const data = event.data as Record<string, unknown>;
  for (const key of ['grantId', 'holdId', 'spendId']) if (typeof data[key] === 'string') return data[key] as string;
  return null;
}

export function ledgerProjection(): Projection {
  return {
    name: LEDGER_PROJECTION,
    streamPrefixes: ['member-', 'org-'],
    async apply(tx: DbTask, events: RecordedEvent[]) {
      const memberIds = new Set<string>();
      for (const recorded of events) {
        if (recorded.streamId.startsWith('member-')) memberIds.add(recorded.streamId.slice('member-'.length));
      }
      const balances = new Map<string, Balance>();
      if (memberIds.size > 0) {
        const rows = await tx.any<{ member_id: string; org_id: string | null; available: string; held: string; lifetime_earned: string }>(
          'SELECT member_id, org_id, available, held, lifetime_earned FROM ul_balances WHERE member_id = ANY($1)',
          [[...memberIds]],
        );
        for (const row of rows) {
          balances.set(row.member_id, {
            orgId: row.org_id,
            available: Number(row.available),
            held: Number(row.held),
            lifetimeEarned: Number(row.lifetime_earned),
          });
        }
      }
      const balanceOf = (memberId: string): Balance => {
        let balance = balances.get(memberId);
        if (!balance) {
          balance = { orgId: null, available: 0, held: 0, lifetimeEarned: 0 };
          balances.set(memberId, balance);
        }
        return balance;
      };

      const journal: Record<string, unknown>[] = [];
      const statement: Record<string, unknown>[] = [];
      for (const recorded of events) {
        const occurredAt = recorded.metadata.occurredAt;
        if (recorded.type === 'OrganisationRegistered') {
          const { orgId, name, parentId, level } = (recorded as unknown as OrganisationRegistered).data;
          // The parent was committed before its child was appended, so its row is already here.
          await tx.none(
            `INSERT INTO ul_orgs (org_id, name, parent_id, level, path)
             SELECT $1, $2, $3, $4, coalesce((SELECT path FROM ul_orgs WHERE org_id = $3), '{}') || $1::text`,
            [orgId, name, parentId, level],
          );
          continue;
        }
        if (!recorded.streamId.startsWith('member-')) continue;
        const event = { type: recorded.type, data: recorded.data } as unknown as MemberEvent;
        const memberId = recorded.streamId.slice('member-'.length);
        const balance = balanceOf(memberId);
        if (event.type === 'MemberEnrolled') {
          balance.orgId = event.data.orgId;
          await tx.none(
            `INSERT INTO ul_members (member_id, org_id, name, status, enrolled_at) VALUES ($1, $2, $3, 'enrolled', $4)`,
            [memberId, event.data.orgId, event.data.name, occurredAt],
          );
        } else if (event.type === 'MemberActivated') {
          await tx.none(`UPDATE ul_members SET status = 'active', activated_at = $2 WHERE member_id = $1`, [memberId, occurredAt]);
        }
        const postings = postingsOf(event);
        if (postings.length === 0) continue;
        let deltaAvailable = 0;
        let deltaHeld = 0;
        postings.forEach((posting, index) => {
          for (const [line, account, amount] of [
            [index * 2, posting.debit, -posting.points],
            [index * 2 + 1, posting.credit, posting.points],
          ] as const) {
            const match = MEMBER_ACCOUNT.exec(account);
            journal.push({
              event_id: recorded.eventId,
              line,
              global_position: recorded.globalPosition.toString(),
              stream_id: recorded.streamId,
              stream_revision: recorded.revision.toString(),
              account,
              amount,
              member_id: match ? match[1] : null,
              occurred_at: occurredAt,
            });
            if (match?.[1] === memberId) {
              if (match[2] === 'available') deltaAvailable += amount;
              else deltaHeld += amount;
            }
          }
        });
        balance.available += deltaAvailable;
        balance.held += deltaHeld;
        if (event.type === 'PointsGranted') balance.lifetimeEarned += event.data.points;
        const grant = event.type === 'PointsGranted' ? (event.data as PointsGrantedData) : null;
        statement.push({
          member_id: memberId,
          revision: recorded.revision.toString(),
          event_id: recorded.eventId,
          occurred_at: occurredAt,
          kind: event.type,
          rule_id: grant?.ruleId ?? null,
          rule_version: grant?.ruleVersion ?? null,
          reference: referenceOf(event),
          delta_available: deltaAvailable,
          delta_held: deltaHeld,
          available_after: balance.available,
          held_after: balance.held,
        });
      }
      if (journal.length > 0) await tx.none(pgp.helpers.insert(journal, journalColumns));
      if (statement.length > 0) await tx.none(pgp.helpers.insert(statement, statementColumns));
      const touched = [...balances].map(([memberId, balance]) => ({
        member_id: memberId,
        org_id: balance.orgId,
        available: balance.available,
        held: balance.held,
        lifetime_earned: balance.lifetimeEarned,
      }));
      if (touched.length > 0) {
        await tx.none(
          `${pgp.helpers.insert(touched, balanceColumns)}
           ON CONFLICT (member_id) DO UPDATE SET org_id = EXCLUDED.org_id, available = EXCLUDED.available,
             held = EXCLUDED.held, lifetime_earned = EXCLUDED.lifetime_earned`,
        );
      }
    },
  };
}
