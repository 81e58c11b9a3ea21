import type { Migration } from '../../infra/migrations';

/**
 * The claims read models: campaigns with their counts and one row per granted claim; lotteries
 * with their commitment, revealed seed and winners, and one row per entry.
 */
export const CLAIMS_MIGRATIONS: readonly Migration[] = [
  {
    version: 55,
    name: 'claims: claim campaigns and granted claims',
    sql: /* sql */ `
      CREATE TABLE ul_claim_campaigns (
        campaign_id text PRIMARY KEY,
        org_id text NOT NULL,
        name text NOT NULL,
        units integer NOT NULL,
        opens_at timestamptz NOT NULL,
        closes_at timestamptz NOT NULL,
        min_points bigint NOT NULL,
        programme_id text NOT NULL,
        category text NOT NULL,
        face_fen bigint NOT NULL,
        granted integer NOT NULL DEFAULT 0,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL,
        CHECK (granted BETWEEN 0 AND units)
      );
      CREATE INDEX ul_claim_campaigns_open_idx ON ul_claim_campaigns (closes_at);
      CREATE TABLE ul_claims (
        campaign_id text NOT NULL,
        member_id text NOT NULL,
        org_id text NOT NULL,
        seq integer NOT NULL,
        voucher_id text NOT NULL,
        admitted_at timestamptz NOT NULL,
        granted_at timestamptz NOT NULL,
        PRIMARY KEY (campaign_id, member_id),
        UNIQUE (campaign_id, seq)
      );
    `,
  },
  {
    version: 56,
    name: 'claims: lotteries and their entries',
    sql: /* sql */ `
      CREATE TABLE ul_lotteries (
        lottery_id text PRIMARY KEY,
        org_id text NOT NULL,
        name text NOT NULL,
        entry_points bigint NOT NULL,
        prizes integer NOT NULL,
        opens_at timestamptz NOT NULL,
        closes_at timestamptz NOT NULL,
        losers text NOT NULL,
        max_entries integer NOT NULL,
        programme_id text NOT NULL,
        face_fen bigint NOT NULL,
        commitment text NOT NULL,
        -- open | drawn | settled
        status text NOT NULL,
        entries integer NOT NULL DEFAULT 0,
        seed text,
        entries_hash text,
        winners jsonb,
        drawn_at timestamptz,
        created_at timestamptz NOT NULL
      );
      CREATE TABLE ul_lottery_entries (
        lottery_id text NOT NULL,
        member_id text NOT NULL,
        points bigint NOT NULL,
        entered_at timestamptz NOT NULL,
        late boolean NOT NULL,
        -- null until the draw: won | refunded | spent | late
        outcome text,
        prize_rank integer,
        PRIMARY KEY (lottery_id, member_id)
      );
    `,
  },
  {
    version: 57,
    name: 'claims: points prizes (a lottery without a programme or voucher)',
    sql: /* sql */ `
      ALTER TABLE ul_lotteries ALTER COLUMN programme_id DROP NOT NULL, ALTER COLUMN face_fen DROP NOT NULL, ADD COLUMN prize_points bigint;
    `,
  },
  {
    version: 58,
    name: 'claims: a campaign closed after its window, its unclaimed units returned',
    sql: /* sql */ `
      ALTER TABLE ul_claim_campaigns ADD COLUMN unclaimed integer, ADD COLUMN returned_fen bigint, ADD COLUMN closed_at timestamptz;
    `,
  },
  {
    version: 59,
    name: 'claims: a campaign whose prize is a mall SKU (no programme or voucher), its claims as mall orders',
    sql: /* sql */ `
      ALTER TABLE ul_claim_campaigns ALTER COLUMN programme_id DROP NOT NULL, ALTER COLUMN category DROP NOT NULL, ALTER COLUMN face_fen DROP NOT NULL, ADD COLUMN prize_sku_id text;
      ALTER TABLE ul_claims ALTER COLUMN voucher_id DROP NOT NULL, ADD COLUMN order_id text;
    `,
  },
];
