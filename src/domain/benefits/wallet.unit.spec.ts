import { commandSpec } from '../../../test/support/given-when-then';
import { balancesOf, postingsOf } from '../../../test/support/benefits-model';
import type { Posting } from '../shared';
import {
  DEFAULT_AUTHORISATION_TTL_MS,
  MAX_AUTHORISATION_TTL_MS,
  MAX_PAYMENT_FEN,
  MIN_AUTHORISATION_TTL_MS,
  authorisePayment,
  bindCard,
  capturePayment,
  dueWallet,
  evolveWallet,
  initialWalletState,
  refundPayment,
  usableVouchers,
  voidPayment,
  voucherGrant,
  walletCredit,
  type WalletEvent,
  type WalletState,
} from '.';

const wallet = commandSpec(initialWalletState, evolveWallet);

const M = 'm1';
const SHOP = 'shop-1'; // grocery
const OTHER_SHOP = 'shop-2';
const sh = (local: string): Date => new Date(`${local.replace(' ', 'T')}:00+08:00`);
const ms = (local: string): number => sh(local).getTime();
const cny = (debit: string, credit: string, amount: number): Posting => ({ debit, credit, amount, asset: 'CNY_FEN' });
const acct = {
  wallet: `wallet:${M}:available`,
  held: `wallet:${M}:held`,
  voucher: `voucher:${M}:available`,
  voucherHeld: `voucher:${M}:held`,
  receivable: `merchant:${SHOP}:receivable`,
  returns: 'transit:voucher-returns:p26',
};

const batchOf = (batchId: string) => ({ batchId, programmeId: 'p26', orgId: 'g1' });
const grant = (batchId: string, category: string, faceFen: number, from: string, until: string): WalletEvent =>
  voucherGrant(M, batchOf(batchId), { category, faceFen, validFromMs: ms(from), validUntilMs: ms(until) });

/** ¥100.00 in the wallet and four vouchers: two for groceries (the ¥15 one expiring first), one for books, one not valid yet. */
const credited = walletCredit(M, batchOf('b-money'), 10_000);
const voucherA = grant('va', 'grocery', 2_000, '2026-09-01 00:00', '2026-10-01 00:00');
const voucherB = grant('vb', 'grocery', 1_500, '2026-09-01 00:00', '2026-09-15 00:00');
const voucherBooks = grant('vbooks', 'books', 1_000, '2026-09-01 00:00', '2027-01-01 00:00');
const voucherLater = grant('vlater', 'grocery', 3_000, '2026-10-01 00:00', '2026-11-01 00:00');
const funded: WalletEvent[] = [credited, voucherA, voucherB, voucherBooks, voucherLater];

type Command = (state: WalletState) => WalletEvent[];
const NOW = '2026-09-10 10:00';
const authorise = (paymentId: string, amountFen: number, at = NOW, category = 'grocery', ttlMs?: number): Command => (state) =>
  authorisePayment(state, { memberId: M, paymentId, merchantId: SHOP, category, amountFen, ...(ttlMs === undefined ? {} : { ttlMs }) }, sh(at));
const capture = (paymentId: string, amountFen: number, at = NOW, merchantId = SHOP): Command => (state) => capturePayment(state, { paymentId, merchantId, amountFen }, sh(at));
const voidIt = (paymentId: string, merchantId = SHOP): Command => (state) => voidPayment(state, { paymentId, merchantId });
const refund = (paymentId: string, refundId: string, amountFen: number, at = NOW, merchantId = SHOP): Command => (state) =>
  refundPayment(state, { paymentId, merchantId, refundId, amountFen }, sh(at));
const due = (at: string): Command => (state) => dueWallet(state, sh(at));

function history(start: WalletEvent[], ...commands: Command[]): WalletEvent[] {
  const events = [...start];
  for (const command of commands) events.push(...command(wallet.given(events).state()));
  return events;
}

