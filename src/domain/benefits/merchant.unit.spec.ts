import { commandSpec } from '../../../test/support/given-when-then';
import {
  admitMerchant,
  applyMerchant,
  evolveMerchant,
  initialMerchantState,
  merchantLine,
  reinstateMerchant,
  requireAcceptsPayments,
  settleDay,
  suspendMerchant,
  type MerchantEvent,
  type MerchantLine,
  type MerchantState,
} from '.';

const merchant = commandSpec(initialMerchantState, evolveMerchant);

const SHOP = 'shop-1';
const card = { cardHmac: 'hmac-9', cardSealed: 'sealed-9', cardMasked: '6222 **** **** 1234' };
const application = { merchantId: SHOP, name: '职工超市', category: 'grocery', signingOrgId: 'c1', ...card, appliedBy: 'admin-1' };

const applied: MerchantEvent = { type: 'MerchantApplied', data: application };
const admitted: MerchantEvent = { type: 'MerchantAdmitted', data: { merchantId: SHOP, proposalId: 'pr-1' } };
const suspended: MerchantEvent = { type: 'MerchantSuspended', data: { merchantId: SHOP, reason: 'complaints', proposalId: 'pr-2' } };

type Command = (state: MerchantState) => MerchantEvent[];
let lineCount = 0;
/** A capture or refund line of `day`, as the application records it beside the wallet's PaymentCaptured / PaymentRefunded. */
const line = (day: string, kind: MerchantLine['kind'], amountFen: number): MerchantEvent => {
  lineCount += 1;
  return merchantLine({ merchantId: SHOP, kind, paymentId: `pay-${lineCount}`, refundId: kind === 'refund' ? `r-${lineCount}` : null, memberId: 'm-1', amountFen, day });
};
const capture = (day: string, amountFen: number): MerchantEvent => line(day, 'capture', amountFen);
const refund = (day: string, amountFen: number): MerchantEvent => line(day, 'refund', amountFen);
const settle = (day: string, today: string): Command => (state) => settleDay(state, { settlementId: `st-${day}`, payoutId: `po-${day}`, day }, today);
/** The settlement event's figures, without its postings. */
const figuresOf = (events: MerchantEvent[]): unknown => {
  const settled = events.find((event) => event.type === 'MerchantDaySettled');
  if (settled?.type !== 'MerchantDaySettled') throw new Error('no MerchantDaySettled');
  const { day, throughRevision, captureFen, refundFen, carriedFen, netFen, lines } = settled.data;
  return { day, throughRevision, captureFen, refundFen, carriedFen, netFen, lines };
};

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

describe('merchantLine and the open days', () => {
  const open = [applied, admitted];

  it('accumulates the lines not settled yet by business day, and counts the stream revision', () => {
    const state = merchant.given([...open, capture('2026-09-10', 3_000), capture('2026-09-11', 700), refund('2026-09-10', 500), capture('2026-09-10', 1_000)]).state();
    expect(state.openDays).toEqual(
      new Map([
        ['2026-09-10', { captureFen: 4_000, refundFen: 500, lines: 3 }],
        ['2026-09-11', { captureFen: 700, refundFen: 0, lines: 1 }],
      ]),
    );
    expect(state.revision).toBe(5);
    expect(state.lastSettledDay).toBeNull();
  });

  it('builds the MerchantLineRecorded event from the line as given', () => {
    const recorded = { merchantId: SHOP, kind: 'refund' as const, paymentId: 'pay-9', refundId: 'r-9', memberId: 'm-1', amountFen: 120, day: '2026-09-10' };
    expect(merchantLine(recorded)).toEqual({ type: 'MerchantLineRecorded', data: recorded });
  });
});

