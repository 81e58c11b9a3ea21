import type { Queryable } from '../../infra/database';

/** The claims read models' queries: campaigns with their counts, claims, lotteries and their entries. */

export interface CampaignRow {
  campaignId: string;
  orgId: string;
  name: string;
  units: number;
  granted: number;
  opensAt: string;
  closesAt: string;
  minPoints: number;
  /** Null for a campaign whose prize is a mall SKU (prizeSkuId). */
  programmeId: string | null;
  category: string | null;
  faceFen: number | null;
  prizeSkuId: string | null;
  /** Set once the campaign was closed after its window: units nobody claimed, and their value returned to the budget. */
  unclaimed: number | null;
  returnedFen: number | null;
  closedAt: string | null;
}

interface CampaignDbRow {
  campaign_id: string;
  org_id: string;
  name: string;
  units: number;
  granted: number;
  opens_at: Date;
  closes_at: Date;
  min_points: string;
  programme_id: string | null;
  category: string | null;
  face_fen: string | null;
  prize_sku_id: string | null;
  unclaimed: number | null;
  returned_fen: string | null;
  closed_at: Date | null;
}

const campaignOf = (row: CampaignDbRow): CampaignRow => ({
  campaignId: row.campaign_id,
  orgId: row.org_id,
  name: row.name,
  units: row.units,
  granted: row.granted,
  opensAt: row.opens_at.toISOString(),
  closesAt: row.closes_at.toISOString(),
  minPoints: Number(row.min_points),
  programmeId: row.programme_id,
  category: row.category,
  faceFen: row.face_fen === null ? null : Number(row.face_fen),
  prizeSkuId: row.prize_sku_id,
  unclaimed: row.unclaimed,
  returnedFen: row.returned_fen === null ? null : Number(row.returned_fen),
  closedAt: row.closed_at === null ? null : row.closed_at.toISOString(),
});

/** Campaigns whose window closed before `beforeMs` and that are not closed yet (their unclaimed value not returned), oldest first. */
export async function campaignsToClose(db: Queryable, beforeMs: number, limit: number): Promise<CampaignRow[]> {
  const rows = await db.any<CampaignDbRow>(`SELECT * FROM ul_claim_campaigns WHERE closes_at <= $1 AND closed_at IS NULL ORDER BY closes_at LIMIT $2`, [new Date(beforeMs), limit]);
  return rows.map(campaignOf);
}

export async function claimCampaign(db: Queryable, campaignId: string): Promise<CampaignRow | null> {
  const row = await db.oneOrNone<CampaignDbRow>(`SELECT * FROM ul_claim_campaigns WHERE campaign_id = $1`, [campaignId]);
  return row ? campaignOf(row) : null;
}

/** Campaigns whose window closed after `sinceMs` (the ones reconciliation still looks at), at most `limit`. */
export async function campaignsClosingAfter(db: Queryable, sinceMs: number, limit: number): Promise<CampaignRow[]> {
  const rows = await db.any<CampaignDbRow>(`SELECT * FROM ul_claim_campaigns WHERE closes_at > $1 ORDER BY closes_at LIMIT $2`, [new Date(sinceMs), limit]);
  return rows.map(campaignOf);
}

export interface ClaimRow {
  memberId: string;
  orgId: string;
  seq: number;
  voucherId: string | null;
  /** The claim's mall order, when the prize is a mall SKU. */
  orderId: string | null;
  admittedAtMs: number;
  grantedAt: string;
}

