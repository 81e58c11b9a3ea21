import type { Queryable } from '../../infra/database';
import { feedPointAt } from './heads';

/**
 * Any account's statement for the auditor, read from the events themselves (never from the
 * journal: the journal is a projection, and it is what the auditor checks the events against).
 * Paged by global position: a page is the events after `afterPosition` that post to or from the
 * account, in global-position order, each posting to the account one line. Reads only.
 *
 * The cursor is a global position, but the pages follow the feed's order (transaction_id, then
 * position) and stop at its visible end (below `pg_snapshot_xmin`): ordered by position alone, an
 * event committed late with a lower position than a page already read would be skipped for good.
 * The position's sort key is looked up, so the next page starts exactly after the last line's event.
 */

export class StatementCursorError extends Error {}

export const ACCOUNT_STATEMENT_PAGE_MAX = 500;

export interface AccountStatementLine {
  globalPosition: string;
  streamId: string;
  revision: string;
  type: string;
  recordedAt: string;
  asset: string;
  /** Signed decimal text: credits positive, debits negative. */
  amount: string;
  /** The other side of the posting. */
  counterparty: string;
}

export interface AccountStatementPage {
  account: string;
  lines: AccountStatementLine[];
  /** The `afterPosition` of the next page, or null when this page reached the visible end. */
  nextPosition: string | null;
}

interface Row {
  global_position: string;
  stream_id: string;
  stream_revision: string;
  event_type: string;
  recorded_at: Date;
  schema_version: number;
  postings: unknown[];
}

/** `afterPosition` null: from the first event. */
export async function accountStatement(db: Queryable, account: string, afterPosition: bigint | null, limit: number): Promise<AccountStatementPage> {
  const pageSize = Math.min(Math.max(1, limit), ACCOUNT_STATEMENT_PAGE_MAX);
  let after: { position: string; sortKey: string } | null = null;
  if (afterPosition !== null) {
    const point = await feedPointAt(db, afterPosition);
    if (!point || point.sortKey === null) throw new StatementCursorError(`no event is stored at position ${afterPosition}`);
    after = { position: point.position.toString(), sortKey: point.sortKey };
  }
  // Containment on either side of any posting; both shapes (v1 `points`, v2 `amount` + `asset`) name debit and credit.
  const rows = await db.any<Row>(
    `SELECT global_position::text, stream_id, stream_revision::text, event_type, recorded_at, schema_version, data->'postings' AS postings
       FROM ul_events
      WHERE ($2::bigint IS NULL OR (transaction_id, global_position) > ($4::xid8, $2::bigint))
        AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        AND jsonb_typeof(data->'postings') = 'array'
        AND (data->'postings' @> jsonb_build_array(jsonb_build_object('debit', $1::text))
          OR data->'postings' @> jsonb_build_array(jsonb_build_object('credit', $1::text)))
      ORDER BY transaction_id, global_position LIMIT $3`,
    [account, after?.position ?? null, pageSize + 1, after?.sortKey ?? null],
  );
  const page = rows.slice(0, pageSize);
  const lines: AccountStatementLine[] = [];
  for (const row of page) {
    for (const raw of row.postings) {
      if (typeof raw !== 'object' || raw === null) continue;
      const posting = raw as Record<string, unknown>;
      const amount = row.schema_version < 2 ? posting['points'] : posting['amount'];
      const asset = row.schema_version < 2 ? 'POINTS' : posting['asset'];
      // A malformed posting is shown as stored (verify names it); it is not this page's to judge.
      const text = typeof amount === 'number' || typeof amount === 'string' ? String(amount) : JSON.stringify(amount ?? null);
      const base = { globalPosition: row.global_position, streamId: row.stream_id, revision: row.stream_revision, type: row.event_type, recordedAt: row.recorded_at.toISOString(), asset: String(asset) };
      if (posting['credit'] === account) lines.push({ ...base, amount: text, counterparty: String(posting['debit']) });
      if (posting['debit'] === account) lines.push({ ...base, amount: text.startsWith('-') ? text.slice(1) : `-${text}`, counterparty: String(posting['credit']) });
    }
  }
  return { account, lines, nextPosition: rows.length > pageSize ? page[page.length - 1]!.global_position : null };
}