/** The wallet's account balances from the postings agree with its state, and no balance is negative. */
function expectLedgerMatches(events: WalletEvent[]): void {
  const state = wallet.given(events).state();
  const balances = balancesOf(events);
  expect({
    available: balances.get(acct.wallet) ?? 0,
    held: balances.get(acct.held) ?? 0,
    voucherAvailable: balances.get(acct.voucher) ?? 0,
    voucherHeld: balances.get(acct.voucherHeld) ?? 0,
  }).toEqual({ available: state.available, held: state.held, voucherAvailable: state.voucherAvailable, voucherHeld: state.voucherHeld });
  const vouchers = [...state.vouchers.values()];
  expect(vouchers.reduce((sum, voucher) => sum + voucher.available, 0)).toBe(state.voucherAvailable);
  expect(vouchers.reduce((sum, voucher) => sum + voucher.held, 0)).toBe(state.voucherHeld);
  for (const value of [state.available, state.held, ...vouchers.flatMap((voucher) => [voucher.available, voucher.held])]) expect(value).toBeGreaterThanOrEqual(0);
  for (const event of events) expect([...balancesOf([event]).values()].reduce((a, b) => a + b, 0)).toBe(0);
}

describe('walletCredit and voucherGrant (written by batches)', () => {
  it('credits a disbursement from its batch in transit', () => {
    expect(credited).toEqual({
      type: 'WalletCredited',
      data: { memberId: M, batchId: 'b-money', programmeId: 'p26', orgId: 'g1', amountFen: 10_000, postings: [cny('transit:disbursement:b-money', acct.wallet, 10_000)] },
    });
    expect(wallet.given([credited]).state()).toMatchObject({ memberId: M, available: 10_000 });
  });

  it('grants one voucher per member per campaign, named by the pair, from the campaign in transit', () => {
    expect(voucherA).toEqual({
      type: 'VoucherGranted',
      data: {
        memberId: M,
        voucherId: 'va:m1',
        batchId: 'va',
        programmeId: 'p26',
        orgId: 'g1',
        category: 'grocery',
        faceFen: 2_000,
        validFromMs: ms('2026-09-01 00:00'),
        validUntilMs: ms('2026-10-01 00:00'),
        postings: [cny('transit:vouchers:va', acct.voucher, 2_000)],
      },
    });
    expect(wallet.given(funded).state()).toMatchObject({ available: 10_000, voucherAvailable: 7_500, voucherHeld: 0 });
  });
});

describe('bindCard', () => {
  const card = { memberId: M, cardHmac: 'hmac-1', cardSealed: 'sealed-1', cardMasked: '6222 **** **** 1234' };

  it('binds a card, changes nothing for the same card, and binds another card', () => {
    wallet.given([]).when((state) => bindCard(state, card)).then([{ type: 'CardBound', data: card }]);
    const bound: WalletEvent = { type: 'CardBound', data: card };
    wallet.given([bound]).when((state) => bindCard(state, { ...card, cardSealed: 'sealed-again' })).then([]);
    expect(wallet.given([bound]).when((state) => bindCard(state, { ...card, cardHmac: 'hmac-2' })).result().state.card).toEqual({ cardHmac: 'hmac-2', cardMasked: card.cardMasked });
  });
});

