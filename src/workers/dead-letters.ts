import type { Job } from 'bullmq';
import type { FailedJob, JobQueuesPort, RetryResult } from '../application/jobs';
import { isQueueKey, type QueueSet } from './queue-set';
import type { EffectJob } from './queues';

/**
 * The jobs context's port over BullMQ: the failed set of each queue (the dead letters, kept by
 * removeOnFail) and the retry of one of them. Given to UnionLedger by whoever builds it with
 * queues (the service, the tests), so the API reaches Redis only through the application layer.
 */

const MAX_REASON_LENGTH = 500;

function present(queue: string, job: Job<EffectJob>): FailedJob {
  return {
    queue,
    jobId: job.id ?? '',
    name: job.name,
    request: { eventId: String(job.data?.eventId ?? ''), streamId: String(job.data?.streamId ?? ''), revision: String(job.data?.revision ?? '') },
    attemptsMade: job.attemptsMade,
    failedReason: (job.failedReason ?? '').slice(0, MAX_REASON_LENGTH),
    createdAt: new Date(job.timestamp).toISOString(),
    failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
  };
}

export class BullMqJobQueues implements JobQueuesPort {
  constructor(private readonly queues: QueueSet) {}

  get queueKeys(): readonly string[] {
    return this.queues.keys;
  }

  async failedJobs(queue: string, offset: number, limit: number): Promise<{ jobs: FailedJob[]; total: number }> {
    if (!isQueueKey(queue)) throw new Error(`invariant violated: unknown queue ${queue} passed the jobs service`);
    const bull = this.queues.get(queue);
    // Newest failure first (BullMQ orders the failed set by when each job finished).
    const [jobs, total] = await Promise.all([bull.getFailed(offset, offset + limit - 1), bull.getFailedCount()]);
    return { jobs: jobs.filter((job): job is Job<EffectJob> => Boolean(job)).map((job) => present(queue, job)), total };
  }

  async retryFailed(queue: string, jobId: string): Promise<RetryResult> {
    if (!isQueueKey(queue)) throw new Error(`invariant violated: unknown queue ${queue} passed the jobs service`);
    const job = await this.queues.get(queue).getJob(jobId);
    if (!job) return 'not_found';
    if ((await job.getState()) !== 'failed') return 'not_failed';
    // The attempts start over; the count of starts is kept, so the worker knows the effect may
    // already have been sent and asks the outside service for its status first.
    try {
      await job.retry('failed', { resetAttemptsMade: true });
    } catch (error) {
      // Another admin (or a replay) got there between the two reads.
      if ((await job.getState()) !== 'failed') return 'not_failed';
      throw error;
    }
    return 'retried';
  }
}
