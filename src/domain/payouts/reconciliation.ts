import { DomainError, invariant } from '../shared';

/**
 * Reconciliation of one business day (Asia/Shanghai) of payouts: the payment gateway's statement
 * of what it paid that day against the ledger's payouts (stream `reconciliation-<day>`). Each
 * mismatch is recorded once as `PayoutMismatchFound`; each run whose figures differ from the last
 * one recorded is a `PayoutsReconciled`, so a day reconciled again with nothing new appends nothing.
 *
 * Kinds of mismatch:
 * - `paid_not_recorded`: on the statement, but the ledger has no PayoutSucceeded for it (none at
 *   all, still requested, or failed). Money left that the ledger does not show as paid.
 * - `recorded_not_paid`: the ledger says the gateway paid it that day; the statement does not list it.
 * - `amount_differs`: both have it, with different amounts.
 * - `paid_twice`: the statement lists one request id more than once.
 */

export const MISMATCH_KINDS = ['paid_not_recorded', 'recorded_not_paid', 'amount_differs', 'paid_twice'] as const;
export type MismatchKind = (typeof MISMATCH_KINDS)[number];

/** One payment on the gateway's statement of the day. */
export interface StatementLine {
  /** Our request id: the payout id. */
  requestId: string;
  reference: string;
  amountFen: number;
  paidAt: string;
}

/** A payout as the ledger records it. */
export interface LedgerPayout {
  payoutId: string;
  merchantId: string;
  amountFen: number;
  status: 'requested' | 'succeeded' | 'failed';
  gatewayReference: string | null;
  /** The Shanghai day the gateway paid it, for a succeeded payout. */
  paidDay: string | null;
}

export interface PayoutMismatch {
  kind: MismatchKind;
  payoutId: string;
  merchantId: string | null;
  ledgerStatus: LedgerPayout['status'] | 'none';
  ledgerAmountFen: number | null;
  gatewayAmountFen: number | null;
  gatewayReference: string | null;
}

export interface ReconciliationFigures {
  statementLines: number;
  statementFen: number;
  ledgerPayouts: number;
  ledgerFen: number;
}

export interface ReconciliationReport extends ReconciliationFigures {
  day: string;
  mismatches: PayoutMismatch[];
}

/** A day's statement is read whole; no real day comes near this many payouts (one per merchant and day). */
export const MAX_STATEMENT_LINES = 200_000;
/** Mismatch events recorded by one run (the report counts every one). */
export const MAX_MISMATCH_EVENTS = 10_000;
export const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/**
 * Compares the gateway's statement of `day` with the ledger: `ledger` holds the payouts the
 * ledger records as paid on `day` and the ledger's record of every payout the statement names
 * (whatever its status or day). Pure; mismatches ordered by payout id, then kind.
 */
export function comparePayouts(day: string, statement: readonly StatementLine[], ledger: readonly LedgerPayout[]): ReconciliationReport {
  invariant(statement.length <= MAX_STATEMENT_LINES, `a statement holds at most ${MAX_STATEMENT_LINES} lines`);
  const byId = new Map(ledger.map((payout) => [payout.payoutId, payout]));
  const lines = new Map<string, StatementLine[]>();
  for (const line of statement) lines.set(line.requestId, [...(lines.get(line.requestId) ?? []), line]);
  const mismatches: PayoutMismatch[] = [];
  const mismatch = (kind: MismatchKind, payoutId: string, payout: LedgerPayout | undefined, line: StatementLine | undefined): void => {
    mismatches.push({
      kind,
      payoutId,
      merchantId: payout?.merchantId ?? null,
      ledgerStatus: payout?.status ?? 'none',
      ledgerAmountFen: payout?.amountFen ?? null,
      gatewayAmountFen: line?.amountFen ?? null,
      gatewayReference: line?.reference ?? payout?.gatewayReference ?? null,
    });
  };
  for (const [requestId, paid] of lines) {
    const payout = byId.get(requestId);
    if (paid.length > 1) mismatch('paid_twice', requestId, payout, { ...paid[0]!, amountFen: paid.reduce((sum, line) => sum + line.amountFen, 0) });
    if (!payout || payout.status !== 'succeeded') mismatch('paid_not_recorded', requestId, payout, paid[0]);
    else if (paid.some((line) => line.amountFen !== payout.amountFen)) mismatch('amount_differs', requestId, payout, paid.find((line) => line.amountFen !== payout.amountFen));
  }
  const paidThatDay = ledger.filter((payout) => payout.status === 'succeeded' && payout.paidDay === day);
  for (const payout of paidThatDay) if (!lines.has(payout.payoutId)) mismatch('recorded_not_paid', payout.payoutId, payout, undefined);
  mismatches.sort((a, b) => (a.payoutId < b.payoutId ? -1 : a.payoutId > b.payoutId ? 1 : MISMATCH_KINDS.indexOf(a.kind) - MISMATCH_KINDS.indexOf(b.kind)));
  return {
    day,
    statementLines: statement.length,
    statementFen: statement.reduce((sum, line) => sum + line.amountFen, 0),
    ledgerPayouts: paidThatDay.length,
    ledgerFen: paidThatDay.reduce((sum, payout) => sum + payout.amountFen, 0),
    mismatches,
  };
}

