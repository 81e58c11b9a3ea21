import { STATEMENT_PAGE_MAX } from '../../projections/ledger';
import { int, object, optional, str } from '../common/validation';

/** Query strings of the ledger routes (TypeBox schemas, see common/validation.ts). */

export const statementQuery = object({
  /** The `nextCursor` of the previous page: a stream revision. */
  cursor: optional(str({ min: 1, max: 18, pattern: /^[0-9]+$/ })),
  limit: optional(int({ min: 1, max: STATEMENT_PAGE_MAX })),
});
