import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { ClaimOutcome } from '../../application/claims';
import type { UnionLedger } from '../../composition-root';
import type { CampaignTerms, LotteryState, LotteryTerms } from '../../domain/claims';
import { claimCampaign, claimsOf, lotteryEntries, lotteryEntry, type ClaimRow, type EntryRow } from '../../projections/claims';
import type { JwtClaims } from '../common/auth';
import { AppError } from '../common/errors';
import { LEDGER } from '../tokens';

/** The claims context's queries: the campaign with its counts, its claims, a member's claim; lotteries and entries. */

export interface CampaignView {
  terms: CampaignTerms;
  /** Granted claims in the read model (lags the log by the projection's lag). */
  granted: number;
  /** Slots the gate has handed out, and those not yet known to be in the log. */
  admitted: number;
  pending: number;
  /** Once closed after the window: the units nobody claimed, whose value went back to the budget (fen). */
  closed: { unclaimed: number; returnedFen: number; closedAt: string } | null;
}

export class GetCampaign extends Query<CampaignView> {
  constructor(
    readonly user: JwtClaims,
    readonly campaignId: string,
  ) {
    super();
  }
}
@QueryHandler(GetCampaign)
export class GetCampaignHandler implements IQueryHandler<GetCampaign> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}
  async execute({ user, campaignId }: GetCampaign): Promise<CampaignView> {
    const terms = await this.ledger.claims.campaignFor(user, campaignId);
    const [row, gate] = await Promise.all([claimCampaign(this.ledger.reads, campaignId), this.ledger.claims.gateCounts(campaignId)]);
    const closed = row && row.closedAt !== null ? { unclaimed: row.unclaimed ?? 0, returnedFen: row.returnedFen ?? 0, closedAt: row.closedAt } : null;
    return { terms, granted: row?.granted ?? 0, ...gate, closed };
  }
}

export class ListClaims extends Query<ClaimRow[]> {
  constructor(
    readonly user: JwtClaims,
    readonly campaignId: string,
    readonly page: { afterSeq: number; limit: number },
  ) {
    super();
  }
}
@QueryHandler(ListClaims)
export class ListClaimsHandler implements IQueryHandler<ListClaims> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}
  async execute({ user, campaignId, page }: ListClaims): Promise<ClaimRow[]> {
    await this.ledger.claims.campaignFor(user, campaignId);
    return claimsOf(this.ledger.reads, campaignId, page);
  }
}

export class GetMyClaim extends Query<ClaimOutcome | null> {
  constructor(
    readonly user: JwtClaims,
    readonly campaignId: string,
  ) {
    super();
  }
}
@QueryHandler(GetMyClaim)
export class GetMyClaimHandler implements IQueryHandler<GetMyClaim> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}
  execute({ user, campaignId }: GetMyClaim): Promise<ClaimOutcome | null> {
    return this.ledger.claims.claimOf(user.sub, campaignId);
  }
}

export class GetLottery extends Query<{ terms: LotteryTerms; state: LotteryState }> {
  constructor(
    readonly user: JwtClaims,
    readonly lotteryId: string,
  ) {
    super();
  }
}
@QueryHandler(GetLottery)
export class GetLotteryHandler implements IQueryHandler<GetLottery> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}
  async execute({ user, lotteryId }: GetLottery) {
    const terms = await this.ledger.lotteries.visibleTerms(user, lotteryId);
    return { terms, state: await this.ledger.lotteries.state(lotteryId) };
  }
}

export class ListEntries extends Query<EntryRow[]> {
  constructor(
    readonly user: JwtClaims,
    readonly lotteryId: string,
    readonly page: { after: string; limit: number; winnersOnly: boolean },
  ) {
    super();
  }
}
@QueryHandler(ListEntries)
export class ListEntriesHandler implements IQueryHandler<ListEntries> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}
  async execute({ user, lotteryId, page }: ListEntries): Promise<EntryRow[]> {
    await this.ledger.lotteries.visibleTerms(user, lotteryId);
    return lotteryEntries(this.ledger.reads, lotteryId, page);
  }
}

export class GetMyEntry extends Query<EntryRow> {
  constructor(
    readonly user: JwtClaims,
    readonly lotteryId: string,
  ) {
    super();
  }
}
@QueryHandler(GetMyEntry)
export class GetMyEntryHandler implements IQueryHandler<GetMyEntry> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}
  async execute({ user, lotteryId }: GetMyEntry): Promise<EntryRow> {
    await this.ledger.lotteries.visibleTerms(user, lotteryId);
    const entry = await lotteryEntry(this.ledger.reads, lotteryId, user.sub);
    if (!entry) throw AppError.notFound('LOTTERY.ENTRY_NOT_FOUND', 'no entry of yours in this lottery (an entry just made may take a moment to show)');
    return entry;
  }
}

export const CLAIMS_QUERY_HANDLERS = [GetCampaignHandler, ListClaimsHandler, GetMyClaimHandler, GetLotteryHandler, ListEntriesHandler, GetMyEntryHandler];
