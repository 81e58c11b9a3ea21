import { Queue } from 'bullmq';
import type { RedisClient as Redis } from '../infra/runtime';
import { QUEUE_STATES, type QueueState } from '../infra/metrics';
import { bullPrefix, DEFAULT_JOB_OPTIONS, QUEUES, type EffectJob, type QueueKey } from './queues';

/**
 * One BullMQ Queue per queue key, over the process's Redis connection (Runtime.redis, which waits
 * through an outage rather than dropping a command), each with DEFAULT_JOB_OPTIONS as its
 * defaults. The relay still passes the options with every add: a job's limits should not depend
 * on which defaults the adding process happened to have.
 */
export class QueueSet {
  readonly prefix: string;
  private readonly queues: ReadonlyMap<QueueKey, Queue<EffectJob>>;

  constructor(connection: Redis, redisKeyPrefix: string) {
    this.prefix = bullPrefix(redisKeyPrefix, connection);
    this.queues = new Map(
      (Object.keys(QUEUES) as QueueKey[]).map((key) => [key, new Queue<EffectJob>(QUEUES[key], { connection, prefix: this.prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS })]),
    );
  }

  get keys(): QueueKey[] {
    return [...this.queues.keys()];
  }

  get(key: QueueKey): Queue<EffectJob> {
    const queue = this.queues.get(key);
    if (!queue) throw new Error(`invariant violated: no queue ${key}`);
    return queue;
  }

  /** Jobs per queue (by queue key) and state, for the metrics (src/infra/metrics.ts). */
  async depths(): Promise<Record<string, Record<QueueState, number>>> {
    const entries = await Promise.all(
      [...this.queues].map(async ([key, queue]) => {
        const counts = await queue.getJobCounts(...QUEUE_STATES);
        return [key, Object.fromEntries(QUEUE_STATES.map((state) => [state, counts[state] ?? 0])) as Record<QueueState, number>] as const;
      }),
    );
    return Object.fromEntries(entries);
  }

  /** Closes the queues (the shared connection stays open: its owner closes it). */
  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
  }
}

export const isQueueKey = (value: string): value is QueueKey => Object.prototype.hasOwnProperty.call(QUEUES, value);
