/** The payouts read model: payouts from request to outcome (ul_payouts), for reconciliation and overviews. */
export { PAYOUTS_MIGRATIONS } from './schema';
export { PAYOUTS_PROJECTION, payoutsProjection } from './payouts-projection';
export { ledgerPayouts, payoutCounts, type PayoutCounts } from './queries';
