/**
 * The benefits context's read models: programmes and budget trees, proposals, distribution
 * batches, wallets with statements and vouchers, voucher expiries, merchants, payments,
 * settlement lines and settlements; (queries follow).
 */
export { BENEFITS_PROJECTION, BENEFITS_TABLES, benefitsProjection } from './benefits-projection';
export { BENEFITS_PROJECTION_MIGRATIONS } from './schema';
