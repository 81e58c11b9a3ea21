import { int, object, optional, str } from '../common/validation';

/** Request bodies and path parameters of the members routes (TypeBox schemas, see common/validation.ts). */

export const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
/** What an Idempotency-Key may be (common/idempotency.ts): a hold's id is the key of the request that made it. */
const KEY = /^[A-Za-z0-9_:.-]+$/;
const rating = int({ min: 1, max: 5 });

export const quizAnswerSchema = object({ quizId: str({ min: 1, max: 64, pattern: ID }), answer: str({ min: 1, max: 16 }) });
export const articleSchema = object({ articleId: str({ min: 1, max: 64, pattern: ID }) });
export const commentSchema = object({ targetId: str({ min: 1, max: 64, pattern: ID }), text: str({ min: 1, max: 500 }) });
export const activitySchema = object({ activityId: str({ min: 1, max: 64, pattern: ID }) });
export const evaluationSchema = object({
  campaignId: str({ min: 1, max: 64, pattern: ID }),
  overall: rating,
  // Nine optional item ratings, item1 ... item9.
  items: optional(object(Object.fromEntries(Array.from({ length: 9 }, (_unused, index) => [`item${index + 1}`, optional(rating)])))),
  suggestion: optional(str({ max: 500 })),
});
export const holdSchema = object({
  points: int({ min: 1, max: 10_000_000 }),
  purpose: str({ min: 1, max: 64, pattern: ID }),
  expiresInSeconds: int({ min: 1, max: 30 * 24 * 3600 }),
});
export const holdParams = object({ holdId: str({ min: 1, max: 200, pattern: KEY }) });
export const spendSchema = object({ points: int({ min: 1, max: 10_000_000 }), purpose: str({ min: 1, max: 64, pattern: ID }) });
