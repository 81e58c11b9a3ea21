import type { DbTask } from '../../infra/database';
import type { RecordedEvent } from '../../eventstore/event-store';
import type { CampaignEvent, ClaimEvent, LotteryEvent } from '../../domain/claims';
import type { Projection } from '../runner';

/** Claim campaigns and claims (ul_claim_campaigns, ul_claims), lotteries and entries (ul_lotteries, ul_lottery_entries). */
export const CLAIMS_PROJECTION = 'claims';

type ClaimsEvent = CampaignEvent | ClaimEvent | LotteryEvent;

/** Every event type this projection reads; the `satisfies` check fails to compile when one is left out. */
const EVENT_TYPES = {
  ClaimCampaignCreated: true,
  ClaimCampaignClosed: true,
  ClaimGranted: true,
  ClaimSlotTaken: true,
  LotteryCreated: true,
  LotteryEntered: true,
  LotteryDrawn: true,
  LotterySettled: true,
  LotteryLapsed: true,
} as const satisfies Record<ClaimsEvent['type'], true>;

const iso = (ms: number): string => new Date(ms).toISOString();

export function claimsProjection(): Projection {
  return {
    name: CLAIMS_PROJECTION,
    tables: ['ul_claim_campaigns', 'ul_claims', 'ul_lotteries', 'ul_lottery_entries'],
    streamPrefixes: ['claimcampaign-', 'claim-', 'lottery-'],
    eventTypes: Object.keys(EVENT_TYPES),
    async apply(tx: DbTask, events: RecordedEvent[]) {
      // At most N claims per campaign reach the log, so batches are a few hundred rows: one statement each.
      for (const recorded of events) {
        const event = { type: recorded.type, data: recorded.data } as unknown as ClaimsEvent;
        const at = recorded.metadata.occurredAt;
        switch (event.type) {
          case 'ClaimCampaignCreated': {
            const d = event.data;
            await tx.none(
              `INSERT INTO ul_claim_campaigns (campaign_id, org_id, name, units, opens_at, closes_at, min_points, programme_id, category, face_fen, created_by, created_at, prize_sku_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
              [d.campaignId, d.orgId, d.name, d.units, iso(d.opensAtMs), iso(d.closesAtMs), d.minPoints, d.programmeId, d.voucher?.category ?? null, d.voucher?.faceFen ?? null, d.createdBy, at, d.prize?.skuId ?? null],
            );
            break;
          }
          case 'ClaimCampaignClosed':
            await tx.none(`UPDATE ul_claim_campaigns SET unclaimed = $2, returned_fen = $3, closed_at = $4 WHERE campaign_id = $1`, [
              event.data.campaignId,
              event.data.unclaimed,
              event.data.returnedFen,
              at,
            ]);
            break;
          case 'ClaimGranted': {
            const d = event.data;
            await tx.none(
              `INSERT INTO ul_claims (campaign_id, member_id, org_id, seq, voucher_id, admitted_at, granted_at, order_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
              [d.campaignId, d.memberId, d.orgId, d.seq, d.voucherId, iso(d.admittedAtMs), at, d.orderId ?? null],
            );
            await tx.none(`UPDATE ul_claim_campaigns SET granted = granted + 1 WHERE campaign_id = $1`, [d.campaignId]);
            break;
          }
          case 'ClaimSlotTaken':
            break; // The slot is the claim's, already in ul_claims.
          case 'LotteryCreated': {
            const d = event.data;
            await tx.none(
              `INSERT INTO ul_lotteries (lottery_id, org_id, name, entry_points, prizes, opens_at, closes_at, losers, max_entries, programme_id, face_fen, prize_points, commitment, status, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'open', $14)`,
              [d.lotteryId, d.orgId, d.name, d.entryPoints, d.prizes, iso(d.opensAtMs), iso(d.closesAtMs), d.losers, d.maxEntries, d.programmeId, d.voucher?.faceFen ?? null, d.prizePoints ?? null, d.commitment, at],
            );
            break;
          }
          case 'LotteryEntered': {
            const d = event.data;
            // An entry recorded after the draw raced the close: it is late, and takes no part.
            const status = await tx.one<{ status: string }>(`SELECT status FROM ul_lotteries WHERE lottery_id = $1`, [d.lotteryId]);
            const late = status.status !== 'open';
            await tx.none(
              `INSERT INTO ul_lottery_entries (lottery_id, member_id, points, entered_at, late, outcome) VALUES ($1, $2, $3, $4, $5, $6)`,
              [d.lotteryId, d.memberId, d.points, iso(d.enteredAtMs), late, late ? 'late' : null],
            );
            if (!late) await tx.none(`UPDATE ul_lotteries SET entries = entries + 1 WHERE lottery_id = $1`, [d.lotteryId]);
            break;
          }
          case 'LotteryDrawn': {
            const d = event.data;
            const lottery = await tx.one<{ losers: string }>(
              `UPDATE ul_lotteries SET status = 'drawn', seed = $2, entries_hash = $3, winners = $4, drawn_at = $5 WHERE lottery_id = $1 RETURNING losers`,
              [d.lotteryId, d.seed, d.entriesHash, JSON.stringify(d.winners), at],
            );
            await tx.none(`UPDATE ul_lottery_entries SET outcome = $2 WHERE lottery_id = $1 AND NOT late`, [d.lotteryId, lottery.losers === 'spend' ? 'spent' : 'refunded']);
            await tx.none(
              `UPDATE ul_lottery_entries e SET outcome = 'won', prize_rank = w.rank
                 FROM unnest($2::text[]) WITH ORDINALITY AS w(member_id, rank)
                WHERE e.lottery_id = $1 AND e.member_id = w.member_id`,
              [d.lotteryId, d.winners],
            );
            break;
          }
          case 'LotterySettled':
            await tx.none(`UPDATE ul_lotteries SET status = 'settled' WHERE lottery_id = $1`, [event.data.lotteryId]);
            break;
          case 'LotteryLapsed':
            // Never drawn: every entry is refunded.
            await tx.none(`UPDATE ul_lotteries SET status = 'lapsed' WHERE lottery_id = $1`, [event.data.lotteryId]);
            await tx.none(`UPDATE ul_lottery_entries SET outcome = 'refunded' WHERE lottery_id = $1 AND NOT late`, [event.data.lotteryId]);
            break;
          default: {
            const unknown: never = event;
            throw new Error(`unknown claims event ${(unknown as { type: string }).type}`);
          }
        }
      }
    },
  };
}
