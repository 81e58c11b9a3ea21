/** The jobs context: the effect log the relay keeps (what was queued, what has its outcome) and the dead letters admins retry. */
export { DeadLetters, FAILED_JOBS_OFFSET_MAX, FAILED_JOBS_PAGE_MAX, type FailedJob, type JobQueuesPort, type RetryResult } from './dead-letters';
export { EFFECT_PAGE_MAX, outstandingCounts, outstandingEffects, recordEffects, type EffectOutcome, type EffectRequest } from './effects';
export { JOBS_MIGRATIONS } from './schema';
