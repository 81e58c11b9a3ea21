/**
 * The payouts context's use cases: paying a settlement's payout through the payment gateway
 * exactly once (PayoutEffect, driven by the payouts worker), and reconciling a day of the
 * gateway's statement with the ledger (PayoutReconciliation).
 */
export { PaymentGatewayError, type InquiryResult, type PayResult, type PaymentGatewayPort } from './ports';
export { PayoutEffect, PayoutRejectedError, PayoutUnresolvedError, type PayoutEffectDeps, type PayoutRequestRef, type PayoutResult } from './payout-effect';
export { PayoutReconciliation, type PayoutReconciliationDeps, type ReconciliationView } from './reconciliation';
