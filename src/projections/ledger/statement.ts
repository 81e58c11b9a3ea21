import type { Queryable } from '../../infra/database';

/** One line of a member's points statement, as the API shows it. */
export interface StatementLine {
  revision: string;
  occurredAt: string;
  reason: string;
  ruleId: string | null;
  ruleVersion: number | null;
  reference: string | null;
  deltaAvailablePoints: number;
  deltaHeldPoints: number;
  availableAfterPoints: number;
  heldAfterPoints: number;
}

export const STATEMENT_PAGE_MAX = 100;

/**
 * A page of the member's statement, newest first. `beforeRevision` is the cursor: the revision of
 * the last line of the previous page. `nextCursor` is null on the last page.
 */
export async function statementPage(
  db: Queryable,
  memberId: string,
  beforeRevision: bigint | null,
  limit: number,
): Promise<{ lines: StatementLine[]; nextCursor: string | null }> {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > STATEMENT_PAGE_MAX) throw new Error(`invariant violated: statement page of ${limit} lines`);
  const rows = await db.any<{
    revision: string;
    occurred_at: Date;
    kind: string;
    rule_id: string | null;
    rule_version: number | null;
    reference: string | null;
    delta_available: string;
    delta_held: string;
    available_after: string;
    held_after: string;
  }>(
    `SELECT revision, occurred_at, kind, rule_id, rule_version, reference, delta_available, delta_held, available_after, held_after
       FROM ul_statement WHERE member_id = $1 AND ($2::bigint IS NULL OR revision < $2::bigint)
      ORDER BY revision DESC LIMIT $3`,
    [memberId, beforeRevision === null ? null : beforeRevision.toString(), limit + 1],
  );
  const page = rows.slice(0, limit);
  return {
    lines: page.map((row) => ({
      revision: row.revision,
      occurredAt: row.occurred_at.toISOString(),
      reason: row.kind,
      ruleId: row.rule_id,
      ruleVersion: row.rule_version,
      reference: row.reference,
      deltaAvailablePoints: Number(row.delta_available),
      deltaHeldPoints: Number(row.delta_held),
      availableAfterPoints: Number(row.available_after),
      heldAfterPoints: Number(row.held_after),
    })),
    nextCursor: rows.length > limit ? page[page.length - 1]!.revision : null,
  };
}
