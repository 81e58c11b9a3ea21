/** The claims context's use cases: claim campaigns behind the Redis gate, and points lotteries with a verifiable draw. */
export { Claims, RECONCILE_AFTER_MS, type ClaimOutcome, type ClaimsDeps } from './claims-service';
export { ClaimGate, GateUnavailableError, type Admission } from './gate';
export { Lotteries, type LotteriesDeps, type LotteryAudit, type LotteryInput } from './lotteries';
