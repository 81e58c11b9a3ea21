import { commandSpec } from '../../../test/support/given-when-then';
import {
  comparePayouts,
  evolveReconciliation,
  initialReconciliationState,
  isReported,
  recordReconciliation,
  type LedgerPayout,
  type ReconciliationEvent,
  type StatementLine,
} from '.';

const DAY = '2026-09-11';
const line = (requestId: string, amountFen: number): StatementLine => ({ requestId, reference: `GW-${requestId}`, amountFen, paidAt: '2026-09-11T02:00:00.000Z' });
const payout = (payoutId: string, amountFen: number, status: LedgerPayout['status'] = 'succeeded', paidDay: string | null = DAY): LedgerPayout => ({
  payoutId,
  merchantId: `shop-${payoutId}`,
  amountFen,
  status,
  gatewayReference: status === 'succeeded' ? `GW-${payoutId}` : null,
  paidDay: status === 'succeeded' ? paidDay : null,
});

describe('comparePayouts', () => {
  it('finds nothing when the statement and the ledger agree', () => {
    const report = comparePayouts(DAY, [line('a', 100), line('b', 250)], [payout('a', 100), payout('b', 250)]);
    expect(report).toEqual({ day: DAY, statementLines: 2, statementFen: 350, ledgerPayouts: 2, ledgerFen: 350, mismatches: [] });
  });

  it('reports each kind of mismatch once, ordered by payout id', () => {
    const report = comparePayouts(
      DAY,
      [line('a', 100), line('b', 250), line('c', 75), line('d', 10), line('e', 60), line('e', 60), line('f', 5)],
      [payout('a', 100), payout('b', 200), payout('c', 75, 'failed'), payout('d', 10, 'requested'), payout('e', 60), payout('g', 40), payout('h', 1, 'succeeded', '2026-09-10')],
    );
    expect(report.mismatches.map((mismatch) => [mismatch.payoutId, mismatch.kind, mismatch.ledgerStatus, mismatch.ledgerAmountFen, mismatch.gatewayAmountFen])).toEqual([
      ['b', 'amount_differs', 'succeeded', 200, 250],
      ['c', 'paid_not_recorded', 'failed', 75, 75],
      ['d', 'paid_not_recorded', 'requested', 10, 10],
      ['e', 'paid_twice', 'succeeded', 60, 120],
      ['f', 'paid_not_recorded', 'none', null, 5],
      ['g', 'recorded_not_paid', 'succeeded', 40, null],
    ]);
    // h was paid on another day: it is that day's statement's business.
    expect(report).toMatchObject({ statementLines: 7, statementFen: 560, ledgerPayouts: 4, ledgerFen: 400 });
    expect(report.mismatches[4]).toEqual({ kind: 'paid_not_recorded', payoutId: 'f', merchantId: null, ledgerStatus: 'none', ledgerAmountFen: null, gatewayAmountFen: 5, gatewayReference: 'GW-f' });
  });
});

describe('recordReconciliation', () => {
  const stream = commandSpec(initialReconciliationState, evolveReconciliation);
  const report = comparePayouts(DAY, [line('a', 100), line('f', 5)], [payout('a', 100), payout('g', 40)]);
  const first = recordReconciliation(initialReconciliationState, report, '2026-09-12');

  it('records each new mismatch, then the run', () => {
    expect(first).toEqual([
      { type: 'PayoutMismatchFound', data: { day: DAY, kind: 'paid_not_recorded', payoutId: 'f', merchantId: null, ledgerStatus: 'none', ledgerAmountFen: null, gatewayAmountFen: 5, gatewayReference: 'GW-f' } },
      { type: 'PayoutMismatchFound', data: expect.objectContaining({ day: DAY, kind: 'recorded_not_paid', payoutId: 'g' }) },
      { type: 'PayoutsReconciled', data: { day: DAY, statementLines: 2, statementFen: 105, ledgerPayouts: 2, ledgerFen: 140, mismatches: 2, newMismatches: 2 } },
    ]);
    expect(isReported(stream.given(first).state(), { kind: 'recorded_not_paid', payoutId: 'g' })).toBe(true);
  });

  it('appends nothing when a day is reconciled again with the same outcome, and only what is new otherwise', () => {
    stream.given(first).when((state) => recordReconciliation(state, report, '2026-09-13')).then([]);
    // The ledger caught up with f; a new line x appeared.
    const later = comparePayouts(DAY, [line('a', 100), line('f', 5), line('x', 9)], [payout('a', 100), payout('f', 5), payout('g', 40)]);
    const events = stream.given(first).when((state) => recordReconciliation(state, later, '2026-09-13')).result().events as ReconciliationEvent[];
    expect(events.map((event) => [event.type, 'payoutId' in event.data ? event.data.payoutId : event.data.newMismatches])).toEqual([
      ['PayoutMismatchFound', 'x'],
      ['PayoutsReconciled', 1],
    ]);
    // A clean run after mismatches is recorded too: the figures changed.
    const clean = comparePayouts(DAY, [line('a', 100)], [payout('a', 100)]);
    stream.given(first).when((state) => recordReconciliation(state, clean, '2026-09-13')).then([{ type: 'PayoutsReconciled', data: expect.objectContaining({ mismatches: 0, newMismatches: 0 }) }]);
  });

  it('reconciles only a day that is over in Shanghai', () => {
    stream.given([]).when((state) => recordReconciliation(state, { ...report, day: '2026-09-12' }, '2026-09-12')).thenFails('RECONCILIATION.DAY_NOT_OVER');
    stream.given([]).when((state) => recordReconciliation(state, { ...report, day: '2026-13-01' }, '2026-09-12')).thenFails('RECONCILIATION.DAY_INVALID');
  });
});
