import type { Migration } from '../../infra/migrations';

/**
 * The benefits context's operational table: one-time payment codes. A code is a short-lived
 * credential, not a ledger fact (the payment it authorises is the fact, in the member's wallet
 * stream), so it lives beside the log, stored only as an HMAC. Consuming a code and naming the
 * payment it paid for is one UPDATE, so a code pays once; the row then maps the payment to its
 * member and merchant for the capture, void and refunds that follow, without waiting on a
 * projection.
 */
export const BENEFITS_MIGRATIONS: readonly Migration[] = [
  {
    version: 31,
    name: 'benefits: one-time payment codes',
    sql: /* sql */ `
      CREATE TABLE ul_payment_codes (
        code_hash text PRIMARY KEY,
        member_id text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        payment_id uuid UNIQUE,
        merchant_id text
      );
      CREATE INDEX ul_payment_codes_member_idx ON ul_payment_codes (member_id, created_at);
    `,
  },
];
