import { ACCOUNT_STATEMENT_PAGE_MAX } from '../../application/audit';
import { int, object, optional, str } from '../common/validation';

/** Query strings and path parameters of the auditor routes (TypeBox schemas, see common/validation.ts). */

export const balancesQuery = object({
  asOf: str({ min: 1, max: 40, pattern: /^(\d{1,18}|\d{4}-\d{2}-\d{2}[T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)$/, description: 'a global position, or an ISO-8601 time' }),
  account: optional(str({ min: 1, max: 200, pattern: /^[A-Za-z0-9][A-Za-z0-9:_.-]*$/, description: 'one account only, e.g. member:42:available' })),
  limit: optional(int({ min: 1, max: 1_000 })),
});

export const streamParams = object({
  streamId: str({ min: 1, max: 200, pattern: /^[A-Za-z0-9][A-Za-z0-9:_.-]*$/, description: 'any stream, e.g. member-42' }),
});

export const streamEventsQuery = object({
  fromRevision: optional(int({ min: 0, max: 1_000_000_000 })),
  limit: optional(int({ min: 1, max: 500 })),
});

/** An account name as postings carry it: lower-case kind, then colon-separated parts (member:42:available, budget:org-1). */
export const ACCOUNT_NAME = /^[a-z][a-z_-]{0,39}(:[A-Za-z0-9_.@-]{1,100}){1,4}$/

export const accountParams = object({
  account: str({ min: 3, max: 200, description: 'an account, e.g. member:42:available' }),
});

export const accountStatementQuery = object({
  afterPosition: optional(str({ min: 1, max: 18, pattern: /^[0-9]+$/, description: 'the nextPosition of the previous page: a global position' })),
  limit: optional(int({ min: 1, max: ACCOUNT_STATEMENT_PAGE_MAX })),
});
