import { QUIZ_ID } from '../../domain/earning';
import { ORG_ID } from '../../domain/orgs';
import { LEADERBOARD_PERIODS, LEADERBOARD_TOP_MAX } from '../../projections/earning';
import { array, int, object, oneOf, optional, str } from '../common/validation';

/** Request bodies, query strings and path parameters of the earning routes (TypeBox schemas, see common/validation.ts). */

export const quizSchema = object({
  quizId: str({ min: 1, max: 64, pattern: QUIZ_ID }),
  question: str({ min: 1, max: 500 }),
  options: array(str({ min: 1, max: 16 }), { min: 2, max: 10 }),
  correctAnswer: str({ min: 1, max: 16 }),
});

const orgId = str({ min: 1, max: 64, pattern: ORG_ID });
const period = oneOf(LEADERBOARD_PERIODS);

export const leaderboardParams = object({ orgId });
export const leaderboardQuery = object({ period: optional(period), top: optional(int({ min: 1, max: LEADERBOARD_TOP_MAX })) });
export const rankQuery = object({ orgId: optional(orgId), period: optional(period) });
