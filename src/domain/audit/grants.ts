import { CAP_PERIODS, type CapPeriod, type RuleSet } from '../earning';
import { accounts, type PointsGrantedData } from '../members';

/**
 * Recomputing a member's points grants from the pinned rule version and the recorded inputs
 * (`union-ledger audit grants`). The rule and its caps are applied here again, written apart from
 * the members' decider on purpose: an audit that called the decider's own code would repeat its
 * bugs instead of finding them. The caps count the grants recorded before each one, in stream
 * order, as the member's state does; a grant found wrong still counts as recorded, so one forgery
 * does not make every later grant of that member look wrong too.
 */

export interface GrantFinding {
  streamId: string;
  revision: number;
  grantId: string;
  /** What differs: points, basePoints, rule, postings, grantId. */
  what: string;
  recorded: string;
  recomputed: string;
}

/** A stored PointsGranted, as read (postings in either stored shape). */
export interface StoredGrant {
  streamId: string;
  revision: number;
  data: PointsGrantedData;
}

type Counters = Map<string, Partial<Record<CapPeriod, { key: string; count: number; points: number }>>>;

function postingOf(raw: unknown): { debit: string; credit: string; amount: number; asset: string } | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const posting = raw as Record<string, unknown>;
  const amount = typeof posting['amount'] === 'number' ? posting['amount'] : posting['points'];
  if (typeof posting['debit'] !== 'string' || typeof posting['credit'] !== 'string' || typeof amount !== 'number') return null;
  return { debit: posting['debit'], credit: posting['credit'], amount, asset: typeof posting['asset'] === 'string' ? posting['asset'] : 'POINTS' };
}

/** One member's grants, in stream order, against the rule versions (by version number). */
export function recomputeGrants(grants: readonly StoredGrant[], rulesByVersion: ReadonlyMap<number, RuleSet>): GrantFinding[] {
  const findings: GrantFinding[] = [];
  const counters: Counters = new Map();
  for (const { streamId, revision, data } of grants) {
    const found = (what: string, recorded: unknown, recomputed: unknown): void => {
      findings.push({ streamId, revision, grantId: String(data.grantId), what, recorded: JSON.stringify(recorded), recomputed: JSON.stringify(recomputed) });
    };
    const rules = rulesByVersion.get(data.ruleVersion);
    const streak = data.ruleId === 'checkin.streakBonus';
    const base = !rules ? undefined : streak ? rules.streakBonus?.points : rules.rules[data.action]?.points;
    if (!rules || base === undefined || (!streak && data.ruleId !== data.action)) {
      found('rule', { ruleId: data.ruleId, action: data.action, ruleVersion: data.ruleVersion }, 'no such rule in that version');
    } else {
      let points = base;
      const caps = streak ? {} : rules.rules[data.action].caps ?? {};
      for (const period of CAP_PERIODS) {
        const cap = caps[period];
        if (!cap) continue;
        const counter = counters.get(data.ruleId)?.[period];
        const used = counter?.key === data.periods?.[period] ? counter : { count: 0, points: 0 };
        if (cap.maxCount !== undefined && used.count >= cap.maxCount) points = 0;
        if (cap.maxPoints !== undefined && points > cap.maxPoints - used.points) points = Math.max(0, cap.maxPoints - used.points);
      }
      if (points !== data.points) found('points', data.points, points);
      if (data.inputs?.['basePoints'] !== base) found('basePoints', data.inputs?.['basePoints'], base);
      const memberId = streamId.slice('member-'.length);
      const expectedPosting = { debit: accounts.issuer(data.ruleId), credit: accounts.available(memberId), amount: data.points, asset: 'POINTS' };
      const postings = Array.isArray(data.postings) ? data.postings.map(postingOf) : [];
      if (postings.length !== 1 || JSON.stringify(postings[0]) !== JSON.stringify(expectedPosting)) found('postings', data.postings, [expectedPosting]);
      const key = String(data.grantId).split(':').slice(2).join(':');
      if (data.grantId !== `${memberId}:${data.ruleId}:${key}` || key === '') found('grantId', data.grantId, `${memberId}:${data.ruleId}:<key>`);
    }
    // Count the grant as recorded, as the member's own state does.
    const previous = counters.get(data.ruleId) ?? {};
    const next: Partial<Record<CapPeriod, { key: string; count: number; points: number }>> = {};
    for (const period of CAP_PERIODS) {
      const key = data.periods?.[period] ?? '';
      const counter = previous[period]?.key === key ? previous[period]! : { key, count: 0, points: 0 };
      next[period] = { key, count: counter.count + 1, points: counter.points + (typeof data.points === 'number' ? data.points : 0) };
    }
    counters.set(data.ruleId, next);
  }
  return findings;
}
