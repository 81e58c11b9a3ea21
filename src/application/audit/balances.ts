import type { Queryable } from '../../infra/database';
import { atOrBefore, feedPointAt, type FeedPoint } from './heads';

/**
 * Balances as of any moment, folded from the events themselves (never from the journal, which is
 * what is being audited): every account's balance per asset, and the trial balance, at a global
 * position (the feed up to and including that event, in the feed's order) or at a time (every
 * event recorded at or before it). Reads only.
 */

export const AS_OF_ACCOUNTS_MAX = 10_000;

export class AsOfError extends Error {}

export type AsOf = { position: bigint } | { time: Date };

/** A moment as an auditor writes it (CLI `--as-of`, route `?asOf=`): a global position, or an ISO-8601 time; null when it is neither. */
export function parseAsOf(text: string): AsOf | null {
  if (/^\d{1,19}$/.test(text)) return { position: BigInt(text) };
  const time = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(time)) return null;
  return { time: new Date(time) };
}

export interface AccountBalance {
  account: string;
  asset: string;
  /** Decimal text: a sum of integers, exact whatever its size. */
  balance: string;
}

export interface BalancesAsOf {
  asOf: { position: string | null; time: string | null };
  /** Events folded. */
  events: number;
  /** Per asset: the sum of every account's balance (zero in a balanced ledger). */
  trialBalance: Array<{ asset: string; total: string; accounts: number }>;
  accounts: AccountBalance[];
  /** True when more accounts matched than were returned (`limit`). */
  truncated: boolean;
  /** Postings that are not a positive whole amount of a known asset: left out of the sums, counted here. */
  malformedPostings: number;
}

/** The events' postings as lines (debit negative, credit positive); version-1 postings are points. */
const LINES = `
  postings AS (
    SELECT CASE WHEN e.schema_version < 2 THEN 'POINTS' ELSE p.value->>'asset' END AS asset,
           p.value->>'debit' AS debit, p.value->>'credit' AS credit,
           CASE WHEN e.schema_version < 2 THEN p.value->'points' ELSE p.value->'amount' END AS amount_json
      FROM folded e CROSS JOIN LATERAL jsonb_array_elements(e.data->'postings') AS p(value)
     WHERE jsonb_typeof(e.data->'postings') = 'array'),
  valid AS (
    SELECT asset, debit, credit, (amount_json #>> '{}')::numeric AS amount FROM postings
     WHERE jsonb_typeof(amount_json) = 'number' AND asset IN ('POINTS', 'CNY_FEN')
       AND coalesce(debit, '') <> '' AND coalesce(credit, '') <> '' AND debit <> credit),
  good AS (SELECT * FROM valid WHERE amount > 0 AND amount = trunc(amount)),
  lines AS (SELECT debit AS account, asset, -amount AS amount FROM good UNION ALL SELECT credit, asset, amount FROM good),
  per_account AS (SELECT account, asset, sum(amount) AS balance FROM lines GROUP BY account, asset)`;

export async function balancesAsOf(db: Queryable, asOf: AsOf, options: { account?: string; limit?: number } = {}): Promise<BalancesAsOf> {
  const limit = Math.min(options.limit ?? 1_000, AS_OF_ACCOUNTS_MAX);
  let point: FeedPoint | null = null;
  if ('position' in asOf) {
    point = await feedPointAt(db, asOf.position);
    if (!point) throw new AsOfError(`no event is stored at position ${asOf.position}`);
  }
  const folded =
    point !== null
      ? `folded AS (SELECT data, schema_version FROM ul_events WHERE ${atOrBefore(1)})`
      : `folded AS (SELECT data, schema_version FROM ul_events WHERE recorded_at <= $3::timestamptz)`;
  const params = [point?.position.toString() ?? null, point?.sortKey ?? null, 'time' in asOf ? asOf.time.toISOString() : null, options.account ?? null, limit + 1];
  const { events } = await db.one<{ events: string }>(`WITH ${folded} SELECT count(*) AS events FROM folded`, params);
  const trial = await db.any<{ asset: string; total: string; accounts: string }>(
    `WITH ${folded}, ${LINES} SELECT asset, sum(balance)::text AS total, count(*) AS accounts FROM per_account GROUP BY asset ORDER BY asset`,
    params,
  );
  const malformed = await db.one<{ count: string }>(
    `WITH ${folded}, ${LINES} SELECT (SELECT count(*) FROM postings) - (SELECT count(*) FROM good) AS count`,
    params,
  );
  const accounts = await db.any<{ account: string; asset: string; balance: string }>(
    `WITH ${folded}, ${LINES}
     SELECT account, asset, balance::text AS balance FROM per_account
      WHERE ($4::text IS NULL OR account = $4) ORDER BY account, asset LIMIT $5`,
    params,
  );
  return {
    asOf: { position: point?.position.toString() ?? null, time: 'time' in asOf ? asOf.time.toISOString() : null },
    events: Number(events),
    trialBalance: trial.map((row) => ({ asset: row.asset, total: row.total, accounts: Number(row.accounts) })),
    accounts: accounts.slice(0, limit),
    truncated: accounts.length > limit,
    malformedPostings: Number(malformed.count),
  };
}
