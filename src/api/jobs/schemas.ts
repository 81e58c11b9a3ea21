import { int, object, optional, str } from '../common/validation';

/** Query strings and path parameters of the jobs routes (TypeBox schemas, see common/validation.ts). */

/** A queue key (src/workers/queues.ts); the jobs service answers JOB.QUEUE_UNKNOWN for one it does not have. */
const queue = str({ min: 1, max: 32, pattern: /^[a-z][a-z0-9-]*$/, description: 'the queue: insurance, payouts, sms' });

export const failedJobsQuery = object({
  queue,
  cursor: optional(str({ min: 1, max: 7, pattern: /^[0-9]+$/, description: 'nextCursor of the previous page' })),
  limit: optional(int({ min: 1, max: 100 })),
});

export const jobParams = object({
  queue,
  jobId: str({ min: 1, max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/, description: 'the job id: the id of the event that requested it' }),
});
