import type { Queryable } from '../infra/database';

/**
 * Double-entry checks for auditors, computed from the stored events themselves and compared with
 * the journal and balance projections: every posting moves a positive whole number of points,
 * all lines of the ledger sum to zero (the trial balance), no member account is negative, and the
 * projections agree with the events account by account.
 */
export interface TrialBalanceReport {
  ok: boolean;
  postings: number;
  accounts: number;
  /** Sum of every line of every posting in the events: zero in a balanced ledger. */
  eventsTotal: string;
  /** The same over the journal projection. */
  journalTotal: string;
  badPostings: Array<{ eventId: string; detail: string }>;
  negativeAccounts: Array<{ account: string; balance: string }>;
  journalMismatches: Array<{ account: string; fromEvents: string; inJournal: string }>;
  balanceMismatches: Array<{ memberId: string; detail: string }>;
}

const REPORT_LIMIT = 20;

const EVENT_LINES = `
  WITH postings AS (
    SELECT e.event_id, p.value AS posting
      FROM ul_events e CROSS JOIN LATERAL jsonb_array_elements(e.data->'postings') AS p(value)
     WHERE jsonb_typeof(e.data->'postings') = 'array'),
  lines AS (
    SELECT event_id, posting->>'debit' AS account, -((posting->>'points')::bigint) AS amount FROM postings
    UNION ALL
    SELECT event_id, posting->>'credit', (posting->>'points')::bigint FROM postings)`;

export async function checkTrialBalance(db: Queryable): Promise<TrialBalanceReport> {
  const badPostings = await db.any<{ event_id: string; posting: unknown }>(
    `WITH postings AS (
       SELECT e.event_id, p.value AS posting
         FROM ul_events e CROSS JOIN LATERAL jsonb_array_elements(e.data->'postings') AS p(value)
        WHERE jsonb_typeof(e.data->'postings') = 'array')
     SELECT event_id, posting FROM postings
      WHERE jsonb_typeof(posting->'points') <> 'number' OR (posting->>'points')::numeric <= 0
         OR (posting->>'points')::numeric <> trunc((posting->>'points')::numeric)
         OR coalesce(posting->>'debit', '') = '' OR coalesce(posting->>'credit', '') = ''
         OR posting->>'debit' = posting->>'credit'
      LIMIT $1`,
    [REPORT_LIMIT],
  );
  const totals = await db.one<{ postings: string; total: string | null; accounts: string }>(
    `${EVENT_LINES} SELECT count(*) / 2 AS postings, sum(amount)::text AS total, count(DISTINCT account) AS accounts FROM lines`,
  );
  const journalTotal = await db.one<{ total: string | null }>('SELECT sum(amount)::text AS total FROM ul_journal');
  const negativeAccounts = await db.any<{ account: string; balance: string }>(
    `${EVENT_LINES} SELECT account, sum(amount)::text AS balance FROM lines
      WHERE account LIKE 'member:%' GROUP BY account HAVING sum(amount) < 0 ORDER BY account LIMIT $1`,
    [REPORT_LIMIT],
  );
  const journalMismatches = await db.any<{ account: string; from_events: string | null; in_journal: string | null }>(
    `${EVENT_LINES},
      from_events AS (SELECT account, sum(amount) AS total FROM lines GROUP BY account),
      in_journal AS (SELECT account, sum(amount) AS total FROM ul_journal GROUP BY account)
     SELECT coalesce(e.account, j.account) AS account, e.total::text AS from_events, j.total::text AS in_journal
       FROM from_events e FULL JOIN in_journal j ON j.account = e.account
      WHERE e.total IS DISTINCT FROM j.total ORDER BY 1 LIMIT $1`,
    [REPORT_LIMIT],
  );
  const balanceMismatches = await db.any<{ member_id: string; detail: string }>(
    `WITH sums AS (
       SELECT member_id,
              coalesce(sum(amount) FILTER (WHERE account = 'member:' || member_id || ':available'), 0) AS available,
              coalesce(sum(amount) FILTER (WHERE account = 'member:' || member_id || ':held'), 0) AS held
         FROM ul_journal WHERE member_id IS NOT NULL GROUP BY member_id)
     SELECT coalesce(b.member_id, s.member_id) AS member_id,
            format('balance %s/%s, journal %s/%s', b.available, b.held, s.available, s.held) AS detail
       FROM ul_balances b FULL JOIN sums s ON s.member_id = b.member_id
      WHERE coalesce(b.available, 0) <> coalesce(s.available, 0) OR coalesce(b.held, 0) <> coalesce(s.held, 0)
      ORDER BY 1 LIMIT $1`,
    [REPORT_LIMIT],
  );
  const eventsTotal = totals.total ?? '0';
  const journal = journalTotal.total ?? '0';
  const ok =
    badPostings.length === 0 &&
    eventsTotal === '0' &&
    journal === '0' &&
    negativeAccounts.length === 0 &&
    journalMismatches.length === 0 &&
    balanceMismatches.length === 0;
  return {
    ok,
    postings: Number(totals.postings),
    accounts: Number(totals.accounts),
    eventsTotal,
    journalTotal: journal,
    badPostings: badPostings.map((row) => ({ eventId: row.event_id, detail: JSON.stringify(row.posting) })),
    negativeAccounts,
    journalMismatches: journalMismatches.map((row) => ({ account: row.account, fromEvents: row.from_events ?? '0', inJournal: row.in_journal ?? '0' })),
    balanceMismatches: balanceMismatches.map((row) => ({ memberId: row.member_id, detail: row.detail })),
  };
}
