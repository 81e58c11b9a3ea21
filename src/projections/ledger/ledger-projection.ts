import type { DbTask } from '../../infra/database';
import { pgp } from '../../infra/database';
import type { RecordedEvent } from '../../eventstore/event-store';
import type { MemberEvent, PointsGrantedData } from '../../domain/members';
import type { Posting } from '../../domain/shared';
import type { Projection } from '../runner';

/**
 * The ledger's PostgreSQL read models, kept by one projection so they move together: the
 * double-entry journal (every posting of every context, each line with its asset), members'
 * points balances and the member statement.
 */

export const LEDGER_PROJECTION = 'ledger';
export const LEDGER_TABLES = ['ul_journal', 'ul_balances', 'ul_statement'] as const;

const MEMBER_ACCOUNT = /^member:(.+):(available|held)$/;

const journalColumns = new pgp.helpers.ColumnSet(
  ['event_id', 'line', 'global_position', 'stream_id', 'stream_revision', 'account', 'asset', 'amount', 'member_id', 'occurred_at'],
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

/** The postings an event of any context carries (every movement of value has them). */
function postingsOf(recorded: RecordedEvent): Posting[] {
  const postings = (recorded.data as { postings?: unknown }).postings;
  return Array.isArray(postings) ? (postings as unknown as Posting[]) : [];
}

function referenceOf(event: MemberEvent): string | null {
  const data = event.data as Record<string, unknown>;
  for (const key of ['grantId', 'holdId', 'spendId']) if (typeof data[key] === 'string') return data[key] as string;
  return null;
}

interface JournalLine {
  event_id: string;
  line: number;
  global_position: string;
  stream_id: string;
  stream_revision: string;
  account: string;
  asset: string;
  amount: number;
  member_id: string | null;
  occurred_at: string;
}

/** A posting as two journal lines: the debit (negative) and the credit (positive). */
function journalLines(recorded: RecordedEvent, posting: Posting, index: number): JournalLine[] {
  return ([
    [index * 2, posting.debit, -posting.amount],
    [index * 2 + 1, posting.credit, posting.amount],
  ] as const).map(([line, account, amount]) => ({
    event_id: recorded.eventId,
    line,
    global_position: recorded.globalPosition.toString(),
    stream_id: recorded.streamId,
    stream_revision: recorded.revision.toString(),
    account,
    asset: posting.asset,
    amount,
    member_id: MEMBER_ACCOUNT.exec(account)?.[1] ?? null,
    occurred_at: recorded.metadata.occurredAt,
  }));
}

export function ledgerProjection(): Projection {
  return {
    name: LEDGER_PROJECTION,
    tables: LEDGER_TABLES,
    // Every stream: the journal takes the postings of every context; balances and the statement
    // are the member streams' points.
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

      const journal: JournalLine[] = [];
      const statement: Record<string, unknown>[] = [];
      for (const recorded of events) {
        const occurredAt = recorded.metadata.occurredAt;
        const postings = postingsOf(recorded);
        const memberId = recorded.streamId.startsWith('member-') ? recorded.streamId.slice('member-'.length) : null;
        if (memberId === null) {
          postings.forEach((posting, index) => journal.push(...journalLines(recorded, posting, index)));
          continue;
        }
        const event = { type: recorded.type, data: recorded.data } as unknown as MemberEvent;
        const balance = balanceOf(memberId);
        if (event.type === 'MemberEnrolled') balance.orgId = event.data.orgId;
        // The balance follows the member to their new union (members/member-lifecycle.ts).
        if (event.type === 'MemberTransferred' || event.type === 'MemberParked') balance.orgId = event.data.toOrgId;
        if (postings.length === 0) continue;
        let deltaAvailable = 0;
        let deltaHeld = 0;
        postings.forEach((posting, index) => {
          for (const line of journalLines(recorded, posting, index)) {
            journal.push(line);
            // Points balances move with POINTS postings on the member's own accounts only.
            const match = MEMBER_ACCOUNT.exec(line.account);
            if (posting.asset === 'POINTS' && match?.[1] === memberId) {
              if (match[2] === 'available') deltaAvailable += line.amount;
              else deltaHeld += line.amount;
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
