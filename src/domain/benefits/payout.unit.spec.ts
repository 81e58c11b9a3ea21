import { commandSpec } from '../../../test/support/given-when-then';
import { balancesOf } from '../../../test/support/benefits-model';
import {
  REMEMBERED_PAYOUTS,
  evolveMerchant,
  openPayoutAt,
  initialMerchantState,
  merchantLine,
  recordPayoutFailed,
  recordPayoutSucceeded,
  settleDay,
  type MerchantEvent,
  type MerchantState,
} from '.';

const merchant = commandSpec(initialMerchantState, evolveMerchant);

const SHOP = 'shop-1';
const card = { cardHmac: 'hmac-9', cardSealed: 'sealed-9', cardMasked: '6222 **** **** 1234' };
const applied: MerchantEvent = { type: 'MerchantApplied', data: { merchantId: SHOP, name: '职工超市', category: 'grocery', signingOrgId: 'c1', ...card, appliedBy: 'admin-1' } };
const admitted: MerchantEvent = { type: 'MerchantAdmitted', data: { merchantId: SHOP, proposalId: 'pr-1' } };

const capture = (day: string, amountFen: number, paymentId: string): MerchantEvent =>
  merchantLine({ merchantId: SHOP, kind: 'capture', paymentId, refundId: null, memberId: 'm-1', amountFen, day });

type Command = (state: MerchantState) => MerchantEvent[];
const settle = (day: string, today: string): Command => (state) => settleDay(state, { settlementId: `st-${day}`, payoutId: `po-${day}`, day }, today);

function history(start: MerchantEvent[], ...commands: Command[]): MerchantEvent[] {
  const events = [...start];
  for (const command of commands) events.push(...command(merchant.given(events).state()));
  return events;
}

/** 480.00 captured on 2026-09-10, settled the next morning: payout po-2026-09-10 of 48,000 fen is open. */
const requested = history([applied, admitted, capture('2026-09-10', 50_000, 'p-1'), merchantLine({ merchantId: SHOP, kind: 'refund', paymentId: 'p-1', refundId: 'r-1', memberId: 'm-1', amountFen: 2_000, day: '2026-09-10' })], settle('2026-09-10', '2026-09-11'));
const paid = { payoutId: 'po-2026-09-10', gatewayReference: 'GW-000123', paidAt: '2026-09-11T01:30:00.000Z' };
const refused = { payoutId: 'po-2026-09-10', code: 'CARD_CLOSED', reason: 'the card account is closed' };

describe('recordPayoutSucceeded', () => {
  it('moves the payable out of the ledger to bank:payouts, on the Shanghai day the gateway paid', () => {
    merchant
      .given(requested)
      .when((state) => recordPayoutSucceeded(state, { ...paid, paidAt: '2026-09-11T17:30:00+00:00' }))
      .then([
        {
          type: 'PayoutSucceeded',
          data: {
            payoutId: 'po-2026-09-10',
            merchantId: SHOP,
            settlementId: 'st-2026-09-10',
            amountFen: 48_000,
            gatewayReference: 'GW-000123',
            paidAt: '2026-09-11T17:30:00.000Z',
            // 01:30 on the 12th in Shanghai: on the gateway's statement of the 12th.
            paidDay: '2026-09-12',
            postings: [{ debit: 'merchant:shop-1:payable', credit: 'bank:payouts', amount: 48_000, asset: 'CNY_FEN' }],
          },
        },
      ]);
  });

  it('records a payout once: a repeat is nothing to do, a failure after it is refused', () => {
    // The payouts worker finds the open payout by the revision of its request, with the card to pay.
    const requestRevision = requested.length - 1;
    expect(openPayoutAt(merchant.given(requested).state(), requestRevision)).toMatchObject({ payoutId: 'po-2026-09-10', cardSealed: 'sealed-9' });
    const done = history(requested, (state) => recordPayoutSucceeded(state, paid));
    expect(openPayoutAt(merchant.given(done).state(), requestRevision)).toBeUndefined();
    expect(merchant.given(done).state().payouts.get('po-2026-09-10')?.cardSealed).toBeNull();
    merchant.given(done).when((state) => recordPayoutSucceeded(state, { ...paid, gatewayReference: 'GW-other' })).then([]);
    merchant.given(done).when((state) => recordPayoutFailed(state, refused)).thenFails('PAYOUT.ALREADY_SUCCEEDED', { payoutId: 'po-2026-09-10' });
    expect(merchant.given(done).state().payouts.get('po-2026-09-10')).toMatchObject({ status: 'succeeded', amountFen: 48_000 });
    // Captures (wallet side, not on this stream) credited the receivable; here the receivable went to payable and out.
    expect(balancesOf(done).get('merchant:shop-1:payable')).toBe(0);
    expect(balancesOf(done).get('bank:payouts')).toBe(48_000);
  });

  it('refuses an unknown payout, an unknown merchant and an outcome a gateway could not have given', () => {
    merchant.given(requested).when((state) => recordPayoutSucceeded(state, { ...paid, payoutId: 'po-x' })).thenFails('PAYOUT.NOT_FOUND', { payoutId: 'po-x' });
    merchant.given([]).when((state) => recordPayoutSucceeded(state, paid)).thenFails('MERCHANT.NOT_FOUND');
    merchant.given(requested).when((state) => recordPayoutSucceeded(state, { ...paid, gatewayReference: '' })).thenFails('PAYOUT.OUTCOME_INVALID');
    merchant.given(requested).when((state) => recordPayoutSucceeded(state, { ...paid, paidAt: 'yesterday' })).thenFails('PAYOUT.OUTCOME_INVALID');
    merchant.given(requested).when((state) => recordPayoutFailed(state, { ...refused, code: 'closed' })).thenFails('PAYOUT.OUTCOME_INVALID');
  });
});

