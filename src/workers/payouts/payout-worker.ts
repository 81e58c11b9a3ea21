import { UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { PayoutRejectedError, type PayoutEffect, type PayoutResult } from '../../application/payouts';
import { QUEUES, type EffectJob } from '../queues';

/**
 * The payouts worker: jobs of QUEUES.payouts (one per `PayoutRequested`, added by the relay with
 * job id = the event's id and DEFAULT_JOB_OPTIONS) carried out by PayoutEffect, which pays
 * through the payment gateway once and records PayoutSucceeded or PayoutFailed on the merchant's
 * stream. BullMQ delivers at least once; the effect is exactly once:
 *
 * - a job started before (a retry, or a job taken over after its worker stalled or was killed:
 *   `attemptsStarted > 1`) asks the gateway what became of the payout before paying;
 * - an unresolved outcome (no answer, still processing) fails the attempt, and BullMQ retries it
 *   with the queue's exponential back-off; once the attempts are spent the job stays in the failed
 *   set, the dead letters (retention: DEFAULT_JOB_OPTIONS.removeOnFail), and nothing is recorded
 *   or compensated: reconciliation and an admin take over;
 * - a job that can never succeed (it names no payout request, the gateway holds the id with
 *   another body) fails at once, without retries.
 *
 * The chassis registers it: `startPayoutWorker({ effect: ledger.payoutEffect, connection, prefix })`.
 */

export interface PayoutWorkerOptions {
  effect: Pick<PayoutEffect, 'carryOut'>;
  /** An ioredis connection (BullMQ needs maxRetriesPerRequest: null) or its options. */
  connection: ConnectionOptions;
  /** BullMQ's key prefix: several ledgers (or test runs) share a Redis this way. */
  prefix?: string;
  /** Jobs carried out at once by this worker (default 16: each mostly waits on the gateway). */
  concurrency?: number;
  /** How long a job is locked to this worker between renewals (default 30 s); a killed worker's jobs are taken over after it. */
  lockDurationMs?: number;
  /** How often stalled jobs are looked for (default 30 s). */
  stalledIntervalMs?: number;
  /** Times a job may stall before it fails (default 3: a payout is safe to take over, it inquires first). */
  maxStalledCount?: number;
  /** A job is in the failed set for good: its attempts are spent, or it can never succeed. */
  onDeadLetter?(job: Job<EffectJob>, error: Error): void;
  /** An attempt failed and will be retried. */
  onRetry?(job: Job<EffectJob>, error: Error): void;
}

export const PAYOUT_WORKER_DEFAULTS = { concurrency: 16, lockDurationMs: 30_000, stalledIntervalMs: 30_000, maxStalledCount: 3 } as const;

/** The processor of one payout job; exported so the chassis (or a test) may run it as it likes. */
export function payoutProcessor(effect: Pick<PayoutEffect, 'carryOut'>): (job: Job<EffectJob>) => Promise<PayoutResult> {
  return async (job) => {
    try {
      return await effect.carryOut(job.data, job.attemptsStarted > 1);
    } catch (error) {
      if (error instanceof PayoutRejectedError) throw new UnrecoverableError(error.message);
      throw error;
    }
  };
}

export function startPayoutWorker(options: PayoutWorkerOptions): Worker<EffectJob, PayoutResult> {
  const worker = new Worker<EffectJob, PayoutResult>(QUEUES.payouts, payoutProcessor(options.effect), {
    connection: options.connection,
    ...(options.prefix ? { prefix: options.prefix } : {}),
    concurrency: options.concurrency ?? PAYOUT_WORKER_DEFAULTS.concurrency,
    lockDuration: options.lockDurationMs ?? PAYOUT_WORKER_DEFAULTS.lockDurationMs,
    stalledInterval: options.stalledIntervalMs ?? PAYOUT_WORKER_DEFAULTS.stalledIntervalMs,
    maxStalledCount: options.maxStalledCount ?? PAYOUT_WORKER_DEFAULTS.maxStalledCount,
  });
  worker.on('failed', (job, error) => {
    if (!job) return;
    const spent = job.attemptsMade >= (job.opts.attempts ?? 1) || error instanceof UnrecoverableError || error.name === 'UnrecoverableError';
    if (spent) options.onDeadLetter?.(job, error);
    else options.onRetry?.(job, error);
  });
  // Connection errors are retried by ioredis; without a listener Node would treat them as fatal.
  worker.on('error', () => undefined);
  return worker;
}
