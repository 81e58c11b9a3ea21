import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { PayoutReconciliation, ReconciliationView } from '../../application/payouts';
import { periodsOf, previousDay } from '../../domain/shared';

/**
 * The daily reconciliation: a BullMQ job scheduler fires every day at 01:30 Asia/Shanghai and a
 * worker reconciles the day before (PayoutReconciliation.reconcile: each mismatch recorded as an
 * event on `reconciliation-<day>`). A run that cannot get the statement is retried with back-off;
 * running a day twice records nothing new. `union-ledger reconcile --date` does the same on demand.
 */

export const RECONCILIATION_QUEUE = 'ul-payouts-reconciliation';
const SCHEDULER_ID = 'daily-payouts-reconciliation';

export interface ReconciliationScheduleOptions {
  reconciliation: Pick<PayoutReconciliation, 'reconcile'>;
  connection: ConnectionOptions;
  prefix?: string;
  /** Cron pattern in Asia/Shanghai (default every day at 01:30:00). */
  pattern?: string;
  onReport?(report: ReconciliationView): void;
  onError?(day: string, error: Error): void;
}

export interface ReconciliationSchedule {
  queue: Queue<{ day?: string }>;
  worker: Worker<{ day?: string }, ReconciliationView>;
  close(): Promise<void>;
}

/** The day a job reconciles: the one it names, or the day before the Shanghai day it was scheduled for. */
export function dayToReconcile(job: Pick<Job<{ day?: string }>, 'data' | 'timestamp' | 'opts'>): string {
  if (job.data.day) return job.data.day;
  const firedAtMs = job.timestamp + (job.opts.delay ?? 0);
  return previousDay(periodsOf(new Date(firedAtMs)).day);
}

export async function startReconciliationSchedule(options: ReconciliationScheduleOptions): Promise<ReconciliationSchedule> {
  const common = { connection: options.connection, ...(options.prefix ? { prefix: options.prefix } : {}) };
  const queue = new Queue<{ day?: string }>(RECONCILIATION_QUEUE, common);
  queue.on('error', () => undefined);
  await queue.upsertJobScheduler(
    SCHEDULER_ID,
    { pattern: options.pattern ?? '0 30 1 * * *', tz: 'Asia/Shanghai' },
    {
      name: 'reconcile',
      data: {},
      opts: { attempts: 6, backoff: { type: 'exponential', delay: 60_000 }, removeOnComplete: { count: 400 }, removeOnFail: { count: 400 } },
    },
  );
  const worker = new Worker<{ day?: string }, ReconciliationView>(
    RECONCILIATION_QUEUE,
    async (job) => {
      const day = dayToReconcile(job);
      try {
        const report = await options.reconciliation.reconcile(day);
        options.onReport?.(report);
        return report;
      } catch (error) {
        options.onError?.(day, error as Error);
        throw error;
      }
    },
    { ...common, concurrency: 1, lockDuration: 120_000, stalledInterval: 60_000, maxStalledCount: 3 },
  );
  worker.on('error', () => undefined);
  await worker.waitUntilReady();
  return {
    queue,
    worker,
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
