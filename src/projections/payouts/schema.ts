import type { Migration } from '../../infra/migrations';

/**
 * The payouts read model: one row per payout, from its request on the merchant's stream to its
 * outcome. Reconciliation reads it by the day the gateway paid and by payout id.
 */
export const PAYOUTS_MIGRATIONS: readonly Migration[] = [
  {
    version: 35,
    name: 'payouts: the payouts read model',
    sql: /* sql */ `
      CREATE TABLE ul_payouts (
        payout_id text PRIMARY KEY,
        merchant_id text NOT NULL,
        settlement_id text NOT NULL,
        amount_fen bigint NOT NULL,
        card_masked text NOT NULL,
        -- requested | succeeded | failed
        status text NOT NULL,
        requested_at timestamptz NOT NULL,
        gateway_reference text,
        paid_at timestamptz,
        -- The Shanghai day the gateway paid: the statement the payout is on.
        paid_day text,
        failure_code text,
        failure_reason text,
        resolved_at timestamptz
      );
      CREATE INDEX ul_payouts_paid_day_idx ON ul_payouts (paid_day) WHERE status = 'succeeded';
      CREATE INDEX ul_payouts_open_idx ON ul_payouts (requested_at) WHERE status = 'requested';
      CREATE INDEX ul_payouts_merchant_idx ON ul_payouts (merchant_id, requested_at DESC);
    `,
  },
];
