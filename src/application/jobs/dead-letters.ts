import { DomainError } from '../../domain/shared';

/**
 * Dead letters: jobs whose attempts ran out stay in their queue's failed set (kept by
 * removeOnFail, src/workers/queues.ts) until an admin looks at them and sends them back. The
 * queues themselves are BullMQ's (src/workers/dead-letters.ts implements the port); this service
 * is what the API calls, so no controller touches Redis.
 */

/** A failed job as an admin sees it: where its request is (ids only), why it failed, when. */
export interface FailedJob {
  queue: string;
  jobId: string;
  /** The requesting event's type. */
  name: string;
  request: { eventId: string; streamId: string; revision: string };
  attemptsMade: number;
  failedReason: string;
  createdAt: string;
  failedAt: string | null;
}

export type RetryResult = 'retried' | 'not_found' | 'not_failed';

/** The queues, as the jobs context needs them. */
export interface JobQueuesPort {
  /** The queue keys (src/workers/queues.ts QueueKey), in a stable order. */
  readonly queueKeys: readonly string[];
  /** Failed jobs, most recently failed first, from `offset`; and how many there are. */
  failedJobs(queue: string, offset: number, limit: number): Promise<{ jobs: FailedJob[]; total: number }>;
  /** Sends a failed job back to its queue with its attempts renewed. */
  retryFailed(queue: string, jobId: string): Promise<RetryResult>;
}

export const FAILED_JOBS_PAGE_MAX = 100;
/** A cursor is an offset into the failed set; the set is bounded by removeOnFail. */
export const FAILED_JOBS_OFFSET_MAX = 1_000_000;

export class DeadLetters {
  constructor(private readonly queues: JobQueuesPort) {}

  get queueKeys(): readonly string[] {
    return this.queues.queueKeys;
  }

  async list(queue: string, offset: number, limit: number): Promise<{ queue: string; jobs: FailedJob[]; total: number; nextCursor: string | null }> {
    this.requireQueue(queue);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > FAILED_JOBS_OFFSET_MAX) throw new Error(`invariant violated: failed-jobs offset ${offset}`);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > FAILED_JOBS_PAGE_MAX) throw new Error(`invariant violated: failed-jobs page of ${limit}`);
    const { jobs, total } = await this.queues.failedJobs(queue, offset, limit);
    const next = offset + jobs.length;
    return { queue, jobs, total, nextCursor: jobs.length === limit && next < total ? String(next) : null };
  }

  async retry(queue: string, jobId: string): Promise<{ queue: string; jobId: string; status: 'retried' }> {
    this.requireQueue(queue);
    const result = await this.queues.retryFailed(queue, jobId);
    if (result === 'not_found') throw new DomainError('JOB.NOT_FOUND', 'no such job in this queue', 404, { queue, jobId });
    if (result === 'not_failed') throw new DomainError('JOB.NOT_FAILED', 'the job has not failed (it is waiting, running or done)', 409, { queue, jobId });
    return { queue, jobId, status: 'retried' };
  }

  private requireQueue(queue: string): void {
    if (!this.queues.queueKeys.includes(queue)) {
      throw new DomainError('JOB.QUEUE_UNKNOWN', 'no such queue', 404, { queue, queues: [...this.queues.queueKeys] });
    }
  }
}
