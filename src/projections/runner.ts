import type { Database, DbTask } from '../infra/database';
import { START, type EventStore, type RecordedEvent, type SubscriptionHandle } from '../eventstore/event-store';

/**
 * Projections store their checkpoint in the same transaction as their rows, so a crash between
 * the two is impossible: either both commit or neither does, and a restarted projection resumes
 * exactly after the last committed batch.
 */

export class CheckpointMovedError extends Error {
  readonly code = 'PROJECTION.CHECKPOINT_MOVED';
}

export async function loadCheckpoint(db: Database | DbTask, name: string): Promise<bigint> {
  const row = await db.oneOrNone<{ position: string }>('SELECT position FROM ul_checkpoints WHERE name = $1', [name]);
  return row ? BigInt(row.position) : START;
}

/** Every stored checkpoint by projection name (positions as decimal text). */
export async function listCheckpoints(db: Database | DbTask): Promise<Record<string, string>> {
  const rows = await db.any<{ name: string; position: string }>('SELECT name, position FROM ul_checkpoints ORDER BY name');
  return Object.fromEntries(rows.map((row) => [row.name, row.position]));
}

/**
 * Moves a checkpoint from `from` to `to` inside the caller's transaction. The compare-and-set
 * makes a second runner of the same projection (another process) fail its batch instead of
 * applying the same events twice.
 */
export async function saveCheckpoint(tx: DbTask, name: string, from: bigint, to: bigint): Promise<void> {
  const result =
    from === START
      ? await tx.result(
          `INSERT INTO ul_checkpoints (name, position) VALUES ($1, $2)
           ON CONFLICT (name) DO NOTHING`,
          [name, to.toString()],
        )
      : await tx.result('UPDATE ul_checkpoints SET position = $2, updated_at = now() WHERE name = $1 AND position = $3', [
          name,
          to.toString(),
          from.toString(),
        ]);
  if (result.rowCount !== 1) {
    throw new CheckpointMovedError(`checkpoint ${name} is no longer at ${from}: another runner moved it`);
  }
}

/**
 * A PostgreSQL read model: one context's tables, kept by one checkpointed subscription. Every row
 * comes from event data alone (no now(), no sequence), so a rebuild from event zero gives
 * identical tables.
 */
export interface Projection {
  /** Unique name; also the checkpoint's key. */
  name: string;
  /** The tables this projection alone writes: emptied by a rebuild. */
  tables: readonly string[];
  streamPrefixes?: string[];
  eventTypes?: string[];
  /**
   * Applies a batch inside the transaction that also moves the checkpoint. A batch may hold many
   * events of one stream; a projection folds them in memory and writes each row once per batch.
   */
  apply(tx: DbTask, events: RecordedEvent[]): Promise<void>;
  /**
   * Events per catch-up and rebuild page (at most READ_LIMIT_MAX), for a projection whose apply
   * writes a batch in a few statements whatever its size; CATCH_UP_BATCH otherwise. The live
   * runner keeps its own small batches, so catch-up after a start stays low-latency.
   */
  catchUpBatchSize?: number;
}

export function startProjection(
  store: EventStore,
  db: Database,
  projection: Projection,
  options: { batchSize?: number; pollIntervalMs?: number; onError?(error: unknown): void } = {},
): SubscriptionHandle {
  let checkpoint = START;
  return store.subscribe({
    name: projection.name,
    ...(projection.streamPrefixes ? { streamPrefixes: projection.streamPrefixes } : {}),
    ...(projection.eventTypes ? { eventTypes: projection.eventTypes } : {}),
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    ...(options.pollIntervalMs ? { pollIntervalMs: options.pollIntervalMs } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
    loadCheckpoint: async () => {
      checkpoint = await loadCheckpoint(db, projection.name);
      return checkpoint;
    },
    handle: async (events, nextAfter) => {
      await db.tx(`projection:${projection.name}`, async (tx) => {
        if (events.length > 0) await projection.apply(tx, events);
        await saveCheckpoint(tx, projection.name, checkpoint, nextAfter);
      });
      checkpoint = nextAfter;
    },
  });
}
