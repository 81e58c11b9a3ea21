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

/**
 * Batched writes: each table gets one INSERT per batch whose rows arrive as one JSON array
 * parameter, unpacked by json_to_recordset. PostgreSQL parses one JSON literal far faster than a
 * VALUES list of thousands of rows (each row a parse tree of its own), and JSON.stringify is the
 * cheapest way to serialise rows on the Node side; a 10,000-event rebuild page is then three
 * statements sent in one round trip. The column types below are the tables' own (schema.ts).
 */
const JOURNAL_INSERT = `INSERT INTO ul_journal (event_id, line, global_position, stream_id, stream_revision, account, asset, amount, member_id, occurred_at)
  SELECT event_id, line, global_position, stream_id, stream_revision, account, asset, amount, member_id, occurred_at
    FROM json_to_recordset($1::json) AS r(event_id uuid, line integer, global_position bigint, stream_id text, stream_revision bigint,
      account text, asset text, amount bigint, member_id text, occurred_at timestamptz)`;
const STATEMENT_INSERT = `INSERT INTO ul_statement (member_id, revision, event_id, occurred_at, kind, rule_id, rule_version, reference, delta_available,
    delta_held, available_after, held_after)
  SELECT member_id, revision, event_id, occurred_at, kind, rule_id, rule_version, reference, delta_available, delta_held, available_after, held_after
    FROM json_to_recordset($1::json) AS r(member_id text, revision bigint, event_id uuid, occurred_at timestamptz, kind text, rule_id text,
      rule_version integer, reference text, delta_available bigint, delta_held bigint, available_after bigint, held_after bigint)`;
const BALANCES_UPSERT = `INSERT INTO ul_balances (member_id, org_id, available, held, lifetime_earned)
  SELECT member_id, org_id, available, held, lifetime_earned
    FROM json_to_recordset($1::json) AS r(member_id text, org_id text, available bigint, held bigint, lifetime_earned bigint)
  ON CONFLICT (member_id) DO UPDATE SET org_id = EXCLUDED.org_id, available = EXCLUDED.available,
    held = EXCLUDED.held, lifetime_earned = EXCLUDED.lifetime_earned`;

/** Events per catch-up page: the most readAll returns; the batched writes keep a page one transaction of a few statements. */
export const LEDGER_CATCH_UP_BATCH = 10_000;

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
    catchUpBatchSize: LEDGER_CATCH_UP_BATCH,
    // Every stream: the journal takes the postings of every context; balances and the statement
    // are the member streams' points.
    async apply(tx: DbTask, events: RecordedEvent[]) {
      // Members whose stream starts in this batch (revision 0 comes first) have no balance row yet:
      // a row exists once any event of the stream was applied. Only the others are looked up,
      // which in a rebuild is a page's few members straddling its edges.
      const memberIds = new Set<string>();
      const startingHere = new Set<string>();
      for (const recorded of events) {
        if (!recorded.streamId.startsWith('member-')) continue;
        const memberId = recorded.streamId.slice('member-'.length);
        if (recorded.revision === 0n) startingHere.add(memberId);
        else if (!startingHere.has(memberId)) memberIds.add(memberId);
      }
      const balances = new Map<string, Balance>();
      if (memberIds.size > 0) {
        const rows = await tx.any<{ member_id: string; org_id: string | null; available: string; held: string; lifetime_earned: string }>(
          // The ids as one JSON parameter: pg-promise would spell an array as array['...', ...], a
          // parse-tree node per element, which cost more than the lookup itself on a 10,000-event page.
          'SELECT member_id, org_id, available, held, lifetime_earned FROM ul_balances WHERE member_id IN (SELECT json_array_elements_text($1::json))',
          [JSON.stringify([...memberIds])],
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
      // Only the balances this batch touched (members with an event in it), each written once
      // with its state after the whole batch: a member with many events in a page is one row.
      const touched = [...balances].map(([memberId, balance]) => ({
        member_id: memberId,
        org_id: balance.orgId,
        available: balance.available,
        held: balance.held,
        lifetime_earned: balance.lifetimeEarned,
      }));
      const statements: string[] = [];
      if (journal.length > 0) statements.push(pgp.as.format(JOURNAL_INSERT, [JSON.stringify(journal)]));
      if (statement.length > 0) statements.push(pgp.as.format(STATEMENT_INSERT, [JSON.stringify(statement)]));
      if (touched.length > 0) statements.push(pgp.as.format(BALANCES_UPSERT, [JSON.stringify(touched)]));
      // One round trip for the three; they run in order inside the caller's transaction.
      if (statements.length > 0) await tx.multi(statements.join(';\n'));
    },
  };
}
