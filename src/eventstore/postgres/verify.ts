import type { Queryable } from '../../infra/database';
import { chainHash, contentDigest, GENESIS_HASH } from '../canonical';

/**
 * Recomputes every stream's hash chain from the stored columns alone (docs/EVENT-HASH-CHAIN.md),
 * trusting neither the stored digests nor the stored hashes. Each link is checked against the
 * previous event's stored hash, so a single altered event is reported by itself and an event
 * whose hash was forged to match breaks the link after it.
 */

export interface BrokenLink {
  streamId: string;
  revision: bigint;
  globalPosition: bigint;
  /**
   * - content altered: the content no longer gives the stored digest, over which the stored hash was made
   * - digest altered: the content gives the digest the stored hash was made over, but the stored digest is another
   * - hash mismatch: the link does not hold (an edited recorded_at, a hash recomputed after an edit upstream)
   * - revision gap: an event is missing before this one
   */
  reason: 'content altered' | 'digest altered' | 'hash mismatch' | 'revision gap';
  storedHash: string;
  computedHash: string;
}

export interface VerifyReport {
  ok: boolean;
  eventsChecked: number;
  streamsChecked: number;
  /** The first broken link of each broken stream, in stream order, at most `maxBroken`. */
  broken: BrokenLink[];
}

interface VerifyRow {
  global_position: string;
  stream_id: string;
  stream_revision: string;
  event_id: string;
  event_type: string;
  schema_version: number;
  data: unknown;
  metadata: unknown;
  recorded_ms: string;
  content_digest: Buffer;
  hash: Buffer;
}

export async function verifyHashChains(
  db: Queryable,
  options: { batchSize?: number; maxBroken?: number; onProgress?(checked: number, total: number): void } = {},
): Promise<VerifyReport> {
  const batchSize = options.batchSize ?? 5000;
  const maxBroken = options.maxBroken ?? 100;
  const total = Number((await db.one<{ count: string }>('SELECT count(*) FROM ul_events')).count);
  const broken: BrokenLink[] = [];
  let eventsChecked = 0;
  let streamsChecked = 0;
  let cursor: { streamId: string; revision: string } | undefined;
  let currentStream: string | undefined;
  let expectedRevision = 0n;
  let previousHash: Buffer = GENESIS_HASH;
  let streamBroken = false;

  for (let batch = 0; batch <= Math.ceil(total / batchSize) + 1; batch += 1) {
    const rows: VerifyRow[] = await db.any(
      `SELECT global_position, stream_id, stream_revision, event_id, event_type, schema_version, data, metadata,
              (extract(epoch FROM recorded_at) * 1000)::bigint AS recorded_ms, content_digest, hash
         FROM ul_events
        WHERE ($1::text IS NULL OR (stream_id, stream_revision) > ($1::text, $2::bigint))
        ORDER BY stream_id, stream_revision
        LIMIT $3`,
      [cursor?.streamId ?? null, cursor?.revision ?? null, batchSize],
    );
    for (const row of rows) {
      if (row.stream_id !== currentStream) {
        currentStream = row.stream_id;
        streamsChecked += 1;
        expectedRevision = 0n;
        previousHash = GENESIS_HASH;
        streamBroken = false;
      }
      const revision = BigInt(row.stream_revision);
      const digest = contentDigest({
        eventId: row.event_id,
        streamId: row.stream_id,
        type: row.event_type,
        schemaVersion: row.schema_version,
        data: row.data,
        metadata: row.metadata,
      });
      const computed = chainHash(previousHash, revision, BigInt(row.recorded_ms), digest);
      const reason: BrokenLink['reason'] | undefined =
        revision !== expectedRevision
          ? 'revision gap'
          : !digest.equals(row.content_digest)
            ? computed.equals(row.hash)
              ? 'digest altered'
              : 'content altered'
            : !computed.equals(row.hash)
              ? 'hash mismatch'
              : undefined;
      if (reason && !streamBroken && broken.length < maxBroken) {
        broken.push({
          streamId: row.stream_id,
          revision,
          globalPosition: BigInt(row.global_position),
          reason,
          storedHash: row.hash.toString('hex'),
          computedHash: computed.toString('hex'),
        });
      }
      if (reason) streamBroken = true;
      previousHash = row.hash;
      expectedRevision = revision + 1n;
      eventsChecked += 1;
    }
    options.onProgress?.(eventsChecked, total);
    const last = rows[rows.length - 1];
    if (!last || rows.length < batchSize) break;
    cursor = { streamId: last.stream_id, revision: last.stream_revision };
  }
  return { ok: broken.length === 0, eventsChecked, streamsChecked, broken };
}
