import { DomainError } from '../shared';

/**
 * Earning rules: points per action and caps per day / week / year, in counts and in points.
 * A rule set is versioned and stored as events (stream `earning-rules`); every grant records the
 * rule id and version that produced it, so an auditor can recompute it from the pinned version.
 */

export const EARNING_ACTIONS = ['activation', 'checkin', 'quiz', 'article', 'comment', 'evaluation', 'activity'] as const;
export type EarningAction = (typeof EARNING_ACTIONS)[number];
/** Rule ids are the action names plus the check-in streak bonus. */
export type RuleId = EarningAction | 'checkin.streakBonus';

export type CapPeriod = 'day' | 'week' | 'year';
export const CAP_PERIODS: readonly CapPeriod[] = ['day', 'week', 'year'];

export interface Cap {
  maxCount?: number;
  maxPoints?: number;
}

export interface EarningRule {
  points: number;
  caps?: Partial<Record<CapPeriod, Cap>>;
}

export interface StreakBonus {
  /** The bonus is granted on every day whose streak is a multiple of this. */
  everyDays: number;
  points: number;
}

export interface RuleSetBody {
  rules: Record<EarningAction, EarningRule>;
  streakBonus: StreakBonus | null;
}

export interface RuleSet extends RuleSetBody {
  version: number;
}

export const MAX_POINTS_PER_GRANT = 100_000;
/** The largest cap (maxCount or maxPoints) a rule may set. */
export const MAX_CAP = 10_000_000;
/** A streak bonus comes every 2 to 366 days. */
export const STREAK_EVERY_DAYS = { min: 2, max: 366 } as const;

export const DEFAULT_RULES: RuleSetBody = {
  rules: {
    activation: { points: 100, caps: { year: { maxCount: 1 } } },
    checkin: { points: 5, caps: { day: { maxCount: 1 } } },
    quiz: { points: 10, caps: { day: { maxCount: 5 } } },
    article: { points: 2, caps: { day: { maxCount: 10, maxPoints: 20 } } },
    comment: { points: 3, caps: { day: { maxCount: 5 }, week: { maxPoints: 60 } } },
    evaluation: { points: 50 },
    activity: { points: 20, caps: { week: { maxCount: 3 }, year: { maxPoints: 2000 } } },
  },
  streakBonus: { everyDays: 7, points: 20 },
};

function checkInteger(value: unknown, path: string, min: number, max: number, problems: string[]): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    problems.push(`${path} must be an integer from ${min} to ${max}`);
  }
}

/** Validates an admin's proposed rule set; refuses it whole with every problem listed. */
export function validateRuleSetBody(body: unknown): RuleSetBody {
  const problems: string[] = [];
  const candidate = body as Partial<RuleSetBody> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.rules !== 'object' || candidate.rules === null) {
    throw new DomainError('RULES.INVALID', 'a rule set needs a rules object', 400, { problems: ['rules is missing'] });
  }
  for (const key of Object.keys(candidate.rules)) {
    if (!(EARNING_ACTIONS as readonly string[]).includes(key)) problems.push(`rules.${key} is not a known action`);
  }
  for (const action of EARNING_ACTIONS) {
    const rule = (candidate.rules as Partial<Record<EarningAction, EarningRule>>)[action];
    if (typeof rule !== 'object' || rule === null) {
      problems.push(`rules.${action} is missing`);
      continue;
    }
    checkInteger(rule.points, `rules.${action}.points`, 0, MAX_POINTS_PER_GRANT, problems);
    for (const period of Object.keys(rule.caps ?? {})) {
      if (!(CAP_PERIODS as readonly string[]).includes(period)) problems.push(`rules.${action}.caps.${period} is not day, week or year`);
      const cap = rule.caps?.[period as CapPeriod];
      if (cap?.maxCount !== undefined) checkInteger(cap.maxCount, `rules.${action}.caps.${period}.maxCount`, 0, MAX_CAP, problems);
      if (cap?.maxPoints !== undefined) checkInteger(cap.maxPoints, `rules.${action}.caps.${period}.maxPoints`, 0, MAX_CAP, problems);
    }
  }
  const bonus = candidate.streakBonus;
  if (bonus !== null && bonus !== undefined) {
    checkInteger(bonus.everyDays, 'streakBonus.everyDays', STREAK_EVERY_DAYS.min, STREAK_EVERY_DAYS.max, problems);
    checkInteger(bonus.points, 'streakBonus.points', 0, MAX_POINTS_PER_GRANT, problems);
  }
  if (problems.length > 0) throw new DomainError('RULES.INVALID', 'the rule set is invalid', 400, { problems });
  return { rules: candidate.rules as Record<EarningAction, EarningRule>, streakBonus: bonus ?? null };
}
