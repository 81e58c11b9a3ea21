import type { Queryable } from '../../infra/database';
import { ASSETS } from '../../domain/shared';
import { LEDGER_PROJECTION } from './ledger-projection';

/**
 * Double-entry checks for auditors, computed from the stored events themselves and compared with
 * the journal and balance projections, per asset (points and fen are never added together):
 * every posting moves a positive whole amount of a known asset, the lines of each asset sum to
 * zero (the trial balance), every account holds one asset only, no member, budget, wallet or
 * voucher account is negative at any position,
 * and the projections agree with the events account by account.
 *
 * Events stored at schema version 1 (before assets) hold `{ debit, credit, points }`: read as
 * POINTS, exactly as the upcaster reads them (src/domain/shared/postings.ts).
 */
export interface AssetBalance {
  asset: string;
  postings: number;
  accounts: number;
  /** Sum of every line of every posting of this asset in the events: zero in a balanced ledger. */
  eventsTotal: string;
  /** The same over the journal projection. */
  journalTotal: string;
}

export interface TrialBalanceReport {
  ok: boolean;
  postings: number;
  accounts: number;
  /** One entry per asset that has postings, in ASSETS order then by name. */
  assets: AssetBalance[];
  badPostings: Array<{ eventId: string; detail: string }>;
  /** Accounts that received postings of more than one asset. */
  mixedAssetAccounts: Array<{ account: string; assets: string }>;
  /** Accounts that went below zero (member:, budget:, wallet:, voucher:), with the first position where they did. */
  negativeAccounts: Array<{ account: string; asset: string; balance: string; position: string }>;
  journalMismatches: Array<{ account: string; asset: string; fromEvents: string; inJournal: string }>;
  balanceMismatches: Array<{ memberId: string; detail: string }>;
  /**
   * The ledger projection's checkpoint (-1 before its first batch). The journal and balances are
   * judged against the fold of the events up to it, never brought up to date first: a check that
   * wrote the journal from the events and then compared them would only compare them with itself,
   * and an auditor's connection cannot write.
   */
  journalPosition: string;
  /** Events after that checkpoint: checked for double entry above, not yet against the journal. */
  eventsPastJournal: number;
}

const REPORT_LIMIT = 20;

/**
 * Every posting in the events, in the current shape: its asset, and its amount as numeric (null
 * when it is not a JSON number, so a malformed posting is reported instead of failing the check).
 */
const POSTINGS = `
  raw_postings AS (
    SELECT e.event_id, e.global_position, e.transaction_id, p.ordinality AS line, p.value AS posting,
           CASE WHEN e.schema_version < 2 THEN 'POINTS' ELSE p.value->>'asset' END AS asset,
           CASE WHEN e.schema_version < 2 THEN p.value->'points' ELSE p.value->'amount' END AS amount_json
      FROM ul_events e CROSS JOIN LATERAL jsonb_array_elements(e.data->'postings') WITH ORDINALITY AS p(value, ordinality)
     WHERE jsonb_typeof(e.data->'postings') = 'array'),
  postings AS (
    SELECT event_id, global_position, transaction_id, line, posting, asset,
           CASE WHEN jsonb_typeof(amount_json) = 'number' THEN (amount_json #>> '{}')::numeric END AS amount
      FROM raw_postings)`;

const EVENT_LINES = `
  WITH ${POSTINGS},
  lines AS (
    SELECT event_id, global_position, transaction_id, asset, posting->>'debit' AS account, -amount AS amount FROM postings WHERE amount IS NOT NULL
    UNION ALL
    SELECT event_id, global_position, transaction_id, asset, posting->>'credit', amount FROM postings WHERE amount IS NOT NULL)`;

/**
 * The events the journal has folded: those at or before the ledger projection's checkpoint in the
 * feed's order, (transaction_id, global_position). $1 is the checkpoint (-1: none), $2 the sort key
 * of the event there (null if that event is gone: then position alone decides).
 */
