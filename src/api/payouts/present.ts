import { fenToYuan } from '../../domain/shared';

/** What the payouts routes answer: money as yuan text, like every route of the ledger. */

interface ReconciliationReport {
  day: string;
  statementLines: number;
  statementFen: number;
  ledgerPayouts: number;
  ledgerFen: number;
  mismatches: Array<{
    kind: string;
    payoutId: string;
    merchantId: string | null;
    ledgerStatus: string;
    ledgerAmountFen: number | null;
    gatewayAmountFen: number | null;
    gatewayReference: string | null;
    recorded: boolean;
  }>;
}

const yuan = (fen: number | null): string | null => (fen === null ? null : fenToYuan(fen));

export function presentReconciliation(report: ReconciliationReport) {
  return {
    day: report.day,
    statement: { payments: report.statementLines, amount: fenToYuan(report.statementFen) },
    ledger: { payouts: report.ledgerPayouts, amount: fenToYuan(report.ledgerFen) },
    mismatches: report.mismatches.map((mismatch) => ({
      kind: mismatch.kind,
      payoutId: mismatch.payoutId,
      merchantId: mismatch.merchantId,
      ledgerStatus: mismatch.ledgerStatus,
      ledgerAmount: yuan(mismatch.ledgerAmountFen),
      gatewayAmount: yuan(mismatch.gatewayAmountFen),
      gatewayReference: mismatch.gatewayReference,
      recorded: mismatch.recorded,
    })),
  };
}
