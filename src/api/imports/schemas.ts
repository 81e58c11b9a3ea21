import { int, object, optional, str } from '../common/validation';
import { IMPORT_REPORT_PAGE_MAX } from '../../projections/imports';

/** Path parameters and query string of the imports routes (TypeBox schemas, see common/validation.ts). */

export const importParams = object({
  importId: str({ min: 36, max: 36, pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, description: 'The import id the upload answered with' }),
});

export const importQuery = object({
  /** The report's rejected rows after this line (0: from the start); a page's `nextAfterLine` continues it. */
  afterLine: optional(int({ min: 0, max: 10_000_000, description: 'Rejected rows after this line (0: from the start)' })),
  limit: optional(int({ min: 1, max: IMPORT_REPORT_PAGE_MAX, description: `Rejected rows per page (default 100, at most ${IMPORT_REPORT_PAGE_MAX})` })),
});
