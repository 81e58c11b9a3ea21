import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { ImportJobInvalidError, type ImportRunResult } from '../../application/imports';
import type { EffectJob } from '../queues';
import type { WorkerDefinition, WorkerDeps } from '../registry';

/**
 * The imports queue's worker: one job per ImportRequested (job id = the event id), carried out by
 * RosterImports.run, which commits the import chunk by chunk and records ImportCompleted. All the
 * exactly-once logic is in the application layer (each chunk is recorded once, at the import
 * stream's expected revision), so a redelivered or stalled job simply continues where the last
 * recorded chunk left it.
 *
 * A long import must not hold a closing worker for minutes: on close the run stops at its next
 * chunk boundary, and the job is moved back to the delayed set (BullMQ's DelayedError), which
 * costs no attempt; whichever worker takes it next continues at the next chunk.
 */

/** Imports run at once per process: each keeps the database busy on its own. */
export const IMPORTS_CONCURRENCY = 2;
/** How soon a job stopped by a closing worker is due again. */
const RESUME_DELAY_MS = 1_000;

const IMPORT_STREAM = /^import-([0-9a-f-]{36})$/;

export function importsWorker(deps: WorkerDeps): WorkerDefinition {
  return {
    concurrency: IMPORTS_CONCURRENCY,
    async process(job: Job<EffectJob>, token?: string): Promise<ImportRunResult> {
      const importId = IMPORT_STREAM.exec(typeof job.data?.streamId === 'string' ? job.data.streamId : '')?.[1];
      if (!importId) throw new UnrecoverableError(`job ${job.id} does not name an import stream`);
      let result: ImportRunResult;
      try {
        result = await deps.ledger.rosterImports.run(importId);
      } catch (error) {
        if (error instanceof ImportJobInvalidError) throw new UnrecoverableError(error.message);
        throw error;
      }
      if (result.status === 'stopped') {
        if (!token) throw new Error(`import ${importId} stopped at chunk ${result.chunksDone}; it continues on the next attempt`);
        await job.moveToDelayed(Date.now() + RESUME_DELAY_MS, token);
        throw new DelayedError();
      }
      return result;
    },
    stop: () => deps.ledger.rosterImports.stop(),
  };
}
