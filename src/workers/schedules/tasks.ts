import type { Seals } from '../../application/audit';
import type { Benefits } from '../../application/benefits';
import type { Campaigns } from '../../application/campaigns';
import type { Claims, Lotteries } from '../../application/claims';
import type { RosterImports } from '../../application/imports';
import type { Mall } from '../../application/mall';
import type { MemberService } from '../../application/members';
import type { Queryable } from '../../infra/database';
import { membersWithExpiredHolds } from '../../projections/ledger';
import type { ScheduleTasks } from './schedules';

/** Members whose expired holds one run releases: bounded work per minute. */
const HOLDS_PER_RUN = 500;

/** The schedules' work, from the application's use cases. */
export function scheduleTasks(deps: {
  benefits: Pick<Benefits, 'sweep' | 'settleDue' | 'closeEndedProgrammes'>;
  members: Pick<MemberService, 'releaseDueHolds'>;
  mall: Pick<Mall, 'sweep'>;
  /** A function: the claims context needs Redis (its gate), reached only when the schedule runs. */
  claims: () => Pick<Claims, 'reconcile'>;
  lotteries: Pick<Lotteries, 'sweep'>;
  /** A function: the imports context needs the vault, reached only when the schedule runs. */
  imports: () => Pick<RosterImports, 'discardOrphanFiles'>;
  seals: Pick<Seals, 'seal'>;
  campaigns: Pick<Campaigns, 'checkMilestones' | 'reports'>;
  db: Queryable;
  clock?: () => Date;
  /** Where a schedule reports what failed inside a run that goes on (one lottery of a sweep). */
  log?: (line: string) => void;
}): ScheduleTasks {
  const clock = deps.clock ?? (() => new Date());
  return {
    'benefits-sweep': async () => ({ ...(await deps.benefits.sweep()) }),
    'member-holds': async (period) => {
      let members = 0;
      let holds = 0;
      for (const memberId of await membersWithExpiredHolds(deps.db, clock().getTime(), HOLDS_PER_RUN)) {
        const result = await deps.members.releaseDueHolds(memberId, { commandId: `schedule:member-holds:${period}:${memberId}`, actor: { type: 'system', id: 'schedules' } });
        const released = result.replayed ? 0 : result.events.filter((event) => event.type === 'HoldVoided').length;
        members += released > 0 ? 1 : 0;
        holds += released;
      }
      return { members, holds };
    },
    'mall-orders': async () => ({ ...(await deps.mall.sweep()) }),
    // The claims context's minute: admissions recorded, campaigns closed, lotteries lapsed past their draw deadline or settled after an interrupted settlement.
    'claims-reconcile': async () => ({
      ...(await deps.claims().reconcile()),
      ...(await deps.lotteries.sweep((lotteryId, error) => deps.log?.(`lottery ${lotteryId}: the sweep failed and tries again next minute: ${error.message}`))),
    }),
    'merchant-day-close': async () => ({ settled: await deps.benefits.settleDue() }),
    'year-end-close': async () => ({ closed: await deps.benefits.closeEndedProgrammes() }),
    // The root goes in the HeadsSealed event; the auditor takes the heads out with `audit export` (seal.ndjson).
    'audit-seal': async () => {
      const sealed = await deps.seals.seal();
      return { sealNumber: sealed.seal.sealNumber, streams: sealed.seal.streams, recorded: sealed.recorded ? 1 : 0 };
    },
    'campaign-milestones': async () => ({ recorded: await deps.campaigns.checkMilestones() }),
    'campaign-weekly-reports': async (period) => ({ ...(await deps.campaigns.reports.generateWeekly(period)) }),
    'import-files': async () => ({ discarded: await deps.imports().discardOrphanFiles() }),
  };
}
