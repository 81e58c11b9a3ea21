import { outstandingEffects } from '../../application/jobs';
import type { Database } from '../../infra/database';
import type { QueueSet } from '../queue-set';
import { EFFECT_OUTCOMES, type QueueKey } from '../queues';
import { jobFor } from './relay';

/**
 * "Redis lost its data": re-adds a job for every request the relay queued that has no recorded
 * outcome and that Redis no longer holds (a flush, a failover to a replica that was behind, an
 * eviction). Requests whose job Redis still holds, waiting, running, delayed or failed, are left
 * alone, so a dead letter stays a dead letter until an admin retries it. Run at every worker start
 * and by `union-ledger relay replay`.
 *
 * Re-adding is always safe: a worker finds the outcome in the member's stream when there is one
 * and does nothing, and the outside service is called with the effect's id as its idempotency key.
 * Reads the effect log a page at a time, in log order, for at most `maxPages` pages.
 */

export interface ReplayReport {
  /** Requests without a recorded outcome that were looked at. */
  outstanding: number;
  /** Jobs Redis no longer held, added again. */
  readded: number;
  /** False when maxPages ran out first; `lastPosition` is where to continue (--after). */
  complete: boolean;
  lastPosition: bigint;
}

export interface ReplayOptions {
  db: Database;
  queues: QueueSet;
  /** Start after this global position (default: the beginning). */
  afterPosition?: bigint;
  pageSize?: number;
  maxPages?: number;
  onProgress?(report: ReplayReport): void;
}

const REPLAYABLE: readonly QueueKey[] = Object.keys(EFFECT_OUTCOMES) as QueueKey[];

export async function replayOutstanding(options: ReplayOptions): Promise<ReplayReport> {
  const pageSize = options.pageSize ?? 500;
  const maxPages = options.maxPages ?? 10_000;
  const report: ReplayReport = { outstanding: 0, readded: 0, complete: false, lastPosition: options.afterPosition ?? -1n };
  for (let page = 0; page < maxPages; page += 1) {
    const rows = await outstandingEffects(options.db, REPLAYABLE, report.lastPosition, pageSize);
    for (const queueKey of REPLAYABLE) {
      const mine = rows.filter((row) => row.queue === queueKey);
      if (mine.length === 0) continue;
      const queue = options.queues.get(queueKey);
      // ioredis pipelines these; 'unknown' is a job Redis does not hold.
      const states = await Promise.all(mine.map((row) => queue.getJobState(row.eventId)));
      const missing = mine.filter((_row, index) => states[index] === 'unknown');
      if (missing.length > 0) {
        await queue.addBulk(missing.map((row) => jobFor({ eventId: row.eventId, streamId: row.streamId, revision: row.revision, type: row.type })));
      }
      report.readded += missing.length;
    }
    report.outstanding += rows.length;
    if (rows.length > 0) report.lastPosition = rows[rows.length - 1]!.globalPosition;
    options.onProgress?.(report);
    if (rows.length < pageSize) {
      report.complete = true;
      break;
    }
  }
  return report;
}
