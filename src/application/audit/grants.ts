import type { Queryable } from '../../infra/database';
import { RULES_STREAM, type RuleSet, type RuleSetBody } from '../../domain/earning';
import type { PointsGrantedData } from '../../domain/members';
import { recomputeGrants, type GrantFinding } from '../../domain/audit';

/**
 * `union-ledger audit grants`: every PointsGranted recomputed from its pinned rule version and
 * recorded inputs (src/domain/audit/grants.ts), straight from ul_events (no upcaster, no
 * projection). Reads only; one member stream's grants in memory at a time.
 */

/** Member streams read per query. */
const STREAMS_PAGE = 500;

export interface GrantsReport {
  grants: number;
  findings: GrantFinding[];
}

export async function recomputeAllGrants(db: Queryable, maxFindings = 1_000): Promise<GrantsReport> {
  const published = await db.any<{ stream_revision: string; data: RuleSetBody }>(
    "SELECT stream_revision, data FROM ul_events WHERE stream_id = $1 AND event_type = 'EarningRulesPublished' ORDER BY stream_revision",
    [RULES_STREAM],
  );
  // Version n is the n-th publication (src/domain/earning/rule-book.ts).
  const rules = new Map<number, RuleSet>(published.map((row, index) => [index + 1, { version: index + 1, ...row.data }]));
  const findings: GrantFinding[] = [];
  let grants = 0;
  let cursor: string | null = null;
  for (;;) {
    const streams: string[] = await db.map(
      `SELECT DISTINCT stream_id FROM ul_events WHERE event_type = 'PointsGranted' AND stream_id LIKE 'member-%'
          AND ($1::text IS NULL OR stream_id > $1) ORDER BY stream_id LIMIT $2`,
      [cursor, STREAMS_PAGE],
      (row: { stream_id: string }) => row.stream_id,
    );
    for (const streamId of streams) {
      const rows = await db.any<{ stream_revision: string; data: PointsGrantedData }>(
        "SELECT stream_revision, data FROM ul_events WHERE stream_id = $1 AND event_type = 'PointsGranted' ORDER BY stream_revision",
        [streamId],
      );
      grants += rows.length;
      for (const finding of recomputeGrants(rows.map((row) => ({ streamId, revision: Number(row.stream_revision), data: row.data })), rules)) {
        if (findings.length < maxFindings) findings.push(finding);
      }
    }
    if (streams.length < STREAMS_PAGE) break;
    cursor = streams[streams.length - 1]!;
  }
  return { grants, findings };
}
