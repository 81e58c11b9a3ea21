import type { Database, DbTask } from '../infra/database';
import type { Lease } from '../infra/leadership';
import { START, type EventStore, type RecordedEvent, type SubscriptionHandle } from '../eventstore/event-store';
import { inPartition, layoutOf, partitionName, SINGLE, type Partition } from './partition';

/**
 * Projections store their checkpoint in the same transaction as their rows, so a crash between
 * the two is impossible: either both commit or neither does, and a restarted projection resumes
 * exactly after the last committed batch.
 */

export class CheckpointMovedError extends Error {
  readonly code = 'PROJECTION.CHECKPOINT_MOVED';
  /** Tells the subscription loop to reload the checkpoint at once, with no error reported (SubscribeOptions.handle). */
  readonly checkpointMoved = true;
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

/** What saveCheckpoint needs of a leader's lease: its fence as an SQL condition, and the check that tells a lost lease. */
export type CheckpointFence = Pick<Lease, 'fenceCondition' | 'fence'>;

/**
 * Moves a checkpoint from `from` to `to` inside the caller's transaction. The compare-and-set
 * makes a second runner of the same projection (another process) fail its batch instead of
 * applying the same events twice. With a fence, the same statement also checks that this process
 * still leads the projection (one round trip for both, at the end of the batch's transaction).
 */
export async function saveCheckpoint(tx: DbTask, name: string, from: bigint, to: bigint, fence?: CheckpointFence): Promise<void> {
  const held = fence ? fence.fenceCondition() : 'true';
  const result =
    from === START
      ? await tx.result(
          `INSERT INTO ul_checkpoints (name, position) SELECT $1, $2 WHERE ${held}
           ON CONFLICT (name) DO NOTHING`,
          [name, to.toString()],
        )
      : await tx.result(`UPDATE ul_checkpoints SET position = $2, updated_at = now() WHERE name = $1 AND position = $3 AND ${held}`, [
          name,
          to.toString(),
          from.toString(),
        ]);
  if (result.rowCount !== 1) {
    await fence?.fence(tx); // Throws when the leadership is what failed the statement.
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
  /**
   * True when every row this projection writes is keyed by the stream its events come from (or
   * only ever changed by events of one stream), so partitions by stream (PROJECTION_PARTITIONS)
   * give the same tables as one runner. False or unset: it runs as one partition whatever the
   * setting (it aggregates across streams, or reads rows other streams' events wrote).
   */
  partitionable?: boolean;
}

/** The partition count a projection runs with under a PROJECTION_PARTITIONS setting. */
export function partitionCountOf(projection: Pick<Projection, 'partitionable'>, configured: number): number {
  return projection.partitionable ? configured : 1;
}

/** The partition counts of the checkpoints stored for a projection (empty before its first batch). */
export async function storedLayouts(db: Database | DbTask, name: string): Promise<number[]> {
  const rows = await db.any<{ name: string }>(`SELECT name FROM ul_checkpoints WHERE name = $1 OR name LIKE $2`, [name, `${name}#%`]);
  return [...new Set(rows.map((row) => layoutOf(name, row.name)).filter((count): count is number => count !== undefined))].sort((a, b) => a - b);
}

/**
 * Refuses to run a projection under a partition count other than the one its checkpoints were
 * stored with: the new partitions would start from nothing over rows the old ones wrote.
 */
export async function checkLayout(db: Database | DbTask, name: string, count: number): Promise<void> {
  const stored = await storedLayouts(db, name);
  const other = stored.filter((layout) => layout !== count);
  if (other.length > 0) {
    throw new Error(
      `projection ${name} has checkpoints for ${other.join(' and ')} partition(s), and this process runs it as ${count}: ` +
        'stop the services and run `union-ledger rebuild` with the new PROJECTION_PARTITIONS',
    );
  }
}

export function startProjection(
  store: EventStore,
  db: Database,
  projection: Projection,
  options: {
    batchSize?: number;
    pollIntervalMs?: number;
    onError?(error: unknown): void;
    /** Default: the one partition of all streams. */
    partition?: Partition;
    /** Checked in every batch's transaction, with the checkpoint's compare-and-set: fails the batch when this process is no longer the leader (a Lease). */
    fence?: CheckpointFence;
  } = {},
): SubscriptionHandle {
  let checkpoint = START;
  const partition = options.partition ?? SINGLE;
  const name = partitionName(projection.name, partition);
  return store.subscribe({
    name,
    ...(projection.streamPrefixes ? { streamPrefixes: projection.streamPrefixes } : {}),
    ...(projection.eventTypes ? { eventTypes: projection.eventTypes } : {}),
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    ...(options.pollIntervalMs ? { pollIntervalMs: options.pollIntervalMs } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
    loadCheckpoint: async () => {
      checkpoint = await loadCheckpoint(db, name);
      return checkpoint;
    },
    handle: async (events, nextAfter) => {
      // Another partition's events are passed over, and the checkpoint still moves past them: not
      // in a transaction of its own per batch, but later (false: see SubscribeOptions.handle).
      const own = partition.count === 1 ? events : events.filter((event) => inPartition(event.streamId, partition));
      if (events.length > 0 && own.length === 0) return false;
      await db.tx(`projection:${name}`, async (tx) => {
        if (own.length > 0) await projection.apply(tx, own);
        await saveCheckpoint(tx, name, checkpoint, nextAfter, options.fence);
      });
      checkpoint = nextAfter;
    },
  });
}