// ---------------------------------------------------------------- the reconciliation stream

export type ReconciliationEvent =
  | { type: 'PayoutMismatchFound'; data: PayoutMismatch & { day: string } }
  | { type: 'PayoutsReconciled'; data: ReconciliationFigures & { day: string; mismatches: number; newMismatches: number } };

export interface ReconciliationState {
  day: string | null;
  /** `kind:payoutId` of every mismatch recorded. */
  reported: ReadonlySet<string>;
  /** The figures of the last run recorded. */
  last: (ReconciliationFigures & { mismatches: number }) | null;
}

export const initialReconciliationState: ReconciliationState = { day: null, reported: new Set(), last: null };

export const reconciliationStream = (day: string): string => `reconciliation-${day}`;
const mismatchKey = (mismatch: { kind: MismatchKind; payoutId: string }): string => `${mismatch.kind}:${mismatch.payoutId}`;

export function evolveReconciliation(state: ReconciliationState, event: ReconciliationEvent): ReconciliationState {
  switch (event.type) {
    case 'PayoutMismatchFound':
      return { ...state, day: event.data.day, reported: new Set(state.reported).add(mismatchKey(event.data)) };
    case 'PayoutsReconciled': {
      const { day, statementLines, statementFen, ledgerPayouts, ledgerFen, mismatches } = event.data;
      return { ...state, day, last: { statementLines, statementFen, ledgerPayouts, ledgerFen, mismatches } };
    }
    default: {
      const unknown: never = event;
      throw new Error(`unknown reconciliation event ${(unknown as { type: string }).type}`);
    }
  }
}

/**
 * Records a run's report: each mismatch not recorded before (at most MAX_MISMATCH_EVENTS per run),
 * then the run's figures, unless they are the same as the last run's and nothing is new.
 */
export function recordReconciliation(state: ReconciliationState, report: ReconciliationReport, today: string): ReconciliationEvent[] {
  if (!DAY.test(report.day)) throw new DomainError('RECONCILIATION.DAY_INVALID', 'a day is YYYY-MM-DD', 400, { day: report.day });
  if (report.day >= today) throw new DomainError('RECONCILIATION.DAY_NOT_OVER', `the business day ${report.day} is not over in Shanghai`, 409, { day: report.day, today });
  invariant(state.day === null || state.day === report.day, `stream reconciliation-${state.day} records that day only`);
  const events: ReconciliationEvent[] = report.mismatches
    .filter((mismatch) => !state.reported.has(mismatchKey(mismatch)))
    .slice(0, MAX_MISMATCH_EVENTS)
    .map((mismatch) => ({ type: 'PayoutMismatchFound', data: { day: report.day, ...mismatch } }));
  const figures = { statementLines: report.statementLines, statementFen: report.statementFen, ledgerPayouts: report.ledgerPayouts, ledgerFen: report.ledgerFen, mismatches: report.mismatches.length };
  const last = state.last;
  const same = last !== null && (Object.keys(figures) as Array<keyof typeof figures>).every((key) => figures[key] === last[key]);
  if (events.length === 0 && same) return [];
  events.push({ type: 'PayoutsReconciled', data: { day: report.day, ...figures, newMismatches: events.length } });
  return events;
}

/** Whether a mismatch of this kind and payout was recorded on the day's stream. */
export function isReported(state: ReconciliationState, mismatch: { kind: MismatchKind; payoutId: string }): boolean {
  return state.reported.has(mismatchKey(mismatch));
}
