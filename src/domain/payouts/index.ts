/**
 * The payouts context's own decisions: reconciling a day of the payment gateway's statement with
 * the ledger's payouts. (A payout's request and outcome are facts of the merchant's stream: the
 * benefits context's merchant.ts and payout.ts.)
 */
export {
  DAY,
  MAX_MISMATCH_EVENTS,
  MAX_STATEMENT_LINES,
  MISMATCH_KINDS,
  comparePayouts,
  evolveReconciliation,
  initialReconciliationState,
  isReported,
  reconciliationStream,
  recordReconciliation,
  type LedgerPayout,
  type MismatchKind,
  type PayoutMismatch,
  type ReconciliationEvent,
  type ReconciliationFigures,
  type ReconciliationReport,
  type ReconciliationState,
  type StatementLine,
} from './reconciliation';