describe('authorisePayment', () => {
  it('holds usable vouchers first, the soonest to expire first, then the wallet', () => {
    const { events, state } = wallet.given(funded).when(authorise('pay-1', 4_000)).result();
    expect(events).toEqual([
      {
        type: 'PaymentAuthorised',
        data: {
          memberId: M,
          paymentId: 'pay-1',
          merchantId: SHOP,
          category: 'grocery',
          amountFen: 4_000,
          walletFen: 500,
          vouchers: [
            { voucherId: 'vb:m1', amountFen: 1_500 },
            { voucherId: 'va:m1', amountFen: 2_000 },
          ],
          expiresAtMs: ms(NOW) + DEFAULT_AUTHORISATION_TTL_MS,
          postings: [cny(acct.wallet, acct.held, 500), cny(acct.voucher, acct.voucherHeld, 3_500)],
        },
      },
    ]);
    expect(state).toMatchObject({ available: 9_500, held: 500, voucherAvailable: 4_000, voucherHeld: 3_500 });
    expect(state.vouchers.get('va:m1')).toMatchObject({ available: 0, held: 2_000 });
    expectLedgerMatches([...funded, ...events]);
  });

  it('takes part of a voucher and nothing from the wallet when the vouchers cover the amount', () => {
    const { events, state } = wallet.given(funded).when(authorise('pay-1', 2_000)).result();
    expect(events[0]).toMatchObject({ data: { walletFen: 0, vouchers: [{ voucherId: 'vb:m1', amountFen: 1_500 }, { voucherId: 'va:m1', amountFen: 500 }] } });
    expect(events.flatMap(postingsOf)).toEqual([cny(acct.voucher, acct.voucherHeld, 2_000)]);
    expect(state.vouchers.get('va:m1')).toMatchObject({ available: 1_500, held: 500 });
  });

  it("respects each voucher's category and validity window", () => {
    expect(usableVouchers(wallet.given(funded).state(), 'grocery', ms(NOW)).map((voucher) => voucher.voucherId)).toEqual(['vb:m1', 'va:m1']);
    expect(usableVouchers(wallet.given(funded).state(), 'books', ms(NOW)).map((voucher) => voucher.voucherId)).toEqual(['vbooks:m1']);
    // At the instant a voucher's validity ends it is no longer usable; at the instant another's starts, it is.
    expect(usableVouchers(wallet.given(funded).state(), 'grocery', ms('2026-09-15 00:00')).map((voucher) => voucher.voucherId)).toEqual(['va:m1']);
    expect(usableVouchers(wallet.given(funded).state(), 'grocery', ms('2026-10-01 00:00')).map((voucher) => voucher.voucherId)).toEqual(['vlater:m1']);
    // A category without vouchers pays from the wallet alone.
    expect(wallet.given(funded).when(authorise('pay-1', 700, NOW, 'cinema')).result().events[0]).toMatchObject({ data: { walletFen: 700, vouchers: [] } });
  });

  it('refuses more than the wallet and usable vouchers hold as WALLET.INSUFFICIENT', () => {
    wallet.given(funded).when(authorise('pay-1', 13_501)).thenFails('WALLET.INSUFFICIENT', { requestedFen: 13_501, voucherFen: 3_500, walletFen: 10_000 });
    expect(wallet.given(funded).when(authorise('pay-1', 13_500)).result().state.available).toBe(0);
    wallet.given([]).when(authorise('pay-1', 1)).thenFails('WALLET.INSUFFICIENT');
  });

  it.each([0, -1, 1.5, MAX_PAYMENT_FEN + 1])('refuses %p fen as PAYMENT.AMOUNT_INVALID', (amountFen) => {
    wallet.given(funded).when(authorise('pay-1', amountFen)).thenFails('PAYMENT.AMOUNT_INVALID');
  });

  it('refuses a payment id used before as PAYMENT.EXISTS', () => {
    wallet.given(history(funded, authorise('pay-1', 100))).when(authorise('pay-1', 100)).thenFails('PAYMENT.EXISTS');
  });

  it("expires the hold after the terminal's time to live", () => {
    expect(wallet.given(funded).when(authorise('pay-1', 100, NOW, 'grocery', 60_000)).result().state.payments.get('pay-1')?.expiresAtMs).toBe(ms(NOW) + 60_000);
  });

  it('holds from 10 seconds to 7 days', () => {
    const expiresAtMs = (ttlMs: number): number | undefined => wallet.given(funded).when(authorise('pay-1', 100, NOW, 'grocery', ttlMs)).result().state.payments.get('pay-1')?.expiresAtMs;
    expect([MIN_AUTHORISATION_TTL_MS, MAX_AUTHORISATION_TTL_MS].map(expiresAtMs)).toEqual([ms(NOW) + 10_000, ms(NOW) + 7 * 24 * 3_600_000]);
  });

  it.each([0, -60_000, MIN_AUTHORISATION_TTL_MS - 1, MAX_AUTHORISATION_TTL_MS + 1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses a time to live of %p ms as PAYMENT.TTL_INVALID', (ttlMs) => {
    wallet.given(funded).when(authorise('pay-1', 100, NOW, 'grocery', ttlMs)).thenFails('PAYMENT.TTL_INVALID');
  });
});

