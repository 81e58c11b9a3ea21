import type { TOptional } from '@sinclair/typebox';
import { CAP_PERIODS, EARNING_ACTIONS, MAX_CAP, MAX_POINTS_PER_GRANT, QUIZ_ID, STREAK_EVERY_DAYS, type CapPeriod, type EarningAction } from '../../domain/earning';
import { ORG_ID } from '../../domain/orgs';
import { LEADERBOARD_PERIODS, LEADERBOARD_TOP_MAX } from '../../projections/earning';
import { RULE_HISTORY_MAX } from '../../application/earning';
import { array, int, nullable, object, oneOf, optional, str } from '../common/validation';

/**
 * Request bodies, query strings and path parameters of the earning routes (TypeBox schemas, see
 * common/validation.ts). The rule set's bounds are the domain's own (validateRuleSetBody stays
 * its guard); here they are refused earlier, with every unknown property named by its path.
 */

const capCount = optional(int({ min: 0, max: MAX_CAP }));
const cap = object({ maxCount: capCount, maxPoints: capCount });
const caps = object(Object.fromEntries(CAP_PERIODS.map((period) => [period, optional(cap)])) as Record<CapPeriod, TOptional<typeof cap>>);
const rule = object({ points: int({ min: 0, max: MAX_POINTS_PER_GRANT }), caps: optional(caps) });

export const publishRulesSchema = object({
  expectedVersion: int({ min: 1, max: 1_000_000 }),
  /** Every action's rule: a rule set is published whole. */
  rules: object(Object.fromEntries(EARNING_ACTIONS.map((action) => [action, rule])) as Record<EarningAction, typeof rule>),
  /** null or absent: no streak bonus. */
  streakBonus: optional(nullable(object({ everyDays: int(STREAK_EVERY_DAYS), points: int({ min: 0, max: MAX_POINTS_PER_GRANT }) }))),
});

export const quizSchema = object({
  quizId: str({ min: 1, max: 64, pattern: QUIZ_ID }),
  question: str({ min: 1, max: 500 }),
  options: array(str({ min: 1, max: 16 }), { min: 2, max: 10 }),
  correctAnswer: str({ min: 1, max: 16 }),
  /** The subtree whose members may answer; defaults to the admin's own organisation. */
  orgId: optional(str({ min: 1, max: 64, pattern: ORG_ID })),
});

const orgId = str({ min: 1, max: 64, pattern: ORG_ID });
const period = oneOf(LEADERBOARD_PERIODS);

export const leaderboardParams = object({ orgId });
export const leaderboardQuery = object({ period: optional(period), top: optional(int({ min: 1, max: LEADERBOARD_TOP_MAX })) });
export const rankQuery = object({ orgId: optional(orgId), period: optional(period) });
// A string in the path, as every path parameter of this API is: digits, no leading zero.
export const ruleVersionParams = object({ version: str({ min: 1, max: 7, pattern: /^[1-9][0-9]*$/, description: 'a published version of the earning rules' }) });
export const ruleHistoryQuery = object({ limit: optional(int({ min: 1, max: RULE_HISTORY_MAX })) });
