import { int, object, oneOf, optional, str } from '../common/validation';

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

// ---- lifecycle: transfers, parking, leaving, joining (docs/ORGS.md)
const ORG = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const orgIdOf = (description: string) => str({ min: 1, max: 64, pattern: ORG, description });
const reasonOf = () => str({ min: 1, max: 200, description: 'why (kept in the event)' });
/** A keyset cursor: the `next` of the page before (a position in the log, at most 18 digits so it fits a bigint). */
const positionCursor = () => str({ min: 1, max: 18, pattern: /^[0-9]+$/, description: 'the `next` of the previous page' });

export const memberParams = object({ memberId: str({ min: 1, max: 64, pattern: ID }) });
export const transferParams = object({ memberId: str({ min: 1, max: 64, pattern: ID }), transferId: str({ min: 1, max: 128, pattern: ID }) });
export const ownTransferParams = object({ transferId: str({ min: 1, max: 128, pattern: ID }) });
// The shape of an application id (join-<24 hex>) is checked by the application layer: any other id is simply not found.
export const applicationParams = object({ applicationId: str({ min: 1, max: 64, pattern: ID }) });
export const unitParams = object({ orgId: orgIdOf('the unit') });
export const transferSchema = object({ toOrgId: orgIdOf('the grassroots union the member moves to') });
export const reasonSchema = object({ reason: reasonOf() });
export const joinSchema = object({
  orgId: orgIdOf('the grassroots union to join'),
  name: str({ min: 1, max: 50, description: 'the applicant’s name as on their ID card' }),
  nationalId: str({ min: 18, max: 18, pattern: /^[0-9]{17}[0-9Xx]$/, description: 'sealed in the vault, never stored in plaintext' }),
  phone: str({ min: 11, max: 14, pattern: /^(\+86)?1[3-9][0-9]{9}$/, description: 'sealed in the vault' }),
});
export const pendingQuery = object({
  direction: optional(oneOf(['incoming', 'outgoing'] as const)),
  after: optional(positionCursor()),
  limit: optional(int({ min: 1, max: 200 })),
});
export const joinsQuery = object({ after: optional(positionCursor()), limit: optional(int({ min: 1, max: 200 })) });
export const unitMembersQuery = object({ after: optional(str({ min: 1, max: 64, pattern: ID, description: 'the `next` of the previous page' })), limit: optional(int({ min: 1, max: 1000 })) });
