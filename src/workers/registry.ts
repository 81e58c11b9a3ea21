import type { Job } from 'bullmq';
import type { UnionLedger } from '../composition-root';
import { insuranceWorker } from './insurance';
import { PAYOUT_WORKER_DEFAULTS, payoutProcessor } from './payouts';
import type { EffectJob, QueueKey } from './queues';
import { smsWorker } from './sms';

/**
 * The workers, one per queue key. A context that carries effects out adds its worker here (one
 * line) and its folder under src/workers/<context>/; the chassis (worker-host.ts) runs whatever
 * is registered, with the concurrency it asks for, and closes it gracefully.
 */

export interface WorkerDefinition {
  /** Jobs this worker runs at once in one process (WORKER_CONCURRENCY overrides it). */
  concurrency: number;
  /**
   * Carries out one job. Resolves when the effect's outcome is recorded; throws to have the job
   * retried with back-off (an UnrecoverableError fails it at once, into the dead letters).
   */
  process(job: Job<EffectJob>): Promise<unknown>;
}

export type WorkerRegistry = Partial<Record<QueueKey, WorkerDefinition>>;

/** What workers are built from: the ledger's services (each outside service comes in as a port through UnionLedger). */
export interface WorkerDeps {
  ledger: UnionLedger;
}

export function workerRegistry(deps: WorkerDeps): WorkerRegistry {
  return {
    insurance: insuranceWorker(deps),
    // Built on the first job: a process without the payment gateway can still run the other workers.
    payouts: { concurrency: PAYOUT_WORKER_DEFAULTS.concurrency, process: (job) => payoutProcessor(deps.ledger.payoutEffect)(job) },
    sms: smsWorker(deps),
  };
}
