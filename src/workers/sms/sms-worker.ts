import { UnrecoverableError } from 'bullmq';
import { SmsJobInvalidError } from '../../application/sms';
import { mayHaveBeenSent } from '../insurance';
import type { EffectJob } from '../queues';
import type { WorkerDefinition, WorkerDeps } from '../registry';

/**
 * The SMS queue's worker: one job per SmsRequested. All the exactly-once logic is in the
 * application layer (SmsService.carryOut); this adapter tells it whether an earlier run of the job
 * may already have called the gateway, and maps a job that can never be carried out to BullMQ's
 * UnrecoverableError (straight to the dead letters, no retries). The job carries ids only; the
 * code and the phone are unsealed in the service and never reach a log line.
 */

export const SMS_CONCURRENCY = 16;

function isEffectJob(data: unknown): data is EffectJob {
  const job = data as Partial<EffectJob> | null;
  return typeof job?.eventId === 'string' && typeof job.streamId === 'string' && typeof job.revision === 'string';
}

export function smsWorker(deps: WorkerDeps): WorkerDefinition {
  return {
    concurrency: SMS_CONCURRENCY,
    async process(job) {
      if (!isEffectJob(job.data)) throw new UnrecoverableError(`job ${job.id} does not carry an effect request`);
      try {
        return await deps.ledger.sms.carryOut(job.data, { mayHaveBeenSent: mayHaveBeenSent(job) });
      } catch (error) {
        if (error instanceof SmsJobInvalidError) throw new UnrecoverableError(error.message);
        throw error;
      }
    },
  };
}
