import type { Database } from '../../src/infra/database';
import { waitFor, type WaitForOptions } from './wait-for';

/**
 * The PostgreSQL event store's global feed (readAll, subscriptions, projections, catch-ups) only
 * shows events below pg_snapshot_xmin, which is cluster-wide: a write transaction open in ANY
 * database of the cluster (another test file's, another program's) hides every newer event until
 * it ends. So a test never expects an event in the feed at once; it waits for it, with a deadline.
 *
 * The feed is ordered by (transaction_id, global_position), not by global_position alone: a
 * checkpoint has passed an event when it is at or after it in that order.
 */

/** The position of the feed's last event now (in feed order); null when the log is empty. */
export async function lastFeedPosition(db: Database): Promise<bigint | null> {
  const row = await db.oneOrNone<{ position: string }>(
    'SELECT global_position::text AS position FROM ul_events ORDER BY transaction_id DESC, global_position DESC LIMIT 1',
  );
  return row ? BigInt(row.position) : null;
}

/**
 * True when a reader checkpointed at `checkpoint` has read the event at `target`. A checkpoint
 * that is missing, at START or names no event has read nothing.
 */
export async function checkpointReached(db: Database, checkpoint: bigint | string | null | undefined, target: bigint): Promise<boolean> {
  if (checkpoint === null || checkpoint === undefined || BigInt(checkpoint) < 0n) return false;
  const row = await db.oneOrNone<{ reached: boolean }>(
    `SELECT (c.transaction_id, c.global_position) >= (t.transaction_id, t.global_position) AS reached
       FROM ul_events c, ul_events t WHERE c.global_position = $1 AND t.global_position = $2`,
    [checkpoint.toString(), target.toString()],
  );
  return row?.reached === true;
}

/** A projection's checkpoint as stored in ul_checkpoints; null before its first batch. */
export async function storedCheckpoint(db: Database, name: string): Promise<string | null> {
  const row = await db.oneOrNone<{ position: string }>('SELECT position::text AS position FROM ul_checkpoints WHERE name = $1', [name]);
  return row?.position ?? null;
}

/** Waits until projection `name` (checkpoint in ul_checkpoints) has applied the event at `target`. */
export async function waitForCheckpoint(db: Database, name: string, target: bigint, options: Partial<WaitForOptions> = {}): Promise<void> {
  let checkpoint: string | null = null;
  await waitFor(
    async () => {
      checkpoint = await storedCheckpoint(db, name);
      return checkpointReached(db, checkpoint, target);
    },
    {
      what: `projection ${name} to checkpoint position ${target}`,
      ...options,
      seen: () => `checkpoint ${checkpoint ?? 'none'}${options.seen ? `, ${options.seen()}` : ''}`,
    },
  );
}

/**
 * Waits until every event appended so far shows in the feed, so that a catch-up started now reads
 * to the end of the log. Returns the position of the last event (null when there is none).
 */
export async function waitForFeedEnd(db: Database, options: Partial<WaitForOptions> = {}): Promise<bigint | null> {
  const last = await lastFeedPosition(db);
  if (last === null) return null;
  await waitFor(
    async () => {
      const row = await db.one<{ visible: boolean }>(
        'SELECT transaction_id < pg_snapshot_xmin(pg_current_snapshot()) AS visible FROM ul_events WHERE global_position = $1',
        [last.toString()],
      );
      return row.visible;
    },
    { what: `event ${last} to show in the feed (a transaction open anywhere in the cluster hides it)`, ...options },
  );
  return last;
}