describe('capturePayment', () => {
  const authorised = history(funded, authorise('pay-1', 4_000));

  it('captures the whole authorisation to the merchant, on the business day in Shanghai', () => {
    const { events, state } = wallet.given(authorised).when(capture('pay-1', 4_000, '2026-09-10 23:59')).result();
    expect(events).toEqual([
      {
        type: 'PaymentCaptured',
        data: {
          memberId: M,
          paymentId: 'pay-1',
          merchantId: SHOP,
          amountFen: 4_000,
          walletFen: 500,
          vouchers: [
            { voucherId: 'vb:m1', amountFen: 1_500 },
            { voucherId: 'va:m1', amountFen: 2_000 },
          ],
          releasedWalletFen: 0,
          releasedVouchers: [],
          day: '2026-09-10',
          postings: [cny(acct.held, acct.receivable, 500), cny(acct.voucherHeld, acct.receivable, 3_500)],
        },
      },
    ]);
    expect(state).toMatchObject({ available: 9_500, held: 0, voucherAvailable: 4_000, voucherHeld: 0 });
    expect(state.payments.get('pay-1')).toMatchObject({ status: 'captured', capturedFen: 4_000, capturedWalletFen: 500 });
    expectLedgerMatches([...authorised, ...events]);
    expect(wallet.given(authorised).when((s) => capturePayment(s, { paymentId: 'pay-1', merchantId: SHOP, amountFen: 4_000 }, new Date('2026-09-10T16:00:00Z'))).result().events[0]).toMatchObject({
      data: { day: '2026-09-11' },
    });
  });

  it('captures less than authorised from the vouchers first and releases the rest', () => {
    const { events, state } = wallet.given(authorised).when(capture('pay-1', 2_500)).result();
    expect(events).toEqual([
      expect.objectContaining({
        data: expect.objectContaining({
          amountFen: 2_500,
          walletFen: 0,
          vouchers: [
            { voucherId: 'vb:m1', amountFen: 1_500 },
            { voucherId: 'va:m1', amountFen: 1_000 },
          ],
          releasedWalletFen: 500,
          releasedVouchers: [{ voucherId: 'va:m1', amountFen: 1_000 }],
          postings: [cny(acct.voucherHeld, acct.receivable, 2_500), cny(acct.held, acct.wallet, 500), cny(acct.voucherHeld, acct.voucher, 1_000)],
        }),
      }),
    ]);
    expect(state).toMatchObject({ available: 10_000, held: 0, voucherAvailable: 5_000, voucherHeld: 0 });
    expect(state.vouchers.get('va:m1')).toMatchObject({ available: 1_000, held: 0 });
    expectLedgerMatches([...authorised, ...events]);
  });

  it('refuses more than authorised as PAYMENT.CAPTURE_EXCEEDS_AUTHORISATION', () => {
    wallet.given(authorised).when(capture('pay-1', 4_001)).thenFails('PAYMENT.CAPTURE_EXCEEDS_AUTHORISATION', { authorisedFen: 4_000, requestedFen: 4_001 });
    wallet.given(authorised).when(capture('pay-1', 0)).thenFails('PAYMENT.AMOUNT_INVALID');
  });

  it("reports another merchant's payment, like an unknown one, as PAYMENT.NOT_FOUND", () => {
    wallet.given(authorised).when(capture('pay-1', 100, NOW, OTHER_SHOP)).thenFails('PAYMENT.NOT_FOUND', { paymentId: 'pay-1' });
    wallet.given(authorised).when(capture('pay-9', 100)).thenFails('PAYMENT.NOT_FOUND');
  });

  it('refuses a payment captured, voided or expired before as PAYMENT.NOT_AUTHORISED', () => {
    wallet.given(history(authorised, capture('pay-1', 100))).when(capture('pay-1', 100)).thenFails('PAYMENT.NOT_AUTHORISED', { paymentId: 'pay-1', status: 'captured' });
    wallet.given(history(authorised, voidIt('pay-1'))).when(capture('pay-1', 100)).thenFails('PAYMENT.NOT_AUTHORISED');
    wallet.given(history(authorised, due('2026-09-10 10:15'))).when(capture('pay-1', 100)).thenFails('PAYMENT.NOT_AUTHORISED', { paymentId: 'pay-1', status: 'expired' });
  });
});

describe('voidPayment', () => {
  const authorised = history(funded, authorise('pay-1', 4_000));

  it('releases the whole hold to the wallet and the vouchers', () => {
    const { events, state } = wallet.given(authorised).when(voidIt('pay-1')).result();
    expect(events).toEqual([
      {
        type: 'PaymentVoided',
        data: {
          memberId: M,
          paymentId: 'pay-1',
          merchantId: SHOP,
          reason: 'voided',
          walletFen: 500,
          vouchers: [
            { voucherId: 'vb:m1', amountFen: 1_500 },
            { voucherId: 'va:m1', amountFen: 2_000 },
          ],
          postings: [cny(acct.held, acct.wallet, 500), cny(acct.voucherHeld, acct.voucher, 3_500)],
        },
      },
    ]);
    expect(state).toMatchObject({ available: 10_000, held: 0, voucherAvailable: 7_500, voucherHeld: 0 });
    expect(state.payments.get('pay-1')?.status).toBe('voided');
  });

  it("refuses a second void as PAYMENT.NOT_AUTHORISED and another merchant's payment as PAYMENT.NOT_FOUND", () => {
    wallet.given(history(authorised, voidIt('pay-1'))).when(voidIt('pay-1')).thenFails('PAYMENT.NOT_AUTHORISED');
    wallet.given(authorised).when(voidIt('pay-1', OTHER_SHOP)).thenFails('PAYMENT.NOT_FOUND');
  });
});

