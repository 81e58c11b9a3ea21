/** The payouts context's workers: paying settlements' payouts, and the daily reconciliation. */
export { PAYOUT_WORKER_DEFAULTS, payoutProcessor, startPayoutWorker, type PayoutWorkerOptions } from './payout-worker';
export { RECONCILIATION_QUEUE, dayToReconcile, startReconciliationSchedule, type ReconciliationSchedule, type ReconciliationScheduleOptions } from './reconciliation-job';
