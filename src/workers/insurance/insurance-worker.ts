import { UnrecoverableError, type Job } from 'bullmq';
import { EffectJobInvalidError } from '../../application/insurance';
import type { EffectJob } from '../queues';
import type { WorkerDefinition, WorkerDeps } from '../registry';

/**
 * The insurance queue's worker: one job per InsuranceGrantRequested. All the exactly-once logic
 * is in the application layer (InsuranceGrants.carryOut); this adapter tells it whether an
 * earlier run of the job may already have called the insurer, and maps a job that can never be
 * carried out to BullMQ's UnrecoverableError (straight to the dead letters, no retries).
 */

export const INSURANCE_CONCURRENCY = 16;

/**
 * True when the insurer may already have been called for this job: this is not the job's first
 * start (a retry, or a redelivery after its worker died, which BullMQ counts as a start too).
 */
export function mayHaveBeenSent(job: Pick<Job, 'attemptsStarted' | 'attemptsMade' | 'stalledCounter'>): boolean {
  return job.attemptsStarted > 1 || job.attemptsMade > 0 || job.stalledCounter > 0;
}

function isEffectJob(data: unknown): data is EffectJob {
  const job = data as Partial<EffectJob> | null;
  return typeof job?.eventId === 'string' && typeof job.streamId === 'string' && typeof job.revision === 'string';
}

export function insuranceWorker(deps: WorkerDeps): WorkerDefinition {
  return {
    concurrency: INSURANCE_CONCURRENCY,
    async process(job) {
      if (!isEffectJob(job.data)) throw new UnrecoverableError(`job ${job.id} does not carry an effect request`);
      try {
        return await deps.ledger.insuranceGrants.carryOut(job.data, { mayHaveBeenSent: mayHaveBeenSent(job) });
      } catch (error) {
        if (error instanceof EffectJobInvalidError) throw new UnrecoverableError(error.message);
        throw error;
      }
    },
  };
}
