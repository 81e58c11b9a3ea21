import { commandSpec } from '../../../test/support/given-when-then';
import {
  REMEMBERED_SETTLEMENTS,
  admitMerchant,
  applyMerchant,
  evolveMerchant,
  initialMerchantState,
  reinstateMerchant,
  requireAcceptsPayments,
  settleDay,
  suspendMerchant,
  type MerchantEvent,
  type MerchantState,
  type SettlementFigures,
} from '.';

const merchant = commandSpec(initialMerchantState, evolveMerchant);

const SHOP = 'shop-1';
const card = { cardHmac: 'hmac-9', cardSealed: 'sealed-9', cardMasked: '6222 **** **** 1234' };
const application = { merchantId: SHOP, name: '职工超市', category: 'grocery', signingOrgId: 'c1', ...card, appliedBy: 'admin-1' };

const applied: MerchantEvent = { type: 'MerchantApplied', data: application };
const admitted: MerchantEvent = { type: 'MerchantAdmitted', data: { merchantId: SHOP, proposalId: 'pr-1' } };
const suspended: MerchantEvent = { type: 'MerchantSuspended', data: { merchantId: SHOP, reason: 'complaints', proposalId: 'pr-2' } };

type Command = (state: MerchantState) => MerchantEvent[];
const figures = (day: string, captureFen: number, refundFen: number, throughPosition = 100n, lines = 3): SettlementFigures => ({
  settlementId: `st-${day}`,
  payoutId: `po-${day}`,
  day,
  throughPosition,
  captureFen,
  refundFen,
  lines,
});
const settle = (settlement: SettlementFigures, today: string): Command => (state) => settleDay(state, settlement, today);

function history(start: MerchantEvent[], ...commands: Command[]): MerchantEvent[] {
  const events = [...start];
  for (const command of commands) events.push(...command(merchant.given(events).state()));
  return events;
}

/** Whether a merchant in this state takes a new payment, or the code it refuses with. */
function accepts(events: MerchantEvent[]): string {
  try {
    requireAcceptsPayments(merchant.given(events).state());
    return 'accepts';
  } catch (error) {
    return (error as { code: string }).code;
  }
}

describe('applyMerchant, admitMerchant, suspendMerchant, reinstateMerchant', () => {
  it('applies, is admitted, suspended and reinstated, taking new payments only while admitted', () => {
    merchant.given([]).when((state) => applyMerchant(state, application)).then([applied]);
    merchant.given([applied]).when((state) => admitMerchant(state, 'pr-1')).then([admitted]);
    merchant.given([applied, admitted]).when((state) => suspendMerchant(state, { reason: 'complaints', proposalId: 'pr-2' })).then([suspended]);
    merchant
      .given([applied, admitted, suspended])
      .when((state) => reinstateMerchant(state, 'fin-1'))
      .then([{ type: 'MerchantReinstated', data: { merchantId: SHOP, by: 'fin-1' } }]);
    expect([[], [applied], [applied, admitted], [applied, admitted, suspended], history([applied, admitted, suspended], (state) => reinstateMerchant(state, 'fin-1'))].map(accepts)).toEqual([
      'MERCHANT.NOT_FOUND',
      'MERCHANT.NOT_ADMITTED',
      'accepts',
      'MERCHANT.SUSPENDED',
      'accepts',
    ]);
  });

  it('refuses what does not follow from the status', () => {
    merchant.given([applied]).when((state) => applyMerchant(state, application)).thenFails('MERCHANT.EXISTS');
    merchant.given([]).when((state) => applyMerchant(state, { ...application, category: 'G' })).thenFails('MERCHANT.CATEGORY_INVALID');
    merchant.given([]).when((state) => admitMerchant(state, 'pr-1')).thenFails('MERCHANT.NOT_FOUND');
    merchant.given([applied, admitted]).when((state) => admitMerchant(state, 'pr-1')).thenFails('MERCHANT.NOT_APPLIED');
    merchant.given([applied]).when((state) => suspendMerchant(state, { reason: 'x', proposalId: 'pr-2' })).thenFails('MERCHANT.NOT_ADMITTED');
    merchant.given([applied, admitted]).when((state) => reinstateMerchant(state, 'fin-1')).thenFails('MERCHANT.NOT_SUSPENDED');
  });
});

