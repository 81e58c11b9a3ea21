import { Worker, type Job } from 'bullmq';
import type { RedisClient as Redis } from '../infra/runtime';
import type { JobAttempt } from '../infra/metrics';
import { bullPrefix, DEFAULT_JOB_OPTIONS, QUEUES, type EffectJob, type QueueKey } from './queues';
import type { WorkerRegistry } from './registry';

/**
 * Runs the registered workers, one BullMQ Worker per queue, with every setting BullMQ would
 * otherwise default passed explicitly, and closes them gracefully: `close()` stops taking jobs
 * and waits for those in flight to finish. A worker that dies instead (kill -9, a lost machine)
 * leaves its jobs locked for `lockMs`; another worker then finds them stalled and runs them again,
 * and the job's handler copes with the repetition (see src/application/insurance).
 */

export interface WorkerHostLog {
  log(line: string): void;
  warn(line: string): void;
  error(line: string): void;
}

export interface WorkerHostOptions {
  /** The process's Redis connection (maxRetriesPerRequest null); BullMQ duplicates it for its blocking reads. */
  connection: Redis;
  redisKeyPrefix: string;
  registry: WorkerRegistry;
  /** Overrides every worker's own concurrency (WORKER_CONCURRENCY). */
  concurrency?: number | undefined;
  /** Lock duration; the stalled-job check runs at the same interval. */
  lockMs: number;
  log: WorkerHostLog;
  /** Each finished attempt, with how long it ran, how long it waited and whether it was the last (the metrics). */
  onJobFinished?: ((queue: QueueKey, outcome: 'completed' | 'failed', durationMs: number, attempt: JobAttempt) => void) | undefined;
}

/**
 * How many times a job may be found stalled (its worker died under it) before it is failed into
 * the dead letters: a job that kills its worker every time must stop being retried, and a few
 * crashes of a healthy worker must not fail the jobs it happened to hold.
 */
export const MAX_STALLED_COUNT = 5;

export interface WorkerHost {
  readonly queues: QueueKey[];
  /** Stops taking jobs and waits for the running ones to finish. */
  close(): Promise<void>;
}

export function startWorkers(options: WorkerHostOptions): WorkerHost {
  const workers: Array<Worker<EffectJob>> = [];
  const attempts = DEFAULT_JOB_OPTIONS.attempts ?? 1;
  for (const [key, definition] of Object.entries(options.registry) as Array<[QueueKey, NonNullable<WorkerRegistry[QueueKey]>]>) {
    const worker = new Worker<EffectJob>(QUEUES[key], (job, token) => definition.process(job, token), {
      connection: options.connection,
      prefix: bullPrefix(options.redisKeyPrefix, options.connection),
      concurrency: options.concurrency ?? definition.concurrency,
      lockDuration: options.lockMs,
      stalledInterval: options.lockMs,
      maxStalledCount: MAX_STALLED_COUNT,
      autorun: true,
    });
    const finished = (job: Job<EffectJob>, outcome: 'completed' | 'failed', final: boolean): void => {
      const durationMs = job.processedOn && job.finishedOn ? job.finishedOn - job.processedOn : 0;
      const waitMs = job.processedOn && job.timestamp ? job.processedOn - job.timestamp : null;
      options.onJobFinished?.(key, outcome, durationMs, { waitMs, final });
    };
    worker.on('completed', (job) => finished(job, 'completed', true));
    worker.on('failed', (job, error) => {
      if (!job) return;
      const made = job.attemptsMade;
      const final = made >= (job.opts.attempts ?? attempts) || error.name === 'UnrecoverableError';
      finished(job, 'failed', final);
      const line = `${key} job ${job.id} failed (attempt ${made} of ${job.opts.attempts ?? attempts}): ${error.message}`;
      if (final) options.log.error(`${line}; it is now a dead letter (GET /v1/admin/jobs/failed?queue=${key})`);
      else options.log.warn(`${line}; it will be retried`);
    });
    // Connection trouble: BullMQ reconnects by itself; say so once per error, not per job.
    worker.on('error', (error) => options.log.error(`${key} worker: ${error.message}`));
    workers.push(worker);
  }
  return {
    queues: Object.keys(options.registry) as QueueKey[],
    async close() {
      const definitions = Object.values(options.registry);
      await Promise.all([...workers.map((worker) => worker.close()), ...definitions.map((definition) => definition?.stop?.())]);
    },
  };
}
