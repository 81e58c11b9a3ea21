/** The insurance context's worker: enrols activated members with the insurer, exactly once. */
export { INSURANCE_CONCURRENCY, insuranceWorker, mayHaveBeenSent } from './insurance-worker';