describe('refundPayment', () => {
  /** ¥40 captured: ¥5 from the wallet, ¥15 from voucher B, ¥20 from voucher A. */
  const captured = history(funded, authorise('pay-1', 4_000), capture('pay-1', 4_000));

  it('refunds to the wallet part first, then to the vouchers, the last used first', () => {
    const first = wallet.given(captured).when(refund('pay-1', 'r1', 1_000, '2026-09-12 09:00')).result();
    expect(first.events).toEqual([
      {
        type: 'PaymentRefunded',
        data: {
          memberId: M,
          paymentId: 'pay-1',
          merchantId: SHOP,
          refundId: 'r1',
          amountFen: 1_000,
          walletFen: 500,
          vouchers: [{ voucherId: 'va:m1', amountFen: 500 }],
          day: '2026-09-12',
          postings: [cny(acct.receivable, acct.wallet, 500), cny(acct.receivable, acct.voucher, 500)],
        },
      },
    ]);
    const then = history(captured, refund('pay-1', 'r1', 1_000));
    const second = wallet.given(then).when(refund('pay-1', 'r2', 3_000)).result();
    expect(second.events[0]).toMatchObject({
      data: {
        walletFen: 0,
        vouchers: [
          { voucherId: 'va:m1', amountFen: 1_500 },
          { voucherId: 'vb:m1', amountFen: 1_500 },
        ],
      },
    });
    expect(second.state).toMatchObject({ available: 10_000, voucherAvailable: 7_500 });
    expect(second.state.payments.get('pay-1')).toMatchObject({ refundedFen: 4_000, refundedWalletFen: 500, refunds: new Map([['r1', 1_000], ['r2', 3_000]]) });
    expectLedgerMatches([...then, ...second.events]);
  });

  it('refuses refunds beyond the capture as REFUND.EXCEEDS_CAPTURE, counting earlier refunds', () => {
    wallet.given(captured).when(refund('pay-1', 'r1', 4_001)).thenFails('REFUND.EXCEEDS_CAPTURE', { refundableFen: 4_000, requestedFen: 4_001 });
    wallet.given(history(captured, refund('pay-1', 'r1', 3_000))).when(refund('pay-1', 'r2', 1_001)).thenFails('REFUND.EXCEEDS_CAPTURE', { refundableFen: 1_000, requestedFen: 1_001 });
  });

  it('refunds a partial capture up to what was captured', () => {
    const partial = history(funded, authorise('pay-1', 4_000), capture('pay-1', 2_500));
    wallet.given(partial).when(refund('pay-1', 'r1', 2_501)).thenFails('REFUND.EXCEEDS_CAPTURE');
    expect(wallet.given(partial).when(refund('pay-1', 'r1', 2_500)).result().events[0]).toMatchObject({
      data: { walletFen: 0, vouchers: [{ voucherId: 'va:m1', amountFen: 1_000 }, { voucherId: 'vb:m1', amountFen: 1_500 }] },
    });
  });

  it('refuses a refund id used before (REFUND.EXISTS), an uncaptured payment (PAYMENT.NOT_CAPTURED), another merchant (PAYMENT.NOT_FOUND)', () => {
    wallet.given(history(captured, refund('pay-1', 'r1', 100))).when(refund('pay-1', 'r1', 100)).thenFails('REFUND.EXISTS', { refundId: 'r1' });
    wallet.given(history(funded, authorise('pay-1', 100))).when(refund('pay-1', 'r1', 100)).thenFails('PAYMENT.NOT_CAPTURED');
    wallet.given(captured).when(refund('pay-1', 'r1', 100, NOW, OTHER_SHOP)).thenFails('PAYMENT.NOT_FOUND');
    wallet.given(captured).when(refund('pay-1', 'r1', 0)).thenFails('PAYMENT.AMOUNT_INVALID');
  });
});