describe('recordPayoutFailed', () => {
  it('returns the payable to the receivable and carries it into the next settlement, which requests it again', () => {
    merchant
      .given(requested)
      .when((state) => recordPayoutFailed(state, refused))
      .then([
        {
          type: 'PayoutFailed',
          data: {
            payoutId: 'po-2026-09-10',
            merchantId: SHOP,
            settlementId: 'st-2026-09-10',
            amountFen: 48_000,
            code: 'CARD_CLOSED',
            reason: 'the card account is closed',
            postings: [{ debit: 'merchant:shop-1:payable', credit: 'merchant:shop-1:receivable', amount: 48_000, asset: 'CNY_FEN' }],
          },
        },
      ]);
    const failed = history(requested, (state) => recordPayoutFailed(state, refused));
    expect(merchant.given(failed).state().carriedFen).toBe(48_000);
    // The next day's 10.00 and the refused 480.00 are paid together.
    const next = merchant.given([...failed, capture('2026-09-11', 1_000, 'p-2')]).when(settle('2026-09-11', '2026-09-12')).result();
    expect(next.events.map((event) => event.type)).toEqual(['MerchantDaySettled', 'PayoutRequested']);
    expect(next.events[0]).toMatchObject({ data: { captureFen: 1_000, carriedFen: 48_000, netFen: 49_000 } });
    expect(next.events[1]).toMatchObject({ data: { payoutId: 'po-2026-09-11', amountFen: 49_000, ...card } });
    expect(next.state.carriedFen).toBe(0);
    // A negative carry (refunds of an earlier day) is netted against the refused amount.
    const refundedDay = history([applied, admitted, merchantLine({ merchantId: SHOP, kind: 'refund', paymentId: 'p-0', refundId: 'r-0', memberId: 'm-1', amountFen: 500, day: '2026-09-09' })], settle('2026-09-09', '2026-09-10'));
    expect(merchant.given(refundedDay).state().carriedFen).toBe(-500);
  });

  it('records a failure once: a repeat is nothing to do, a success after it is refused', () => {
    const failed = history(requested, (state) => recordPayoutFailed(state, refused));
    merchant.given(failed).when((state) => recordPayoutFailed(state, { ...refused, reason: 'again' })).then([]);
    merchant.given(failed).when((state) => recordPayoutSucceeded(state, paid)).thenFails('PAYOUT.ALREADY_FAILED', { payoutId: 'po-2026-09-10' });
    expect(balancesOf(failed).get('merchant:shop-1:payable')).toBe(0);
  });

  it('keeps the reason to its limit', () => {
    const [event] = merchant.given(requested).when((state) => recordPayoutFailed(state, { ...refused, reason: 'x'.repeat(2_000) })).result().events;
    expect((event!.data as { reason: string }).reason).toHaveLength(500);
  });
});

describe('the payouts a merchant remembers', () => {
  it(`keeps every open payout and the last ${REMEMBERED_PAYOUTS} resolved ones`, () => {
    let events: MerchantEvent[] = [applied, admitted];
    let state = merchant.given(events).state();
    const day = (index: number): string => new Date(Date.UTC(2025, 0, 1 + index)).toISOString().slice(0, 10);
    const total = REMEMBERED_PAYOUTS + 5;
    for (let index = 0; index < total; index += 1) {
      const added = [capture(day(index), 100, `p-${index}`)];
      state = added.reduce(evolveMerchant, state);
      const settled = settleDay(state, { settlementId: `st-${index}`, payoutId: `po-${index}`, day: day(index) }, day(index + 1));
      state = settled.reduce(evolveMerchant, state);
      // Every payout but the first is paid; the first stays open.
      if (index > 0) state = recordPayoutSucceeded(state, { payoutId: `po-${index}`, gatewayReference: `GW-${index}`, paidAt: '2026-01-01T00:00:00Z' }).reduce(evolveMerchant, state);
      events = [...events, ...added, ...settled];
    }
    expect(state.payouts.size).toBe(REMEMBERED_PAYOUTS + 1);
    expect(state.payouts.get('po-0')).toMatchObject({ status: 'requested' });
    expect(state.payouts.has('po-1')).toBe(false);
    expect(state.payouts.get(`po-${total - 1}`)).toMatchObject({ status: 'succeeded' });
    // The open one can still be paid.
    expect(recordPayoutSucceeded(state, { payoutId: 'po-0', gatewayReference: 'GW-0', paidAt: '2026-01-01T00:00:00Z' })).toHaveLength(1);
  });
});