/** A campaign's granted claims in slot order (first come first), from slot `afterSeq` on, at most `limit`. */
export async function claimsOf(db: Queryable, campaignId: string, page: { afterSeq: number; limit: number }): Promise<ClaimRow[]> {
  const rows = await db.any<{ member_id: string; org_id: string; seq: number; voucher_id: string | null; order_id: string | null; admitted_at: Date; granted_at: Date }>(
    `SELECT member_id, org_id, seq, voucher_id, order_id, admitted_at, granted_at FROM ul_claims WHERE campaign_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [campaignId, page.afterSeq, page.limit],
  );
  return rows.map((row) => ({
    memberId: row.member_id,
    orgId: row.org_id,
    seq: row.seq,
    voucherId: row.voucher_id,
    orderId: row.order_id,
    admittedAtMs: row.admitted_at.getTime(),
    grantedAt: row.granted_at.toISOString(),
  }));
}

export interface LotteryRow {
  lotteryId: string;
  orgId: string;
  name: string;
  entryPoints: number;
  prizes: number;
  opensAt: string;
  closesAt: string;
  losers: string;
  maxEntries: number;
  programmeId: string | null;
  faceFen: number | null;
  prizePoints: number | null;
  commitment: string;
  status: string;
  entries: number;
  seed: string | null;
  entriesHash: string | null;
  winners: string[] | null;
}

export async function lottery(db: Queryable, lotteryId: string): Promise<LotteryRow | null> {
  const row = await db.oneOrNone<{
    lottery_id: string;
    org_id: string;
    name: string;
    entry_points: string;
    prizes: number;
    opens_at: Date;
    closes_at: Date;
    losers: string;
    max_entries: number;
    programme_id: string | null;
    face_fen: string | null;
    prize_points: string | null;
    commitment: string;
    status: string;
    entries: number;
    seed: string | null;
    entries_hash: string | null;
    winners: string[] | null;
  }>(`SELECT * FROM ul_lotteries WHERE lottery_id = $1`, [lotteryId]);
  if (!row) return null;
  return {
    lotteryId: row.lottery_id,
    orgId: row.org_id,
    name: row.name,
    entryPoints: Number(row.entry_points),
    prizes: row.prizes,
    opensAt: row.opens_at.toISOString(),
    closesAt: row.closes_at.toISOString(),
    losers: row.losers,
    maxEntries: row.max_entries,
    programmeId: row.programme_id,
    faceFen: row.face_fen === null ? null : Number(row.face_fen),
    prizePoints: row.prize_points === null ? null : Number(row.prize_points),
    commitment: row.commitment,
    status: row.status,
    entries: row.entries,
    seed: row.seed,
    entriesHash: row.entries_hash,
    winners: row.winners,
  };
}

export interface EntryRow {
  memberId: string;
  points: number;
  enteredAt: string;
  late: boolean;
  outcome: string | null;
  prizeRank: number | null;
}

/** Lotteries still open (never drawn) whose entries closed at or before `closedByMs`, oldest first, at most `limit`. */
export async function undrawnLotteries(db: Queryable, closedByMs: number, limit: number): Promise<string[]> {
  const rows = await db.any<{ lottery_id: string }>(`SELECT lottery_id FROM ul_lotteries WHERE status = 'open' AND closes_at <= $1 ORDER BY closes_at, lottery_id LIMIT $2`, [
    new Date(closedByMs),
    limit,
  ]);
  return rows.map((row) => row.lottery_id);
}

/** Lotteries drawn at or before `drawnByMs` and not settled (an interrupted settlement), oldest first, at most `limit`. */
export async function unsettledLotteries(db: Queryable, drawnByMs: number, limit: number): Promise<string[]> {
  const rows = await db.any<{ lottery_id: string }>(`SELECT lottery_id FROM ul_lotteries WHERE status = 'drawn' AND drawn_at <= $1 ORDER BY drawn_at, lottery_id LIMIT $2`, [
    new Date(drawnByMs),
    limit,
  ]);
  return rows.map((row) => row.lottery_id);
}

/** A lottery's entries by member id (the draw's order), after `afterMemberId`, at most `limit`. */
export async function lotteryEntries(db: Queryable, lotteryId: string, page: { after: string; limit: number; winnersOnly?: boolean }): Promise<EntryRow[]> {
  const rows = await db.any<{ member_id: string; points: string; entered_at: Date; late: boolean; outcome: string | null; prize_rank: number | null }>(
    `SELECT member_id, points, entered_at, late, outcome, prize_rank FROM ul_lottery_entries
      WHERE lottery_id = $1 AND member_id COLLATE "C" > $2 ${page.winnersOnly ? `AND outcome = 'won'` : ''}
      ORDER BY member_id COLLATE "C" LIMIT $3`,
    [lotteryId, page.after, page.limit],
  );
  return rows.map((row) => ({
    memberId: row.member_id,
    points: Number(row.points),
    enteredAt: row.entered_at.toISOString(),
    late: row.late,
    outcome: row.outcome,
    prizeRank: row.prize_rank,
  }));
}

/** The member's entry, or null. */
export async function lotteryEntry(db: Queryable, lotteryId: string, memberId: string): Promise<EntryRow | null> {
  const row = await db.oneOrNone<{ member_id: string; points: string; entered_at: Date; late: boolean; outcome: string | null; prize_rank: number | null }>(
    `SELECT member_id, points, entered_at, late, outcome, prize_rank FROM ul_lottery_entries WHERE lottery_id = $1 AND member_id = $2`,
    [lotteryId, memberId],
  );
  return row
    ? { memberId: row.member_id, points: Number(row.points), enteredAt: row.entered_at.toISOString(), late: row.late, outcome: row.outcome, prizeRank: row.prize_rank }
    : null;
}