describe('settleDay', () => {
  const open = [applied, admitted];

  it('settles the day\'s lines into a payable and a payout to the bound card', () => {
    merchant
      .given([...open, capture('2026-09-10', 30_000), capture('2026-09-10', 20_000), refund('2026-09-10', 2_000)])
      .when(settle('2026-09-10', '2026-09-11'))
      .then([
        {
          type: 'MerchantDaySettled',
          data: {
            merchantId: SHOP,
            settlementId: 'st-2026-09-10',
            day: '2026-09-10',
            throughRevision: 4,
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

  it('takes the days up to the settled day only; later days stay open for the next settlement', () => {
    const lines = [...open, capture('2026-09-08', 100), capture('2026-09-10', 2_000), refund('2026-09-09', 30), capture('2026-09-11', 50_000), refund('2026-09-12', 7)];
    const first = merchant.given(lines).when(settle('2026-09-10', '2026-09-12')).result();
    expect(figuresOf(first.events)).toEqual({ day: '2026-09-10', throughRevision: 6, captureFen: 2_100, refundFen: 30, carriedFen: 0, netFen: 2_070, lines: 3 });
    expect([...first.state.openDays.keys()]).toEqual(['2026-09-11', '2026-09-12']);
    expect(first.state.lastSettledDay).toBe('2026-09-10');

    const next = merchant.given([...lines, ...first.events]).when(settle('2026-09-11', '2026-09-12')).result();
    expect(figuresOf(next.events)).toEqual({ day: '2026-09-11', throughRevision: 8, captureFen: 50_000, refundFen: 0, carriedFen: 0, netFen: 50_000, lines: 1 });
    expect([...next.state.openDays.keys()]).toEqual(['2026-09-12']);
  });

  it('closes today early; a line recorded later today goes into the next settlement', () => {
    const early = history([...open, capture('2026-09-11', 1_000)], settle('2026-09-11', '2026-09-11'));
    expect(figuresOf(early.slice(3))).toMatchObject({ day: '2026-09-11', captureFen: 1_000, lines: 1 });
    // Today is settled: it cannot be closed again, even though a line of it comes in after the settlement.
    const late = [...early, capture('2026-09-11', 400), refund('2026-09-11', 50)];
    merchant.given(late).when(settle('2026-09-11', '2026-09-11')).thenFails('SETTLEMENT.DAY_SETTLED', { day: '2026-09-11', lastSettledDay: '2026-09-11' });
    expect(merchant.given(late).state().openDays).toEqual(new Map([['2026-09-11', { captureFen: 400, refundFen: 50, lines: 2 }]]));
    // The next day's settlement takes the late lines of the settled day with its own.
    const next = merchant.given([...late, capture('2026-09-12', 5)]).when(settle('2026-09-12', '2026-09-13')).result();
    expect(figuresOf(next.events)).toMatchObject({ day: '2026-09-12', captureFen: 405, refundFen: 50, netFen: 355, lines: 3 });
    expect(next.state.openDays.size).toBe(0);
  });

  it('refuses a day that has not begun in Shanghai as SETTLEMENT.DAY_IN_FUTURE', () => {
    merchant.given([...open, capture('2026-09-11', 1)]).when(settle('2026-09-12', '2026-09-11')).thenFails('SETTLEMENT.DAY_IN_FUTURE', { day: '2026-09-12', today: '2026-09-11' });
  });

  it('records as throughRevision the revision of the merchant stream before the settlement', () => {
    const events = [...open, capture('2026-09-09', 10), suspended, refund('2026-09-09', 10), capture('2026-09-10', 99)];
    const first = merchant.given(events).when(settle('2026-09-09', '2026-09-10')).result();
    expect(figuresOf(first.events)).toMatchObject({ throughRevision: events.length - 1, lines: 2, netFen: 0 });
    expect(first.state.revision).toBe(events.length); // A zero net: the settlement only, no payout.
    const again = [...events, ...first.events, capture('2026-09-10', 1)];
    expect(figuresOf(merchant.given(again).when(settle('2026-09-10', '2026-09-10')).result().events)).toMatchObject({ throughRevision: again.length - 1, captureFen: 100, lines: 2 });
  });

  it('carries a negative net into the next settlement, without postings or payout', () => {
    const negative = [...open, capture('2026-09-10', 1_000), refund('2026-09-10', 3_000)];
    const { events, state } = merchant.given(negative).when(settle('2026-09-10', '2026-09-11')).result();
    expect(events).toEqual([expect.objectContaining({ type: 'MerchantDaySettled', data: expect.objectContaining({ netFen: -2_000, carriedFen: 0, postings: [] }) })]);
    expect(state.carriedFen).toBe(-2_000);

    const carried = history(negative, settle('2026-09-10', '2026-09-11'));
    // Still negative the next day: carried again, summed.
    expect(merchant.given([...carried, capture('2026-09-11', 500)]).when(settle('2026-09-11', '2026-09-12')).result().state.carriedFen).toBe(-1_500);
    // Positive again: the payout is the net after the carried amount, and nothing is carried on.
    const next = merchant.given([...carried, capture('2026-09-11', 5_000)]).when(settle('2026-09-11', '2026-09-12')).result();
    expect(next.events.map((event) => event.type)).toEqual(['MerchantDaySettled', 'PayoutRequested']);
    expect(next.events[0]).toMatchObject({ data: { captureFen: 5_000, carriedFen: -2_000, netFen: 3_000 } });
    expect(next.events[1]).toMatchObject({ data: { amountFen: 3_000 } });
    expect(next.state.carriedFen).toBe(0);
  });

  it('settles a day without lines at zero, with nothing paid or carried', () => {
    const { events, state } = merchant.given(open).when(settle('2026-09-10', '2026-09-11')).result();
    expect(events).toEqual([expect.objectContaining({ data: expect.objectContaining({ captureFen: 0, refundFen: 0, lines: 0, netFen: 0, postings: [] }) })]);
    expect(state.carriedFen).toBe(0);
  });

  it('settles each day once and in order: SETTLEMENT.DAY_SETTLED', () => {
    const settled = history(open, settle('2026-09-10', '2026-09-12'));
    merchant.given(settled).when(settle('2026-09-10', '2026-09-12')).thenFails('SETTLEMENT.DAY_SETTLED', { day: '2026-09-10', lastSettledDay: '2026-09-10' });
    merchant.given(settled).when(settle('2026-09-09', '2026-09-12')).thenFails('SETTLEMENT.DAY_SETTLED');
    // A day without a settlement of its own is covered by the next one's.
    merchant.given([...settled, capture('2026-09-11', 100), capture('2026-09-12', 100)]).when(settle('2026-09-12', '2026-09-13')).result();
  });

  it('goes on for a suspended merchant, never for one not admitted', () => {
    merchant.given([...open, capture('2026-09-10', 100), suspended]).when(settle('2026-09-10', '2026-09-11')).result();
    merchant.given([applied]).when(settle('2026-09-10', '2026-09-11')).thenFails('MERCHANT.NOT_ADMITTED');
    merchant.given([]).when(settle('2026-09-10', '2026-09-11')).thenFails('MERCHANT.NOT_FOUND');
  });
});
