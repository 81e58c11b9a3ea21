import type { DbTask } from '../../infra/database';
import type { RecordedEvent } from '../../eventstore/event-store';
import type { MerchantEvent, PayoutEvent } from '../../domain/benefits';
import type { Projection } from '../runner';

/** Payouts from their request to their outcome (ul_payouts). */
export const PAYOUTS_PROJECTION = 'payouts';

type PayoutRequested = Extract<MerchantEvent, { type: 'PayoutRequested' }>;
type PayoutsEvent = PayoutRequested | PayoutEvent;

/** Every event type this projection reads; the `satisfies` check fails to compile when one is left out. */
const EVENT_TYPES = { PayoutRequested: true, PayoutSucceeded: true, PayoutFailed: true } as const satisfies Record<PayoutsEvent['type'], true>;

export function payoutsProjection(): Projection {
  return {
    name: PAYOUTS_PROJECTION,
    tables: ['ul_payouts'],
    streamPrefixes: ['merchant-'],
    eventTypes: Object.keys(EVENT_TYPES),
    // Every row is keyed by the stream whose events write it: partitions by stream give the same rows.
    partitionable: true,
    async apply(tx: DbTask, events: RecordedEvent[]) {
      // A payout's request and outcome may share a batch: applied in order, one statement each
      // (a day has one payout per merchant, so batches are small).
      for (const recorded of events) {
        const event = { type: recorded.type, data: recorded.data } as unknown as PayoutsEvent;
        const at = recorded.metadata.occurredAt;
        switch (event.type) {
          case 'PayoutRequested': {
            const { payoutId, merchantId, settlementId, amountFen, cardMasked } = event.data;
            await tx.none(
              `INSERT INTO ul_payouts (payout_id, merchant_id, settlement_id, amount_fen, card_masked, status, requested_at)
               VALUES ($1, $2, $3, $4, $5, 'requested', $6)`,
              [payoutId, merchantId, settlementId, amountFen, cardMasked, at],
            );
            break;
          }
          case 'PayoutSucceeded': {
            const { payoutId, gatewayReference, paidAt, paidDay } = event.data;
            await tx.none(
              `UPDATE ul_payouts SET status = 'succeeded', gateway_reference = $2, paid_at = $3, paid_day = $4, resolved_at = $5
                WHERE payout_id = $1 AND status = 'requested'`,
              [payoutId, gatewayReference, paidAt, paidDay, at],
            );
            break;
          }
          case 'PayoutFailed': {
            const { payoutId, code, reason } = event.data;
            await tx.none(
              `UPDATE ul_payouts SET status = 'failed', failure_code = $2, failure_reason = $3, resolved_at = $4 WHERE payout_id = $1 AND status = 'requested'`,
              [payoutId, code, reason, at],
            );
            break;
          }
          default: {
            const unknown: never = event;
            throw new Error(`unknown payouts event ${(unknown as { type: string }).type}`);
          }
        }
      }
    },
  };
}