describe('settleDay', () => {
  const open = [applied, admitted];

  it('settles a positive day into a payable and a payout to the bound card', () => {
    merchant
      .given(open)
      .when(settle(figures('2026-09-10', 50_000, 2_000), '2026-09-11'))
      .then([
        {
          type: 'MerchantDaySettled',
          data: {
            merchantId: SHOP,
            settlementId: 'st-2026-09-10',
            day: '2026-09-10',
            throughPosition: '100',
            captureFen: 50_000,
            refundFen: 2_000,
            carriedFen: 0,
            netFen: 48_000,
            lines: 3,
            postings: [{ debit: 'merchant:shop-1:receivable', credit: 'merchant:shop-1:payable', amount: 48_000, asset: 'CNY_FEN' }],
          },
        },
        { type: 'PayoutRequested', data: { payoutId: 'po-2026-09-10', merchantId: SHOP, settlementId: 'st-2026-09-10', amountFen: 48_000, ...card } },
      ]);
  });

  it('carries a negative net into the next settlement, without postings or payout', () => {
    const { events, state } = merchant.given(open).when(settle(figures('2026-09-10', 1_000, 3_000), '2026-09-11')).result();
    expect(events).toEqual([expect.objectContaining({ type: 'MerchantDaySettled', data: expect.objectContaining({ netFen: -2_000, carriedFen: 0, postings: [] }) })]);
    expect(state.carriedFen).toBe(-2_000);

    const carried = history(open, settle(figures('2026-09-10', 1_000, 3_000), '2026-09-11'));
    // Still negative the next day: carried again, summed.
    expect(merchant.given(carried).when(settle(figures('2026-09-11', 500, 0, 120n), '2026-09-12')).result().state.carriedFen).toBe(-1_500);
    // Positive again: the payout is the net after the carried amount, and nothing is carried on.
    const next = merchant.given(carried).when(settle(figures('2026-09-11', 5_000, 0, 120n), '2026-09-12')).result();
    expect(next.events.map((event) => event.type)).toEqual(['MerchantDaySettled', 'PayoutRequested']);
    expect(next.events[0]).toMatchObject({ data: { captureFen: 5_000, carriedFen: -2_000, netFen: 3_000 } });
    expect(next.events[1]).toMatchObject({ data: { amountFen: 3_000 } });
    expect(next.state.carriedFen).toBe(0);
  });

  it('settles a day without lines at zero, with nothing paid or carried', () => {
    const { events, state } = merchant.given(open).when(settle(figures('2026-09-10', 0, 0, 5n, 0), '2026-09-11')).result();
    expect(events).toEqual([expect.objectContaining({ data: expect.objectContaining({ netFen: 0, postings: [] }) })]);
    expect(state.carriedFen).toBe(0);
  });

  it('refuses a day that is not over in Shanghai as SETTLEMENT.DAY_NOT_OVER', () => {
    merchant.given(open).when(settle(figures('2026-09-11', 1, 0), '2026-09-11')).thenFails('SETTLEMENT.DAY_NOT_OVER', { day: '2026-09-11' });
    merchant.given(open).when(settle(figures('2026-09-12', 1, 0), '2026-09-11')).thenFails('SETTLEMENT.DAY_NOT_OVER');
  });

  it('settles each day once and in order: SETTLEMENT.DAY_SETTLED', () => {
    const settled = history(open, settle(figures('2026-09-10', 100, 0), '2026-09-12'));
    merchant.given(settled).when(settle(figures('2026-09-10', 100, 0), '2026-09-12')).thenFails('SETTLEMENT.DAY_SETTLED', { day: '2026-09-10', lastSettledDay: '2026-09-10' });
    merchant.given(settled).when(settle(figures('2026-09-09', 100, 0), '2026-09-12')).thenFails('SETTLEMENT.DAY_SETTLED');
    // A day without a settlement of its own is covered by the next one's.
    merchant.given(settled).when(settle(figures('2026-09-12', 100, 0, 200n), '2026-09-13')).result();
  });

  it('refuses figures read behind the last settlement as SETTLEMENT.BEHIND', () => {
    const settled = history(open, settle(figures('2026-09-10', 100, 0, 100n), '2026-09-11'));
    merchant.given(settled).when(settle(figures('2026-09-11', 100, 0, 99n), '2026-09-12')).thenFails('SETTLEMENT.BEHIND');
    merchant.given(settled).when(settle(figures('2026-09-11', 100, 0, 100n), '2026-09-12')).result();
  });

  it('goes on for a suspended merchant, never for one not admitted', () => {
    merchant.given([...open, suspended]).when(settle(figures('2026-09-10', 100, 0), '2026-09-11')).result();
    merchant.given([applied]).when(settle(figures('2026-09-10', 100, 0), '2026-09-11')).thenFails('MERCHANT.NOT_ADMITTED');
    merchant.given([]).when(settle(figures('2026-09-10', 100, 0), '2026-09-11')).thenFails('MERCHANT.NOT_FOUND');
  });

  it(`remembers the last ${REMEMBERED_SETTLEMENTS} settlements`, () => {
    const days: MerchantEvent[] = Array.from({ length: REMEMBERED_SETTLEMENTS + 2 }, (_, index) => ({
      type: 'MerchantDaySettled',
      data: {
        merchantId: SHOP,
        settlementId: `st-${index}`,
        day: new Date(Date.UTC(2025, 0, 1 + index)).toISOString().slice(0, 10),
        throughPosition: String(index),
        captureFen: 0,
        refundFen: 0,
        carriedFen: 0,
        netFen: 0,
        lines: 0,
        postings: [],
      },
    }));
    const state = merchant.given([...open, ...days]).state();
    expect(state.settlements).toHaveLength(REMEMBERED_SETTLEMENTS);
    expect(state.settlements[0]).toEqual({ day: '2025-01-03', throughPosition: '2' });
  });
});
