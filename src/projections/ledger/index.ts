/** The ledger context's read models: the journal, members' points balances and statements, and the trial balance. */
export { LEDGER_PROJECTION, LEDGER_TABLES, ledgerProjection } from './ledger-projection';
export { EXPIRED_HOLDERS_MAX, membersWithExpiredHolds } from './holds';
export { STATEMENT_PAGE_MAX, statementPage, type StatementLine } from './statement';
export { checkTrialBalance, type AssetBalance, type TrialBalanceReport } from './trial-balance';
export { LEDGER_MIGRATIONS } from './schema';
