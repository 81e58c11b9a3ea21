import type { Queryable } from '../../infra/database';

/** An import's progress as the read model has it (it follows the log within the projection's lag). */
export interface ImportProgress {
  importId: string;
  kind: string;
  uploaderId: string;
  orgScope: string;
  state: 'queued' | 'running' | 'completed';
  rowsTotal: number;
  rowsDone: number;
  applied: number;
  unchanged: number;
  rejected: number;
  sizeBytes: number;
  fileDigest: string;
  requestedAt: string;
  updatedAt: string;
  completedAt: string | null;
}

export interface ImportRejectionRow {
  line: number;
  code: string;
  message: string;
}

/** The most rejected rows one page holds. */
export const IMPORT_REPORT_PAGE_MAX = 1_000;

export async function importProgress(db: Queryable, importId: string): Promise<ImportProgress | null> {
  const row = await db.oneOrNone<{
    import_id: string;
    kind: string;
    uploader_id: string;
    org_scope: string;
    state: ImportProgress['state'];
    rows_total: number;
    rows_done: number;
    applied: number;
    unchanged: number;
    rejected: number;
    size_bytes: string;
    file_digest: string;
    requested_at: Date;
    updated_at: Date;
    completed_at: Date | null;
  }>('SELECT * FROM ul_imports WHERE import_id = $1', [importId]);
  if (!row) return null;
  return {
    importId: row.import_id,
    kind: row.kind,
    uploaderId: row.uploader_id,
    orgScope: row.org_scope,
    state: row.state,
    rowsTotal: row.rows_total,
    rowsDone: row.rows_done,
    applied: row.applied,
    unchanged: row.unchanged,
    rejected: row.rejected,
    sizeBytes: Number(row.size_bytes),
    fileDigest: row.file_digest,
    requestedAt: row.requested_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    completedAt: row.completed_at?.toISOString() ?? null,
  };
}

/** A page of an import's rejected rows in line order, after line `afterLine` (0 for the first page). */
export async function importRejections(db: Queryable, importId: string, afterLine: number, limit: number): Promise<ImportRejectionRow[]> {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > IMPORT_REPORT_PAGE_MAX) throw new Error(`invariant violated: report page of ${limit}`);
  return db.any<ImportRejectionRow>('SELECT line, code, message FROM ul_import_rejections WHERE import_id = $1 AND line > $2 ORDER BY line LIMIT $3', [importId, afterLine, limit]);
}
