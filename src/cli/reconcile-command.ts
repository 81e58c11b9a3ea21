import { InvalidArgumentError, type Command } from 'commander';
import { PaymentGatewayError, type ReconciliationView } from '../application/payouts';
import { UnionLedger } from '../composition-root';
import { loadConfig } from '../config/config';
import { DomainError, fenToYuan } from '../domain/shared';
import { PaymentGatewayHttpClient } from '../infra/payment-gateway';
import type { Runtime } from '../infra/runtime';

/**
 * `union-ledger reconcile --date YYYY-MM-DD [--json]`: the payment gateway's statement of that
 * day (Asia/Shanghai) against the ledger's payouts, on demand, as the daily job does it: each new
 * mismatch is recorded as an event on `reconciliation-<day>`. Prints the figures and every
 * mismatch; exit 0 when there is none, 1 when there are, 2 when the statement cannot be had.
 * Needs PAYMENT_GATEWAY_URL: a simulator started by this command would hold no payments.
 */

function day(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new InvalidArgumentError('a day is YYYY-MM-DD');
  return value;
}

export function reconciliationText(report: ReconciliationView): string {
  const head =
    `${report.day}: gateway statement ${report.statementLines} payment(s), ${fenToYuan(report.statementFen)} yuan; ` +
    `ledger ${report.ledgerPayouts} payout(s) paid that day, ${fenToYuan(report.ledgerFen)} yuan; ${report.recordedEvents} event(s) recorded\n`;
  if (report.mismatches.length === 0) return `${head}OK: no mismatch\n`;
  const amount = (fen: number | null): string => (fen === null ? '-' : fenToYuan(fen));
  return (
    `${head}${report.mismatches.length} mismatch(es):\n` +
    report.mismatches
      .map(
        (mismatch) =>
          `  ${mismatch.kind} payout ${mismatch.payoutId} merchant ${mismatch.merchantId ?? '-'} ledger ${mismatch.ledgerStatus} ${amount(mismatch.ledgerAmountFen)} ` +
          `gateway ${amount(mismatch.gatewayAmountFen)} reference ${mismatch.gatewayReference ?? '-'}\n`,
      )
      .join('')
  );
}

export function registerReconcileCommand(program: Command, deps: { withRuntime<T>(work: (runtime: Runtime) => Promise<T>): Promise<T> }): void {
  program
    .command('reconcile')
    .description("compare the payment gateway's statement of a day with the ledger's payouts and record each mismatch; exit 1 when there are any")
    .requiredOption('--date <day>', 'the business day (Asia/Shanghai), YYYY-MM-DD', day)
    .option('--json', 'print the report as JSON')
    .action(async (options: { date: string; json?: boolean }) => {
      const config = loadConfig();
      if (!config.paymentGateway) {
        process.stderr.write('reconcile needs the payment gateway every process shares: set PAYMENT_GATEWAY_URL and PAYMENT_GATEWAY_KEY\n');
        process.exitCode = 2;
        return;
      }
      const gateway = new PaymentGatewayHttpClient({ baseUrl: config.paymentGateway.apiUrl, apiKey: config.paymentGateway.apiKey, timeoutMs: config.paymentGateway.timeoutMs });
      const outcome = await deps.withRuntime(async (runtime) => {
        const ledger = new UnionLedger({ config, db: runtime.db, listen: false, payments: gateway });
        try {
          return await ledger.reconciliation.reconcile(options.date);
        } catch (error) {
          // A day not over, a statement that cannot be had: a line to read, not a stack trace.
          if (error instanceof DomainError || error instanceof PaymentGatewayError) return error;
          throw error;
        } finally {
          await ledger.close();
        }
      });
      if (outcome instanceof Error) {
        process.stderr.write(`not reconciled: ${outcome instanceof DomainError ? `${outcome.code} ` : ''}${outcome.message}\n`);
        process.exitCode = 2;
        return;
      }
      process.stdout.write(options.json ? `${JSON.stringify(outcome, null, 2)}\n` : reconciliationText(outcome));
      process.exitCode = outcome.mismatches.length === 0 ? 0 : 1;
    });
}
