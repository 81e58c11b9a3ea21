import type { ImportReport } from '../../application/import-report';
import type { Principal } from '../../application/orgs';
import type { UnionLedger } from '../../composition-root';
import type { CsvLimits } from '../../infra/csv';
import { AppError } from './errors';

/**
 * What the roster upload routes share (organisations and members): limits, the body check, the
 * subtree authorisation and the response summary.
 */

/** Rejected rows listed in a response; the totals count them all. */
const MAX_LISTED_ROWS = 1000;
/** Rows per upload; the operators' CLI imports larger files with a progress bar and a report file. */
const MAX_UPLOAD_ROWS = 200_000;

export const UPLOAD_LIMITS: CsvLimits = { maxRecordBytes: 64 * 1024, maxRows: MAX_UPLOAD_ROWS };

export function csvBody(body: unknown): Buffer {
  if (!Buffer.isBuffer(body)) throw new AppError('HTTP.UNSUPPORTED_MEDIA_TYPE', 'send the roster as text/csv', 415);
  return body;
}

export function importSummary(report: ImportReport) {
  const rejected = report.rows.filter((row) => row.status === 'rejected');
  return {
    kind: report.kind,
    totals: report.totals,
    fatal: report.fatal,
    rejectedRows: rejected.slice(0, MAX_LISTED_ROWS),
    rejectedRowsOmitted: Math.max(0, rejected.length - MAX_LISTED_ROWS),
    elapsedMs: report.elapsedMs,
  };
}

/**
 * Whether an admin may act at a place of the tree: an organisation row's parent (null: a new
 * root, for root admins only) or a member row's union. OrgAccess reads the organisation streams,
 * so organisations created earlier in the same upload count at once.
 */
export function subtreeAuthorizer(ledger: UnionLedger, user: Principal): (orgId: string | null) => Promise<boolean> {
  return async (orgId) => (orgId === null ? ledger.orgAccess.isRootAdmin(user) : ledger.orgAccess.isWithin(orgId, user.org));
}