const IN_JOURNAL_FOLD = `($1::bigint >= 0 AND (transaction_id, global_position) <= (coalesce($2::xid8, transaction_id), $1::bigint))`;

/**
 * Accounts that must never be negative, at any position of the log: a member's points, a union's
 * budget (so no allocation, disbursement or voucher issue ever took more than the union held at
 * that moment), a member's wallet and vouchers. Checked on the running balance event by event.
 */
const NON_NEGATIVE = ['member:%', 'budget:%', 'wallet:%', 'voucher:%'];

export async function checkTrialBalance(db: Queryable): Promise<TrialBalanceReport> {
  // Reads only: callers that want one consistent picture run this in a repeatable-read transaction.
  const checkpoint = await db.oneOrNone<{ position: string; transaction_id: string | null }>(
    `SELECT c.position::text AS position, (SELECT e.transaction_id::text FROM ul_events e WHERE e.global_position = c.position) AS transaction_id
       FROM ul_checkpoints c WHERE c.name = $1`,
    [LEDGER_PROJECTION],
  );
  const fold = [checkpoint?.position ?? '-1', checkpoint?.transaction_id ?? null];
  const { past } = await db.one<{ past: string }>(`SELECT count(*) AS past FROM ul_events WHERE NOT ${IN_JOURNAL_FOLD}`, fold);
  // A posting that is not a positive whole amount of a known asset between two accounts, and
  // postings that are not a list at all: each reported, never cast (casting 0.5 to bigint is what crashed).
  const badPostings = await db.any<{ event_id: string; posting: unknown }>(
    `WITH ${POSTINGS},
     bad AS (
       SELECT event_id, global_position, line, posting FROM postings
        WHERE amount IS NULL OR amount <= 0 OR amount <> trunc(amount)
           OR asset IS NULL OR NOT (asset = ANY($2))
           OR coalesce(posting->>'debit', '') = '' OR coalesce(posting->>'credit', '') = ''
           OR posting->>'debit' = posting->>'credit'
       UNION ALL
       SELECT event_id, global_position, 0, data->'postings' FROM ul_events
        WHERE data ? 'postings' AND jsonb_typeof(data->'postings') <> 'array')
     SELECT event_id, posting FROM bad ORDER BY global_position, line LIMIT $1`,
    [REPORT_LIMIT, ASSETS],
  );
  // Per asset and for the whole ledger in one scan of the events' postings (the () grouping set is the whole).
  const grouped = await db.any<{ whole: boolean; asset: string; postings: string; total: string; accounts: string }>(
    `${EVENT_LINES} SELECT GROUPING(asset) = 1 AS whole, asset, count(*) / 2 AS postings, sum(amount)::text AS total,
            count(DISTINCT account) AS accounts
       FROM lines GROUP BY GROUPING SETS ((asset), ())`,
  );
  const fromEvents = grouped.filter((row) => !row.whole);
  const totals = grouped.find((row) => row.whole)!;
  const fromJournal = await db.any<{ asset: string; total: string }>('SELECT asset, sum(amount)::text AS total FROM ul_journal GROUP BY asset');
  const journalParams = (limit: number): unknown[] => [...fold, limit];
  const mixedAssetAccounts = await db.any<{ account: string; assets: string }>(
    `${EVENT_LINES} SELECT account, string_agg(DISTINCT asset, ',' ORDER BY asset) AS assets FROM lines
      GROUP BY account HAVING count(DISTINCT asset) > 1 ORDER BY account LIMIT $1`,
    [REPORT_LIMIT],
  );
  const negativeAccounts = await db.any<{ account: string; asset: string; balance: string; position: string }>(
    `${EVENT_LINES},
      per_event AS (SELECT account, asset, global_position, sum(amount) AS amount FROM lines
                     WHERE account LIKE ANY($2) GROUP BY account, asset, global_position),
      running AS (SELECT account, asset, global_position,
                         sum(amount) OVER (PARTITION BY account, asset ORDER BY global_position) AS balance FROM per_event)
     SELECT DISTINCT ON (account, asset) account, asset, balance::text AS balance, global_position::text AS position
       FROM running WHERE balance < 0 ORDER BY account, asset, global_position LIMIT $1`,
    [REPORT_LIMIT, NON_NEGATIVE],
  );
  const journalMismatches = await db.any<{ account: string; asset: string; from_events: string | null; in_journal: string | null }>(
    `${EVENT_LINES},
      from_events AS (SELECT account, asset, sum(amount) AS total FROM lines WHERE ${IN_JOURNAL_FOLD} GROUP BY account, asset),
      in_journal AS (SELECT account, asset, sum(amount) AS total FROM ul_journal GROUP BY account, asset)
     SELECT coalesce(e.account, j.account) AS account, coalesce(e.asset, j.asset) AS asset,
            e.total::text AS from_events, j.total::text AS in_journal
       FROM from_events e FULL JOIN in_journal j ON j.account = e.account AND j.asset = e.asset
      WHERE e.total IS DISTINCT FROM j.total ORDER BY 1, 2 LIMIT $3`,
    journalParams(REPORT_LIMIT),
  );
  // ul_balances holds members' points: compare it with their POINTS journal lines.
  const balanceMismatches = await db.any<{ member_id: string; detail: string }>(
    `WITH sums AS (
       SELECT member_id,
              coalesce(sum(amount) FILTER (WHERE account = 'member:' || member_id || ':available'), 0) AS available,
              coalesce(sum(amount) FILTER (WHERE account = 'member:' || member_id || ':held'), 0) AS held
         FROM ul_journal WHERE member_id IS NOT NULL AND asset = 'POINTS' GROUP BY member_id)
     SELECT coalesce(b.member_id, s.member_id) AS member_id,
            format('balance %s/%s, journal %s/%s', b.available, b.held, s.available, s.held) AS detail
       FROM ul_balances b FULL JOIN sums s ON s.member_id = b.member_id
      WHERE coalesce(b.available, 0) <> coalesce(s.available, 0) OR coalesce(b.held, 0) <> coalesce(s.held, 0)
      ORDER BY 1 LIMIT $1`,
    [REPORT_LIMIT],
  );

  const journalTotals = new Map(fromJournal.map((row) => [row.asset, row.total]));
  const assetNames = [...new Set([...fromEvents.map((row) => row.asset), ...journalTotals.keys()])].sort((a, b) => {
    const rank = (asset: string): number => ((ASSETS as readonly string[]).includes(asset) ? (ASSETS as readonly string[]).indexOf(asset) : ASSETS.length);
    return rank(a) - rank(b) || a.localeCompare(b);
  });
  const assets: AssetBalance[] = assetNames.map((asset) => {
    const events = fromEvents.find((row) => row.asset === asset);
    return {
      asset,
      postings: Number(events?.postings ?? 0),
      accounts: Number(events?.accounts ?? 0),
      eventsTotal: events?.total ?? '0',
      journalTotal: journalTotals.get(asset) ?? '0',
    };
  });
  const ok =
    badPostings.length === 0 &&
    assets.every((asset) => asset.eventsTotal === '0' && asset.journalTotal === '0') &&
    mixedAssetAccounts.length === 0 &&
    negativeAccounts.length === 0 &&
    journalMismatches.length === 0 &&
    balanceMismatches.length === 0;
  return {
    ok,
    postings: Number(totals.postings),
    accounts: Number(totals.accounts),
    assets,
    badPostings: badPostings.map((row) => ({ eventId: row.event_id, detail: JSON.stringify(row.posting) })),
    mixedAssetAccounts,
    negativeAccounts,
    journalMismatches: journalMismatches.map((row) => ({
      account: row.account,
      asset: row.asset,
      fromEvents: row.from_events ?? '0',
      inJournal: row.in_journal ?? '0',
    })),
    balanceMismatches: balanceMismatches.map((row) => ({ memberId: row.member_id, detail: row.detail })),
    journalPosition: fold[0]!,
    eventsPastJournal: Number(past),
  };
}
