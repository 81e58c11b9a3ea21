import type { Queryable } from '../../infra/database';
import { compareHead, compareStreamIds, merkleRoot, type HeadFinding, type StreamHead } from '../../domain/audit';

/**
 * Stream heads read from ul_events, and sealed heads compared with the events now. Reads only:
 * an auditor's read-only connection runs all of it.
 */

/** Rows per query when paging through streams or heads. */
export const HEADS_PAGE = 5_000;

/** A point in the global feed: its position and sort key (the feed is ordered by both). */
export interface FeedPoint {
  position: bigint;
  /** The event's transaction_id (xid8) as decimal text; null before the first event. */
  sortKey: string | null;
}

/**
 * The end of the feed every reader can see: the last event below the oldest transaction still in
 * flight. Events at or before it never change (absent tampering), so heads taken there are stable.
 */
export async function visibleFeedEnd(db: Queryable): Promise<FeedPoint> {
  // The sort key leaves as text under another name: ORDER BY a text column named transaction_id would sort as text.
  const row = await db.oneOrNone<{ global_position: string; sort_key: string }>(
    `SELECT global_position, transaction_id::text AS sort_key FROM ul_events
      WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
  );
  return row ? { position: BigInt(row.global_position), sortKey: row.sort_key } : { position: -1n, sortKey: null };
}

/** The feed point at a global position (null when no event is stored there). */
export async function feedPointAt(db: Queryable, position: bigint): Promise<FeedPoint | null> {
  const row = await db.oneOrNone<{ sort_key: string }>('SELECT transaction_id::text AS sort_key FROM ul_events WHERE global_position = $1', [
    position.toString(),
  ]);
  return row ? { position, sortKey: row.sort_key } : null;
}

/** SQL: the event is at or before the feed point given as ($n, $n+1) = (position, sort key). */
export const atOrBefore = (positionParam: number): string =>
  `(transaction_id, global_position) <= ($${positionParam + 1}::xid8, $${positionParam}::bigint)`;

export interface TakenHeads {
  point: FeedPoint;
  heads: StreamHead[];
  events: number;
  root: string;
}

/** Every stream's head at a feed point, in UTF-8 byte order of the stream ids, with their Merkle root. */
export async function headsAt(db: Queryable, point: FeedPoint): Promise<TakenHeads> {
  const heads: StreamHead[] = [];
  let events = 0;
  if (point.sortKey !== null) {
    let cursor: string | null = null;
    // Keyset pages over the (stream_id, stream_revision) index; bounded by the number of streams.
    for (;;) {
      const rows: Array<{ stream_id: string; stream_revision: string; hash: Buffer; events: string }> = await db.any(
        `SELECT stream_id, max(stream_revision)::text AS stream_revision, count(*)::text AS events,
                (array_agg(hash ORDER BY stream_revision DESC))[1] AS hash
           FROM ul_events
          WHERE ${atOrBefore(1)} AND ($3::text IS NULL OR stream_id > $3)
          GROUP BY stream_id ORDER BY stream_id LIMIT $4`,
        [point.position.toString(), point.sortKey, cursor, HEADS_PAGE],
      );
      for (const row of rows) {
        heads.push({ streamId: row.stream_id, revision: Number(row.stream_revision), hash: row.hash.toString('hex') });
        events += Number(row.events);
      }
      if (rows.length < HEADS_PAGE) break;
      cursor = rows[rows.length - 1]!.stream_id;
    }
  }
  heads.sort((a, b) => compareStreamIds(a.streamId, b.streamId));
  return { point, heads, events, root: merkleRoot(heads) };
}

/**
 * Sealed heads against the events now: every stream the seal names must still be there, at least
 * as long, with the same hash at the sealed revision (which covers every event before it).
 */
export async function compareHeads(db: Queryable, sealed: readonly StreamHead[], maxFindings = 1_000): Promise<{ findings: HeadFinding[]; compared: number }> {
  const findings: HeadFinding[] = [];
  for (let start = 0; start < sealed.length && findings.length < maxFindings; start += HEADS_PAGE) {
    const page = sealed.slice(start, start + HEADS_PAGE);
    const rows = await db.any<{ stream_id: string; last_revision: string | null; hash: Buffer | null }>(
      `SELECT s.stream_id,
              (SELECT max(e.stream_revision) FROM ul_events e WHERE e.stream_id = s.stream_id)::text AS last_revision,
              (SELECT e.hash FROM ul_events e WHERE e.stream_id = s.stream_id AND e.stream_revision = s.revision) AS hash
         FROM unnest($1::text[], $2::bigint[]) AS s(stream_id, revision)`,
      [page.map((head) => head.streamId), page.map((head) => head.revision)],
    );
    const now = new Map(rows.map((row) => [row.stream_id, row]));
    for (const head of page) {
      const row = now.get(head.streamId);
      const finding = compareHead(head, {
        lastRevision: row?.last_revision == null ? null : Number(row.last_revision),
        hashAtSealedRevision: row?.hash ? row.hash.toString('hex') : null,
      });
      if (finding && findings.length < maxFindings) findings.push(finding);
    }
  }
  return { findings, compared: sealed.length };
}
