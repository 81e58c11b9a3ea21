/** The benefits context's use cases: programmes, proposals, batches, wallets, merchants, settlements. */
export { BENEFITS_MIGRATIONS } from './schema';
export { Benefits, DEFAULT_BENEFITS_SETTINGS, type BenefitsDeps, type BenefitsSettings, type Caller, type ProposalView } from './benefits-service';
export { BatchRunner, type BatchProgress } from './batch-runner';
export { BATCH_COLUMNS, readBatchCsv } from './batch-csv';
