/**
 * The audit context's use cases, for finance auditors: sealed stream heads and their comparison
 * with the database (docs/AUDIT.md). Everything here but sealing reads only.
 */
export { HEADS_PAGE, compareHeads, feedPointAt, headsAt, visibleFeedEnd, type FeedPoint, type TakenHeads } from './heads';
export { SealFileError, Seals, readSealFile, writeSealFile, type SealResult } from './seals';
export { EXPORT_FORMAT, ExportRangeError, exportLedger, type ExportOptions, type ExportResult, type ExportedFile } from './export';
export { AS_OF_ACCOUNTS_MAX, AsOfError, balancesAsOf, parseAsOf, type AccountBalance, type AsOf, type BalancesAsOf } from './balances';
export { AuditorReads, STREAM_EVENTS_MAX, auditAccessStream } from './auditor-reads';
export { recomputeAllGrants, type GrantsReport } from './grants';
export { ACCOUNT_STATEMENT_PAGE_MAX, StatementCursorError, accountStatement, type AccountStatementLine, type AccountStatementPage } from './statement';
export { VERIFICATION_MAX_AGE_MS, Verifications, type VerificationResult, type VerificationStatus } from './verification';
export { recomputeBenefitGrants, type BenefitGrantsReport } from './benefit-grants';
