import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { Principal } from '../../application/orgs';
import type { UnionLedger } from '../../composition-root';
import type { RuleSet } from '../../domain/earning';
import { periodsOf } from '../../domain/shared';
import type { LeaderboardPeriod } from '../../projections/earning';
import { memberNames } from '../../projections/members';
import { LEDGER } from '../tokens';

/** The earning context's queries as @nestjs/cqrs queries: one class and one handler each. */

export class GetEarningRules extends Query<RuleSet> {}

@QueryHandler(GetEarningRules)
export class GetEarningRulesHandler implements IQueryHandler<GetEarningRules> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  execute(): Promise<RuleSet> {
    return this.ledger.rules.currentRules();
  }
}

/** The current period's key ('2026-W48', '2026-11', '2026'); '' for all time. */
function currentPeriodKey(period: LeaderboardPeriod): string {
  return period === 'all' ? '' : periodsOf(new Date())[period];
}

export interface LeaderboardPage {
  orgId: string;
  period: LeaderboardPeriod;
  periodKey: string | null;
  entries: Array<{ memberId: string; points: number; rank: number; name: string | null }>;
}

/** Top N of an organisation the caller may see (their own units; admins their subtree; auditors all). */
export class GetLeaderboard extends Query<LeaderboardPage> {
  constructor(
    readonly principal: Principal,
    readonly orgId: string,
    readonly period: LeaderboardPeriod,
    readonly top: number,
  ) {
    super();
  }
}

@QueryHandler(GetLeaderboard)
export class GetLeaderboardHandler implements IQueryHandler<GetLeaderboard> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ principal, orgId, period, top }: GetLeaderboard): Promise<LeaderboardPage> {
    await this.ledger.orgAccess.assertCanView(principal, orgId);
    const periodKey = currentPeriodKey(period);
    const entries = await this.ledger.leaderboards.top(orgId, period, periodKey, top);
    const names = await memberNames(this.ledger.reads, entries.map((entry) => entry.memberId));
    return { orgId, period, periodKey: periodKey || null, entries: entries.map((entry) => ({ ...entry, name: names.get(entry.memberId) ?? null })) };
  }
}

export class GetRank extends Query<{ orgId: string; period: LeaderboardPeriod; periodKey: string | null; points: number; rank: number | null; size: number }> {
  constructor(
    readonly principal: Principal,
    readonly orgId: string,
    readonly period: LeaderboardPeriod,
  ) {
    super();
  }
}

@QueryHandler(GetRank)
export class GetRankHandler implements IQueryHandler<GetRank> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ principal, orgId, period }: GetRank) {
    await this.ledger.orgAccess.assertCanView(principal, orgId);
    const periodKey = currentPeriodKey(period);
    return { orgId, period, periodKey: periodKey || null, ...(await this.ledger.leaderboards.rankOf(orgId, period, periodKey, principal.sub)) };
  }
}

export const EARNING_QUERY_HANDLERS = [GetEarningRulesHandler, GetLeaderboardHandler, GetRankHandler];
