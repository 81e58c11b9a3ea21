import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { Principal } from '../../application/orgs';
import type { UnionLedger } from '../../composition-root';
import type { RuleSet } from '../../domain/earning';
import { periodsOf } from '../../domain/shared';
import type { LeaderboardPeriod } from '../../projections/earning';
import { MemberNames } from '../../projections/members';
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

/** Published versions of the earning rules, newest first (the console lists them and diffs two). */
export class GetRuleHistory extends Query<{ versions: Array<{ version: number; publishedAt: string; publishedBy: string }> }> {
  constructor(readonly limit: number | undefined) {
    super();
  }
}

@QueryHandler(GetRuleHistory)
export class GetRuleHistoryHandler implements IQueryHandler<GetRuleHistory> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ limit }: GetRuleHistory) {
    // The defaults are version 1, published on first use: reading the current rules first makes
    // a new ledger's history start at 1 instead of answering an empty list.
    await this.ledger.rules.currentRules();
    return { versions: await this.ledger.rules.history(limit) };
  }
}

/** One published version of the earning rules (RULES.VERSION_NOT_FOUND otherwise). */
export class GetRuleVersion extends Query<RuleSet> {
  constructor(readonly version: number) {
    super();
  }
}

@QueryHandler(GetRuleVersion)
export class GetRuleVersionHandler implements IQueryHandler<GetRuleVersion> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  execute({ version }: GetRuleVersion): Promise<RuleSet> {
    return this.ledger.rules.version(version);
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
  /** The top of a board changes slowly and names never: most requests need no names query. */
  private readonly names = new MemberNames();

  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ principal, orgId, period, top }: GetLeaderboard): Promise<LeaderboardPage> {
    await this.ledger.orgAccess.assertCanView(principal, orgId);
    const periodKey = currentPeriodKey(period);
    const entries = await this.ledger.leaderboards.top(orgId, period, periodKey, top);
    const names = await this.names.of(this.ledger.reads, entries.map((entry) => entry.memberId));
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

export const EARNING_QUERY_HANDLERS = [GetEarningRulesHandler, GetLeaderboardHandler, GetRankHandler, GetRuleHistoryHandler, GetRuleVersionHandler];
