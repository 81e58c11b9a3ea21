import type { LedgerPayout } from '../../domain/payouts';
import type { Queryable } from '../../infra/database';

/**
 * The ledger's side of a day's reconciliation: every payout recorded as paid on `day` (by the
 * gateway's own payment time, Shanghai), and the ledger's record of each of `payoutIds` (the
 * payouts the gateway's statement names), whatever its status or day.
 */
export async function ledgerPayouts(db: Queryable, day: string, payoutIds: readonly string[]): Promise<LedgerPayout[]> {
  const rows = await db.any<{ payout_id: string; merchant_id: string; amount_fen: string; status: LedgerPayout['status']; gateway_reference: string | null; paid_day: string | null }>(
    `SELECT payout_id, merchant_id, amount_fen::text AS amount_fen, status, gateway_reference, paid_day
       FROM ul_payouts WHERE (status = 'succeeded' AND paid_day = $1) OR payout_id = ANY($2::text[])
      ORDER BY payout_id`,
    [day, payoutIds],
  );
  return rows.map((row) => ({
    payoutId: row.payout_id,
    merchantId: row.merchant_id,
    amountFen: Number(row.amount_fen),
    status: row.status,
    gatewayReference: row.gateway_reference,
    paidDay: row.paid_day,
  }));
}

export interface PayoutCounts {
  requested: number;
  succeeded: number;
  failed: number;
}

/** How many payouts are open, paid and failed (the admin's and the tests' overview). */
export async function payoutCounts(db: Queryable): Promise<PayoutCounts> {
  const rows = await db.any<{ status: keyof PayoutCounts; count: string }>('SELECT status, count(*)::text AS count FROM ul_payouts GROUP BY status');
  const counts: PayoutCounts = { requested: 0, succeeded: 0, failed: 0 };
  for (const row of rows) counts[row.status] = Number(row.count);
  return counts;
}