describe('dueWallet', () => {
  it('voids an authorisation at its expiry, not a millisecond before', () => {
    const authorised = history(funded, authorise('pay-1', 600, NOW, 'cinema'));
    wallet.given(authorised).when((state) => dueWallet(state, new Date(ms(NOW) + DEFAULT_AUTHORISATION_TTL_MS - 1))).then([]);
    const { events, state } = wallet.given(authorised).when((state) => dueWallet(state, new Date(ms(NOW) + DEFAULT_AUTHORISATION_TTL_MS))).result();
    expect(events).toEqual([expect.objectContaining({ type: 'PaymentVoided', data: expect.objectContaining({ reason: 'expired', walletFen: 600, postings: [cny(acct.held, acct.wallet, 600)] }) })]);
    expect(state.payments.get('pay-1')?.status).toBe('expired');
    expect(state.available).toBe(10_000);
  });

  it("expires a voucher's remaining value at the end of its validity towards its budget, not its held value", () => {
    const held = history(funded, authorise('pay-1', 1_000, NOW, 'grocery', 7 * 24 * 60 * 60 * 1000));
    wallet.given(held).when(due('2026-09-14 23:59')).then([]);
    const { events, state } = wallet.given(held).when(due('2026-09-15 00:00')).result();
    expect(events).toEqual([
      {
        type: 'VoucherExpired',
        data: { memberId: M, voucherId: 'vb:m1', expiryId: 'vb:m1:1', programmeId: 'p26', orgId: 'g1', amountFen: 500, postings: [cny(acct.voucher, acct.returns, 500)] },
      },
    ]);
    expect(state.vouchers.get('vb:m1')).toMatchObject({ available: 0, held: 1_000, expiries: 1 });
    expectLedgerMatches([...held, ...events]);
  });

  it('voids expired authorisations first, so the vouchers they release expire in the same call', () => {
    const held = history(funded, authorise('pay-1', 1_000));
    const { events, state } = wallet.given(held).when(due('2026-09-20 00:00')).result();
    expect(events.map((event) => event.type)).toEqual(['PaymentVoided', 'VoucherExpired']);
    expect(events[1]).toMatchObject({ data: { voucherId: 'vb:m1', expiryId: 'vb:m1:1', amountFen: 1_500 } });
    expect(state.vouchers.get('vb:m1')).toMatchObject({ available: 0, held: 0 });
  });

  it('expires again, as `<voucherId>:2`, value that came back to a voucher after its expiry (a release or a refund)', () => {
    // Voucher B pays ¥10 on 14 September; its other ¥5 expire on the 15th; ¥4 are refunded on the 16th.
    const refunded = history(
      funded,
      authorise('pay-1', 1_000, '2026-09-14 12:00'),
      capture('pay-1', 1_000, '2026-09-14 12:01'),
      due('2026-09-15 00:00'),
      refund('pay-1', 'r1', 400, '2026-09-16 10:00'),
    );
    expect(wallet.given(refunded).state().vouchers.get('vb:m1')).toMatchObject({ available: 400, expiries: 1 });
    wallet
      .given(refunded)
      .when(due('2026-09-16 10:00'))
      .then([
        {
          type: 'VoucherExpired',
          data: { memberId: M, voucherId: 'vb:m1', expiryId: 'vb:m1:2', programmeId: 'p26', orgId: 'g1', amountFen: 400, postings: [cny(acct.voucher, acct.returns, 400)] },
        },
      ]);
    // The same for value a partial capture releases after the voucher's expiry: ¥10 of B held, its other ¥5 expire, ¥6 captured, ¥4 released.
    const released = history(funded, authorise('pay-2', 1_000, '2026-09-14 23:50', 'grocery', 60 * 60 * 1000), due('2026-09-15 00:00'), capture('pay-2', 600, '2026-09-15 00:05'));
    expect(wallet.given(released).state().vouchers.get('vb:m1')).toMatchObject({ available: 400, held: 0, expiries: 1 });
    expect(wallet.given(released).when(due('2026-09-15 00:05')).result().events).toEqual([expect.objectContaining({ data: expect.objectContaining({ expiryId: 'vb:m1:2', amountFen: 400 }) })]);
  });

  it('has nothing due in a fresh wallet or an empty one', () => {
    wallet.given(funded).when(due(NOW)).then([]);
    wallet.given([]).when(due(NOW)).then([]);
  });
});
