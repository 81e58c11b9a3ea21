import type { Migration } from '../../infra/migrations';

/**
 * The benefits context's read models, all kept by the one `benefits` projection
 * (benefits-projection.ts). Every column comes from event data, the event's global position or
 * its recorded occurredAt: no now(), no sequence, so a rebuild from event zero gives identical
 * rows. Money is bigint fen; balances that the deciders keep non-negative are CHECKed, so a
 * decider bug that got past its own invariant stops the projection loudly instead of showing a
 * negative balance.
 */
export const BENEFITS_PROJECTION_MIGRATIONS: readonly Migration[] = [
  {
    version: 30,
    name: 'benefits: read models',
    sql: /* sql */ `
      CREATE TABLE ul_benefit_programmes (
        programme_id text PRIMARY KEY,
        name text NOT NULL,
        year integer NOT NULL,
        root_org_id text NOT NULL,
        status text NOT NULL CHECK (status IN ('open', 'closed')),
        opened_at timestamptz NOT NULL,
        closed_at timestamptz
      );

      -- One union's budget in a programme, as evolveProgramme keeps it.
      CREATE TABLE ul_benefit_budgets (
        programme_id text NOT NULL,
        org_id text NOT NULL,
        parent_org_id text,
        balance_fen bigint NOT NULL,
        funded_fen bigint NOT NULL,
        received_fen bigint NOT NULL,
        allocated_out_fen bigint NOT NULL,
        returned_up_fen bigint NOT NULL,
        returned_in_fen bigint NOT NULL,
        disbursed_fen bigint NOT NULL,
        vouchers_issued_fen bigint NOT NULL,
        vouchers_returned_fen bigint NOT NULL,
        PRIMARY KEY (programme_id, org_id),
        CONSTRAINT ul_benefit_budgets_not_negative CHECK (balance_fen >= 0)
      );

      CREATE TABLE ul_benefit_proposals (
        proposal_id text PRIMARY KEY,
        kind text NOT NULL,
        org_id text NOT NULL,
        action jsonb NOT NULL,
        amount_fen bigint,
        summary text NOT NULL,
        proposed_by jsonb NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
        decided_by jsonb,
        reason text,
        outcome jsonb,
        expires_at timestamptz NOT NULL,
        proposed_at timestamptz NOT NULL,
        -- The ProposalMade event's position: the inbox's order (newest first) and its cursor.
        proposed_position bigint NOT NULL,
        decided_at timestamptz
      );
      CREATE INDEX ul_benefit_proposals_inbox_idx ON ul_benefit_proposals (org_id, status, proposed_position DESC);
      CREATE INDEX ul_benefit_proposals_position_idx ON ul_benefit_proposals (proposed_position DESC);

      CREATE TABLE ul_benefit_batches (
        batch_id text PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('money', 'vouchers')),
        programme_id text NOT NULL,
        org_id text NOT NULL,
        source text NOT NULL,
        voucher jsonb,
        drafted_by text NOT NULL,
        status text NOT NULL CHECK (status IN ('drafting', 'sealed', 'approved', 'paying', 'stopped', 'completed', 'cancelled')),
        member_count integer NOT NULL,
        total_fen bigint NOT NULL,
        chunks integer NOT NULL,
        next_chunk integer NOT NULL,
        paid_count integer NOT NULL,
        paid_fen bigint NOT NULL,
        unpaid_count integer NOT NULL,
        unpaid_fen bigint NOT NULL,
        proposal_id text,
        stop_reason text,
        cancel_reason text,
        drafted_at timestamptz NOT NULL,
        completed_at timestamptz
      );
      CREATE INDEX ul_benefit_batches_programme_idx ON ul_benefit_batches (programme_id, org_id);

      -- seq = chunk * BATCH_CHUNK + index within the chunk: the member's place in the listed order.
      CREATE TABLE ul_benefit_batch_items (
        batch_id text NOT NULL,
        seq integer NOT NULL,
        member_id text NOT NULL,
        amount_fen bigint NOT NULL,
        result text NOT NULL CHECK (result IN ('pending', 'paid', 'unpaid')),
        PRIMARY KEY (batch_id, seq)
      );

      CREATE TABLE ul_wallets (
        member_id text PRIMARY KEY,
        available_fen bigint NOT NULL,
        held_fen bigint NOT NULL,
        voucher_available_fen bigint NOT NULL,
        voucher_held_fen bigint NOT NULL,
        card_masked text,
        updated_at timestamptz NOT NULL,
        CONSTRAINT ul_wallets_not_negative CHECK (available_fen >= 0 AND held_fen >= 0 AND voucher_available_fen >= 0 AND voucher_held_fen >= 0)
      );

      -- One line per wallet event that moves money; deltas from the event's postings on the
      -- member's wallet:<m>:available and voucher:<m>:available accounts.
      CREATE TABLE ul_wallet_statement (
        member_id text NOT NULL,
        global_position bigint NOT NULL,
        event_type text NOT NULL,
        -- paymentId, batchId, voucherId or refundId: whatever the line is about.
        reference text,
        payment_id text,
        merchant_id text,
        delta_available_fen bigint NOT NULL,
        delta_voucher_fen bigint NOT NULL,
        available_after_fen bigint NOT NULL,
        voucher_after_fen bigint NOT NULL,
        held_after_fen bigint NOT NULL,
        voucher_held_after_fen bigint NOT NULL,
        occurred_at timestamptz NOT NULL,
        PRIMARY KEY (member_id, global_position)
      );

      CREATE TABLE ul_vouchers (
        voucher_id text PRIMARY KEY,
        member_id text NOT NULL,
        batch_id text NOT NULL,
        programme_id text NOT NULL,
        org_id text NOT NULL,
        category text NOT NULL,
        face_fen bigint NOT NULL,
        available_fen bigint NOT NULL,
        held_fen bigint NOT NULL,
        expired_fen bigint NOT NULL,
        valid_from timestamptz NOT NULL,
        valid_until timestamptz NOT NULL,
        granted_at timestamptz NOT NULL,
        CONSTRAINT ul_vouchers_not_negative CHECK (available_fen >= 0 AND held_fen >= 0)
      );
      CREATE INDEX ul_vouchers_member_idx ON ul_vouchers (member_id, valid_until);
      -- The expiry sweep: vouchers past their validity that still hold value.
      CREATE INDEX ul_vouchers_expiry_idx ON ul_vouchers (valid_until) WHERE available_fen > 0;

      -- Each expiry of a voucher's value, until a VoucherValueReturned lists it (exactly once).
      -- member_id and global_position are null only for an expiry whose return was projected
      -- before the expiry itself, which the feed's order rules out.
      CREATE TABLE ul_voucher_expiries (
        expiry_id text PRIMARY KEY,
        voucher_id text NOT NULL,
        member_id text,
        programme_id text NOT NULL,
        org_id text NOT NULL,
        amount_fen bigint NOT NULL,
        global_position bigint,
        returned boolean NOT NULL
      );
      CREATE INDEX ul_voucher_expiries_pending_idx ON ul_voucher_expiries (global_position) WHERE NOT returned;

      CREATE TABLE ul_merchants (
        merchant_id text PRIMARY KEY,
        name text NOT NULL,
        category text NOT NULL,
        signing_org_id text NOT NULL,
        status text NOT NULL CHECK (status IN ('applied', 'admitted', 'suspended')),
        card_masked text NOT NULL,
        suspend_reason text,
        applied_at timestamptz NOT NULL
      );
      CREATE INDEX ul_merchants_org_idx ON ul_merchants (signing_org_id, merchant_id);

      CREATE TABLE ul_merchant_payments (
        payment_id text PRIMARY KEY,
        merchant_id text NOT NULL,
        member_id text NOT NULL,
        category text NOT NULL,
        amount_fen bigint NOT NULL,
        wallet_fen bigint NOT NULL,
        voucher_fen bigint NOT NULL,
        status text NOT NULL CHECK (status IN ('authorised', 'captured', 'voided', 'expired')),
        captured_fen bigint NOT NULL,
        refunded_fen bigint NOT NULL,
        expires_at timestamptz NOT NULL,
        authorised_at timestamptz NOT NULL,
        -- The PaymentAuthorised event's position: the merchant's list order and its cursor.
        authorised_position bigint NOT NULL,
        updated_at timestamptz NOT NULL
      );
      CREATE INDEX ul_merchant_payments_merchant_idx ON ul_merchant_payments (merchant_id, authorised_position DESC);
      -- The authorisation sweep: holds past their expiry.
      CREATE INDEX ul_merchant_payments_expiry_idx ON ul_merchant_payments (expires_at) WHERE status = 'authorised';

      -- What a merchant's settlements add up: one line per capture and per refund.
      CREATE TABLE ul_merchant_lines (
        merchant_id text NOT NULL,
        -- The line's revision in the merchant's stream: a settlement covers its lines up to a revision.
        merchant_revision bigint NOT NULL,
        global_position bigint NOT NULL,
        kind text NOT NULL CHECK (kind IN ('capture', 'refund')),
        payment_id text NOT NULL,
        refund_id text,
        member_id text NOT NULL,
        amount_fen bigint NOT NULL,
        -- The merchant's business day (Asia/Shanghai), YYYY-MM-DD: compares as text.
        day text NOT NULL,
        settlement_id text,
        occurred_at timestamptz NOT NULL,
        PRIMARY KEY (merchant_id, global_position)
      );
      CREATE INDEX ul_merchant_lines_day_idx ON ul_merchant_lines (merchant_id, day);
      -- The daily settlement sweep: merchants with lines no settlement has claimed yet.
      CREATE INDEX ul_merchant_lines_unsettled_idx ON ul_merchant_lines (merchant_id, day) WHERE settlement_id IS NULL;

      CREATE TABLE ul_settlements (
        settlement_id text PRIMARY KEY,
        merchant_id text NOT NULL,
        day text NOT NULL,
        capture_fen bigint NOT NULL,
        refund_fen bigint NOT NULL,
        carried_fen bigint NOT NULL,
        net_fen bigint NOT NULL,
        lines integer NOT NULL,
        through_revision bigint NOT NULL,
        payout_id text,
        payout_amount_fen bigint,
        settled_at timestamptz NOT NULL
      );
      CREATE INDEX ul_settlements_merchant_idx ON ul_settlements (merchant_id, day DESC);
    `,
  },
];
