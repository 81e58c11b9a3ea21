import type { Database } from '../infra/database';
import { READ_LIMIT_MAX, type EventStore, type ReadAllResult } from '../eventstore/event-store';
import { inPartition, partitionName, partitions, SINGLE, type Partition } from './partition';
import { CheckpointMovedError, loadCheckpoint, saveCheckpoint, type Projection } from './runner';

export const CATCH_UP_BATCH = 1000;
export const MAX_BATCHES = 100_000_000;

/**
 * Waits (bounded) until every event committed before the call is visible to feed readers: a
 * feed reader stops below the oldest running transaction of the whole cluster, so a catch-up
 * started while any transaction is open could otherwise stop short of events already committed.
 */
export async function waitForVisibleFeed(db: Database, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let poll = 0; poll < 1_000_000; poll += 1) {
    const row = await db.one<{ visible: boolean | null }>(
      'SELECT max(transaction_id) < pg_snapshot_xmin(pg_current_snapshot()) AS visible FROM ul_events',
    );
    if (row.visible !== false) return;
    if (Date.now() > deadline) throw new Error(`events committed ${timeoutMs} ms ago are still hidden by an open transaction`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Brings a PostgreSQL projection up to the end of the log now, batch by batch, each batch in a
 * transaction with its checkpoint (the same compare-and-set as the live runner, so the two can
 * run at once without applying anything twice), reading ahead as catchUpPages says. Returns the
 * number of events applied.
 */
export async function catchUpProjection(
  store: EventStore,
  db: Database,
  projection: Projection,
  onProgress?: (applied: number) => void,
  partition: Partition = SINGLE,
): Promise<number> {
  await waitForVisibleFeed(db);
  const name = partitionName(projection.name, partition);
  const limit = Math.min(projection.catchUpBatchSize ?? CATCH_UP_BATCH, READ_LIMIT_MAX);
  const read = (after: bigint): Promise<ReadAllResult> =>
    store.readAll({
      after,
      limit,
      ...(projection.streamPrefixes ? { streamPrefixes: projection.streamPrefixes } : {}),
      ...(projection.eventTypes ? { eventTypes: projection.eventTypes } : {}),
    });
  return catchUpPages(read, () => loadCheckpoint(db, name), onProgress, async (page, from) => {
    // A partition applies its own streams' events and moves its checkpoint over the others'.
    const own = partition.count === 1 ? page.events : page.events.filter((event) => inPartition(event.streamId, partition));
    await db.tx(`catch-up:${name}`, async (tx) => {
      if (own.length > 0) await projection.apply(tx, own);
      await saveCheckpoint(tx, name, from, page.nextAfter);
    });
    return own.length;
  });
}

/**
 * Applies pages of the feed from a checkpoint to the end of the log, reading the next page while
 * the current one is applied (the read does not depend on the apply, only on where the page
 * ends), so a rebuild costs about max(read, write) per page instead of their sum. The checkpoint
 * is read back every turn: a live runner of the same projection may have moved it meanwhile, and
 * then the prefetched page (read from where this loop left off) is stale and dropped. When a
 * batch fails, the error propagates and the prefetch is dropped, except a CheckpointMovedError
 * (another runner committed that batch first), after which the loop carries on from the new
 * checkpoint. `apply` returns the events it applied (a partition passes over other partitions' events).
 */
export async function catchUpPages(
  read: (after: bigint) => Promise<ReadAllResult>,
  loadCheckpoint: () => Promise<bigint>,
  onProgress: ((applied: number) => void) | undefined,
  apply: (page: ReadAllResult, from: bigint) => Promise<number>,
): Promise<number> {
  let next: { after: bigint; page: Promise<ReadAllResult> } | undefined;
  let applied = 0;
  try {
    for (let batch = 0; batch < MAX_BATCHES; batch += 1) {
      const from = await loadCheckpoint();
      const page = await (next?.after === from ? next.page : read(from));
      await next?.page.catch(() => undefined);
      next = undefined;
      if (page.nextAfter === from) return applied;
      if (!page.isEnd) {
        next = { after: page.nextAfter, page: read(page.nextAfter) };
        next.page.catch(() => undefined); // Observed by the next turn, or dropped with a failed batch.
      }
      try {
        applied += await apply(page, from);
      } catch (error) {
        // The live runner (the service's, while a CLI command such as `demo` catches up beside it)
        // committed this batch first: ours rolled back, so read the checkpoint again and go on
        // from there. Each lost race means the other runner moved forward, so this ends.
        if (!(error instanceof CheckpointMovedError)) throw error;
        await next?.page.catch(() => undefined);
        next = undefined;
        continue;
      }
      onProgress?.(applied);
      if (page.isEnd) return applied;
    }
    return applied;
  } finally {
    // A prefetch still running when the loop stops (a failed batch) must finish before the
    // caller may close the pool under it.
    await next?.page.catch(() => undefined);
  }
}

/**
 * Empties a projection's tables and replays it from event zero, its partitions in parallel (each
 * its own checkpoint and transactions); the checkpoints of any earlier layout go with the rows.
 */
export async function rebuildProjection(
  store: EventStore,
  db: Database,
  projection: Projection,
  onProgress?: (applied: number) => void,
  partitionCount = 1,
): Promise<number> {
  const layout = partitions(projection.partitionable ? partitionCount : 1);
  await db.tx(`rebuild:${projection.name}`, async (tx) => {
    if (projection.tables.length > 0) await tx.none(`TRUNCATE ${projection.tables.join(', ')}`);
    await tx.none('DELETE FROM ul_checkpoints WHERE name = $1 OR name LIKE $2', [projection.name, `${projection.name}#%`]);
  });
  const counts = layout.map(() => 0);
  const report = (): void => onProgress?.(counts.reduce((sum, count) => sum + count, 0));
  const applied = await Promise.all(
    layout.map((partition) =>
      catchUpProjection(
        store,
        db,
        projection,
        (count) => {
          counts[partition.index] = count;
          report();
        },
        partition,
      ),
    ),
  );
  return applied.reduce((sum, count) => sum + count, 0);
}

/** Tables as ordered text (every column, ordered by the whole row), to show that a rebuild reproduces them exactly. */
export async function dumpTables(db: Database, tables: readonly string[]): Promise<Record<string, string>> {
  const dump: Record<string, string> = {};
  for (const table of tables) {
    const rows = await db.any<{ line: string }>(`SELECT t::text AS line FROM ${table} t ORDER BY t::text COLLATE "C"`);
    dump[table] = rows.map((row) => row.line).join('\n');
  }
  return dump;
}
