import type { CampaignTerms, LotteryState, LotteryTerms } from '../../domain/claims';
import { fenToYuan } from '../../domain/shared';

/** What the claims routes answer: instants as ISO text, money as yuan text; never the sealed seed. */

const iso = (ms: number): string => new Date(ms).toISOString();

function voucher(terms: { voucher: { category: string; faceFen: number; validFromMs: number; validUntilMs: number } | null }) {
  if (terms.voucher === null) return null;
  return { category: terms.voucher.category, faceValue: fenToYuan(terms.voucher.faceFen), validFrom: iso(terms.voucher.validFromMs), validUntil: iso(terms.voucher.validUntilMs) };
}

export function presentCampaign(terms: CampaignTerms, counts?: { granted: number; admitted: number; pending: number; closed: { unclaimed: number; returnedFen: number; closedAt: string } | null }) {
  return {
    campaignId: terms.campaignId,
    orgId: terms.orgId,
    name: terms.name,
    units: terms.units,
    opensAt: iso(terms.opensAtMs),
    closesAt: iso(terms.closesAtMs),
    minPoints: terms.minPoints,
    programmeId: terms.programmeId,
    voucher: voucher(terms),
    // A mall SKU as the prize: each granted claim is a pickup order of one unit (null for vouchers).
    prize: terms.prize ? { skuId: terms.prize.skuId, name: terms.prize.name, allotments: terms.prize.allotments } : null,
    ...(counts
      ? {
          granted: counts.granted,
          admitted: counts.admitted,
          pending: counts.pending,
          remaining: terms.units - counts.admitted,
          // After the window: what nobody claimed, and its value back in the budget (null while open).
          closed: counts.closed ? { unclaimed: counts.closed.unclaimed, returned: fenToYuan(counts.closed.returnedFen), closedAt: counts.closed.closedAt } : null,
        }
      : {}),
  };
}

export function presentLottery(terms: LotteryTerms, state?: LotteryState) {
  return {
    lotteryId: terms.lotteryId,
    orgId: terms.orgId,
    name: terms.name,
    entryPoints: terms.entryPoints,
    prizes: terms.prizes,
    opensAt: iso(terms.opensAtMs),
    closesAt: iso(terms.closesAtMs),
    losers: terms.losers,
    maxEntries: terms.maxEntries,
    programmeId: terms.programmeId,
    voucher: voucher(terms),
    prizePoints: terms.prizePoints ?? null,
    commitment: terms.commitment,
    ...(state
      ? {
          status: state.status,
          entries: state.entries.size,
          lateEntries: state.late.size,
          // The seed appears only once it is revealed by the draw.
          seed: state.seed,
          winners: state.status === 'drawn' || state.status === 'settled' ? [...state.winners] : null,
          // Once settled: the prizes nobody won (fewer entries than prizes), and the value of voucher prizes back in the budget.
          unawarded: state.unawarded ? { prizes: state.unawarded.prizes, returned: fenToYuan(state.unawarded.returnedFen) } : null,
        }
      : {}),
  };
}
