import { DomainError, invariant, periodsOf, posting, type Posting } from '../shared';
import { benefitAccounts as acct } from './accounts';
import type { VoucherTerms } from './batch';

/**
 * A member's benefit wallet, the 工会E卡 (stream `wallet-<memberId>`): welfare money in fen, the
 * member's vouchers, the bound bank card, and payments at merchants in two phases (authorise a
 * hold, then capture or void it; refunds up to what was captured). Vouchers are spent first, the
 * ones that expire soonest first. Every movement carries its CNY_FEN postings; the wallet's and
 * the vouchers' available and held balances never go negative.
 */

export interface VoucherPart {
  voucherId: string;
  amountFen: number;
}

export type WalletEvent =
  | {
      type: 'WalletCredited';
      data: { memberId: string; batchId: string; programmeId: string; orgId: string; amountFen: number; postings: Posting[] };
    }
  | {
      type: 'VoucherGranted';
      data: {
        memberId: string;
        voucherId: string;
        batchId: string;
        programmeId: string;
        orgId: string;
        category: string;
        faceFen: number;
        validFromMs: number;
        validUntilMs: number;
        postings: Posting[];
      };
    }
  /** A voucher's remaining value, past its validity, on its way back to the budget that issued it. */
  | {
      type: 'VoucherExpired';
      data: { memberId: string; voucherId: string; expiryId: string; programmeId: string; orgId: string; amountFen: number; postings: Posting[] };
    }
  | { type: 'CardBound'; data: { memberId: string; cardHmac: string; cardSealed: string; cardMasked: string } }
  | {
      type: 'PaymentAuthorised';
      data: {
        memberId: string;
        paymentId: string;
        merchantId: string;
        category: string;
        amountFen: number;
        walletFen: number;
        vouchers: VoucherPart[];
        expiresAtMs: number;
        postings: Posting[];
      };
    }
  | {
      type: 'PaymentCaptured';
      data: {
        memberId: string;
        paymentId: string;
        merchantId: string;
        amountFen: number;
        walletFen: number;
        vouchers: VoucherPart[];
        releasedWalletFen: number;
        releasedVouchers: VoucherPart[];
        /** The merchant's business day (Asia/Shanghai) the capture settles in. */
        day: string;
        postings: Posting[];
      };
    }
  | {
      type: 'PaymentVoided';
      data: { memberId: string; paymentId: string; merchantId: string; reason: 'voided' | 'expired'; walletFen: number; vouchers: VoucherPart[]; postings: Posting[] };
    }
  | {
      type: 'PaymentRefunded';
      data: {
        memberId: string;
        paymentId: string;
        merchantId: string;
        refundId: string;
        amountFen: number;
        walletFen: number;
        vouchers: VoucherPart[];
        day: string;
        postings: Posting[];
      };
    };

export const walletStream = (memberId: string): string => `wallet-${memberId}`;

export interface Voucher {
  voucherId: string;
  batchId: string;
  programmeId: string;
  orgId: string;
  category: string;
  faceFen: number;
  available: number;
  held: number;
  validFromMs: number;
  validUntilMs: number;
  /** How many times remaining value expired (value released back after expiry expires again). */
  expiries: number;
}

export interface Payment {
  paymentId: string;
  merchantId: string;
  category: string;
  amountFen: number;
  walletFen: number;
  vouchers: VoucherPart[];
  status: 'authorised' | 'captured' | 'voided' | 'expired';
  expiresAtMs: number;
  capturedFen: number;
  capturedWalletFen: number;
  capturedVouchers: VoucherPart[];
  refundedFen: number;
  refundedWalletFen: number;
  refundedVouchers: ReadonlyMap<string, number>;
  refunds: ReadonlyMap<string, number>;
}

export interface WalletState {
  memberId: string;
  available: number;
  held: number;
  /** Total of all vouchers' available and held value (the voucher accounts). */
  voucherAvailable: number;
  voucherHeld: number;
  card: { cardHmac: string; cardMasked: string } | null;
  vouchers: ReadonlyMap<string, Voucher>;
  payments: ReadonlyMap<string, Payment>;
}

export const initialWalletState: WalletState = {
  memberId: '',
  available: 0,
  held: 0,
  voucherAvailable: 0,
  voucherHeld: 0,
  card: null,
  vouchers: new Map(),
  payments: new Map(),
};

const sum = (parts: readonly VoucherPart[]): number => parts.reduce((total, part) => total + part.amountFen, 0);

/** Applies `change` to each voucher named in `parts` with that part's amount. */
function changeVouchers(state: WalletState, parts: readonly VoucherPart[], change: (voucher: Voucher, amount: number) => Voucher): ReadonlyMap<string, Voucher> {
  if (parts.length === 0) return state.vouchers;
  const vouchers = new Map(state.vouchers);
  for (const part of parts) {
    const voucher = vouchers.get(part.voucherId);
    invariant(voucher, `voucher ${part.voucherId} exists`);
    vouchers.set(part.voucherId, change(voucher, part.amountFen));
  }
  return vouchers;
}

function withPayment(state: WalletState, payment: Payment): ReadonlyMap<string, Payment> {
  return new Map(state.payments).set(payment.paymentId, payment);
}

function paymentOf(state: WalletState, paymentId: string): Payment {
  const payment = state.payments.get(paymentId);
  invariant(payment, `payment ${paymentId} exists`);
  return payment;
}

export function evolveWallet(state: WalletState, event: WalletEvent): WalletState {
  switch (event.type) {
    case 'WalletCredited':
      return {
        ...state,
        memberId: event.data.memberId,
        available: state.available + event.data.amountFen,
      };
    case 'VoucherGranted': {
      const { memberId, voucherId, batchId, programmeId, orgId, category, faceFen, validFromMs, validUntilMs } = event.data;
      const voucher: Voucher = { voucherId, batchId, programmeId, orgId, category, faceFen, available: faceFen, held: 0, validFromMs, validUntilMs, expiries: 0 };
      return { ...state, memberId, voucherAvailable: state.voucherAvailable + faceFen, vouchers: new Map(state.vouchers).set(voucherId, voucher) };
    }
    case 'VoucherExpired': {
      const { voucherId, amountFen } = event.data;
      const vouchers = changeVouchers(state, [{ voucherId, amountFen }], (voucher, amount) => ({
        ...voucher,
        available: voucher.available - amount,
        expiries: voucher.expiries + 1,
      }));
      return { ...state, voucherAvailable: state.voucherAvailable - amountFen, vouchers };
    }
    case 'CardBound':
      return { ...state, memberId: event.data.memberId, card: { cardHmac: event.data.cardHmac, cardMasked: event.data.cardMasked } };
    case 'PaymentAuthorised': {
      const { paymentId, merchantId, category, amountFen, walletFen, vouchers, expiresAtMs } = event.data;
      const voucherFen = sum(vouchers);
      const payment: Payment = {
        paymentId,
        merchantId,
        category,
        amountFen,
        walletFen,
        vouchers,
        status: 'authorised',
        expiresAtMs,
        capturedFen: 0,
        capturedWalletFen: 0,
        capturedVouchers: [],
        refundedFen: 0,
        refundedWalletFen: 0,
        refundedVouchers: new Map(),
        refunds: new Map(),
      };
      return {
        ...state,
        memberId: event.data.memberId,
        available: state.available - walletFen,
        held: state.held + walletFen,
        voucherAvailable: state.voucherAvailable - voucherFen,
        voucherHeld: state.voucherHeld + voucherFen,
        vouchers: changeVouchers(state, vouchers, (voucher, amount) => ({ ...voucher, available: voucher.available - amount, held: voucher.held + amount })),
        payments: withPayment(state, payment),
      };
    }
    case 'PaymentCaptured': {
      const { paymentId, amountFen, walletFen, vouchers, releasedWalletFen, releasedVouchers } = event.data;
      const payment = paymentOf(state, paymentId);
      let next = changeVouchers(state, vouchers, (voucher, amount) => ({ ...voucher, held: voucher.held - amount }));
      next = changeVouchers({ ...state, vouchers: next }, releasedVouchers, (voucher, amount) => ({ ...voucher, held: voucher.held - amount, available: voucher.available + amount }));
      return {
        ...state,
        held: state.held - walletFen - releasedWalletFen,
        available: state.available + releasedWalletFen,
        voucherHeld: state.voucherHeld - sum(vouchers) - sum(releasedVouchers),
        voucherAvailable: state.voucherAvailable + sum(releasedVouchers),
        vouchers: next,
        payments: withPayment(state, { ...payment, status: 'captured', capturedFen: amountFen, capturedWalletFen: walletFen, capturedVouchers: vouchers }),
      };
    }
    case 'PaymentVoided': {
      const { paymentId, walletFen, vouchers, reason } = event.data;
      const payment = paymentOf(state, paymentId);
      return {
        ...state,
        held: state.held - walletFen,
        available: state.available + walletFen,
        voucherHeld: state.voucherHeld - sum(vouchers),
        voucherAvailable: state.voucherAvailable + sum(vouchers),
        vouchers: changeVouchers(state, vouchers, (voucher, amount) => ({ ...voucher, held: voucher.held - amount, available: voucher.available + amount })),
        payments: withPayment(state, { ...payment, status: reason === 'expired' ? 'expired' : 'voided' }),
      };
    }
    case 'PaymentRefunded': {
      const { paymentId, refundId, amountFen, walletFen, vouchers } = event.data;
      const payment = paymentOf(state, paymentId);
      const refundedVouchers = new Map(payment.refundedVouchers);
      for (const part of vouchers) refundedVouchers.set(part.voucherId, (refundedVouchers.get(part.voucherId) ?? 0) + part.amountFen);
      return {
        ...state,
        available: state.available + walletFen,
        voucherAvailable: state.voucherAvailable + sum(vouchers),
        vouchers: changeVouchers(state, vouchers, (voucher, amount) => ({ ...voucher, available: voucher.available + amount })),
        payments: withPayment(state, {
          ...payment,
          refundedFen: payment.refundedFen + amountFen,
          refundedWalletFen: payment.refundedWalletFen + walletFen,
          refundedVouchers,
          refunds: new Map(payment.refunds).set(refundId, amountFen),
        }),
      };
    }
    default: {
      const unknown: never = event;
      throw new Error(`unknown wallet event ${(unknown as { type: string }).type}`);
    }
  }
}

// ---------------------------------------------------------------- events written by batches

/** A disbursement chunk's credit to one wallet (appended with the chunk's other events in one commit). */
export function walletCredit(memberId: string, batch: { batchId: string; programmeId: string; orgId: string }, amountFen: number): WalletEvent {
  return {
    type: 'WalletCredited',
    data: { memberId, ...batch, amountFen, postings: [posting(acct.disbursementTransit(batch.batchId), acct.wallet(memberId), amountFen, 'CNY_FEN')] },
  };
}

/** A voucher campaign's voucher for one member: one per member per campaign, so its id is the pair. */
export const voucherIdOf = (batchId: string, memberId: string): string => `${batchId}:${memberId}`;

export function voucherGrant(memberId: string, batch: { batchId: string; programmeId: string; orgId: string }, terms: VoucherTerms): WalletEvent {
  return {
    type: 'VoucherGranted',
    data: {
      memberId,
      voucherId: voucherIdOf(batch.batchId, memberId),
      ...batch,
      ...terms,
      postings: [posting(acct.voucherTransit(batch.batchId), acct.voucher(memberId), terms.faceFen, 'CNY_FEN')],
    },
  };
}

// ---------------------------------------------------------------- commands

export const MAX_PAYMENT_FEN = 5_000_000; // ¥50,000.00 per payment
export const DEFAULT_AUTHORISATION_TTL_MS = 15 * 60 * 1000;
/** How long a hold may last: the bounds BENEFITS_AUTHORISATION_TTL_SECONDS is configured within (10 s to 7 days). */
export const MIN_AUTHORISATION_TTL_MS = 10 * 1000;
export const MAX_AUTHORISATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

function postingsOf(entries: Array<[string, string, number]>): Posting[] {
  return entries.filter(([, , amount]) => amount > 0).map(([debit, credit, amount]) => posting(debit, credit, amount, 'CNY_FEN'));
}

function checkPaymentAmount(amountFen: number): void {
  if (!Number.isSafeInteger(amountFen) || amountFen < 1 || amountFen > MAX_PAYMENT_FEN) {
    throw new DomainError('PAYMENT.AMOUNT_INVALID', `a payment is from 0.01 to ${MAX_PAYMENT_FEN / 100} yuan`, 400, { amountFen });
  }
}

export function bindCard(state: WalletState, command: { memberId: string; cardHmac: string; cardSealed: string; cardMasked: string }): WalletEvent[] {
  if (state.card?.cardHmac === command.cardHmac) return [];
  return [{ type: 'CardBound', data: { ...command } }];
}

/** Vouchers usable at a merchant of `category` at `nowMs`, soonest expiry first. */
export function usableVouchers(state: WalletState, category: string, nowMs: number): Voucher[] {
  return [...state.vouchers.values()]
    .filter((voucher) => voucher.category === category && voucher.available > 0 && voucher.validFromMs <= nowMs && nowMs < voucher.validUntilMs)
    .sort((a, b) => a.validUntilMs - b.validUntilMs || (a.voucherId < b.voucherId ? -1 : a.voucherId > b.voucherId ? 1 : 0));
}

export function authorisePayment(
  state: WalletState,
  command: { memberId: string; paymentId: string; merchantId: string; category: string; amountFen: number; ttlMs?: number },
  now: Date,
): WalletEvent[] {
  checkPaymentAmount(command.amountFen);
  // Checked here too, not only in the configuration: a hold that expires at once, or never (NaN, Infinity), is refused, not recorded.
  const ttlMs = command.ttlMs ?? DEFAULT_AUTHORISATION_TTL_MS;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < MIN_AUTHORISATION_TTL_MS || ttlMs > MAX_AUTHORISATION_TTL_MS) {
    throw new DomainError('PAYMENT.TTL_INVALID', 'an authorisation holds the money from 10 seconds to 7 days', 400, { ttlMs });
  }
  if (state.payments.has(command.paymentId)) {
    throw new DomainError('PAYMENT.EXISTS', 'a payment with this id exists', 409, { paymentId: command.paymentId });
  }
  let left = command.amountFen;
  const vouchers: VoucherPart[] = [];
  for (const voucher of usableVouchers(state, command.category, now.getTime())) {
    if (left === 0) break;
    const take = Math.min(voucher.available, left);
    vouchers.push({ voucherId: voucher.voucherId, amountFen: take });
    left -= take;
  }
  if (left > state.available) {
    throw new DomainError('WALLET.INSUFFICIENT', 'the wallet and usable vouchers hold less than the amount', 422, {
      requestedFen: command.amountFen,
      voucherFen: command.amountFen - left,
      walletFen: state.available,
    });
  }
  const walletFen = left;
  const memberId = command.memberId;
  return [
    {
      type: 'PaymentAuthorised',
      data: {
        memberId,
        paymentId: command.paymentId,
        merchantId: command.merchantId,
        category: command.category,
        amountFen: command.amountFen,
        walletFen,
        vouchers,
        expiresAtMs: now.getTime() + ttlMs,
        postings: postingsOf([
          [acct.wallet(memberId), acct.walletHeld(memberId), walletFen],
          [acct.voucher(memberId), acct.voucherHeld(memberId), sum(vouchers)],
        ]),
      },
    },
  ];
}

function requirePayment(state: WalletState, paymentId: string, merchantId: string): Payment {
  const payment = state.payments.get(paymentId);
  // Another merchant's payment is reported as missing: a terminal learns nothing about other merchants.
  if (!payment || payment.merchantId !== merchantId) throw new DomainError('PAYMENT.NOT_FOUND', 'no such payment', 404, { paymentId });
  return payment;
}

/** Captures up to the authorised amount: vouchers first, then the wallet; the rest is released. */
export function capturePayment(state: WalletState, command: { paymentId: string; merchantId: string; amountFen: number }, now: Date): WalletEvent[] {
  const payment = requirePayment(state, command.paymentId, command.merchantId);
  if (payment.status !== 'authorised') {
    throw new DomainError('PAYMENT.NOT_AUTHORISED', `the payment is ${payment.status}`, 409, { paymentId: payment.paymentId, status: payment.status });
  }
  checkPaymentAmount(command.amountFen);
  if (command.amountFen > payment.amountFen) {
    throw new DomainError('PAYMENT.CAPTURE_EXCEEDS_AUTHORISATION', 'a capture is at most the authorised amount', 422, {
      authorisedFen: payment.amountFen,
      requestedFen: command.amountFen,
    });
  }
  let left = command.amountFen;
  const vouchers: VoucherPart[] = [];
  const releasedVouchers: VoucherPart[] = [];
  for (const part of payment.vouchers) {
    const take = Math.min(part.amountFen, left);
    left -= take;
    if (take > 0) vouchers.push({ voucherId: part.voucherId, amountFen: take });
    if (part.amountFen > take) releasedVouchers.push({ voucherId: part.voucherId, amountFen: part.amountFen - take });
  }
  const walletFen = left;
  invariant(walletFen <= payment.walletFen, 'the authorisation covers the capture');
  const releasedWalletFen = payment.walletFen - walletFen;
  const memberId = state.memberId;
  const receivable = acct.merchantReceivable(payment.merchantId);
  return [
    {
      type: 'PaymentCaptured',
      data: {
        memberId,
        paymentId: payment.paymentId,
        merchantId: payment.merchantId,
        amountFen: command.amountFen,
        walletFen,
        vouchers,
        releasedWalletFen,
        releasedVouchers,
        day: periodsOf(now).day,
        postings: postingsOf([
          [acct.walletHeld(memberId), receivable, walletFen],
          [acct.voucherHeld(memberId), receivable, sum(vouchers)],
          [acct.walletHeld(memberId), acct.wallet(memberId), releasedWalletFen],
          [acct.voucherHeld(memberId), acct.voucher(memberId), sum(releasedVouchers)],
        ]),
      },
    },
  ];
}

function voided(state: WalletState, payment: Payment, reason: 'voided' | 'expired'): WalletEvent {
  const memberId = state.memberId;
  return {
    type: 'PaymentVoided',
    data: {
      memberId,
      paymentId: payment.paymentId,
      merchantId: payment.merchantId,
      reason,
      walletFen: payment.walletFen,
      vouchers: payment.vouchers,
      postings: postingsOf([
        [acct.walletHeld(memberId), acct.wallet(memberId), payment.walletFen],
        [acct.voucherHeld(memberId), acct.voucher(memberId), sum(payment.vouchers)],
      ]),
    },
  };
}

export function voidPayment(state: WalletState, command: { paymentId: string; merchantId: string }): WalletEvent[] {
  const payment = requirePayment(state, command.paymentId, command.merchantId);
  if (payment.status !== 'authorised') {
    throw new DomainError('PAYMENT.NOT_AUTHORISED', `the payment is ${payment.status}`, 409, { paymentId: payment.paymentId, status: payment.status });
  }
  return [voided(state, payment, 'voided')];
}

/**
 * Refunds up to what was captured and not yet refunded: to the wallet part first, then to the
 * vouchers (last used, first refunded). Value refunded to a voucher past its validity expires
 * again and goes back to its budget.
 */
export function refundPayment(state: WalletState, command: { paymentId: string; merchantId: string; refundId: string; amountFen: number }, now: Date): WalletEvent[] {
  const payment = requirePayment(state, command.paymentId, command.merchantId);
  if (payment.refunds.has(command.refundId)) {
    throw new DomainError('REFUND.EXISTS', 'a refund with this id exists for the payment', 409, { refundId: command.refundId });
  }
  if (payment.status !== 'captured') {
    throw new DomainError('PAYMENT.NOT_CAPTURED', `only a captured payment is refunded; this one is ${payment.status}`, 409, { paymentId: payment.paymentId });
  }
  checkPaymentAmount(command.amountFen);
  const refundable = payment.capturedFen - payment.refundedFen;
  if (command.amountFen > refundable) {
    throw new DomainError('REFUND.EXCEEDS_CAPTURE', 'refunds add up to at most the captured amount', 422, { refundableFen: refundable, requestedFen: command.amountFen });
  }
  let left = command.amountFen;
  const walletFen = Math.min(payment.capturedWalletFen - payment.refundedWalletFen, left);
  left -= walletFen;
  const vouchers: VoucherPart[] = [];
  for (const part of [...payment.capturedVouchers].reverse()) {
    if (left === 0) break;
    const take = Math.min(part.amountFen - (payment.refundedVouchers.get(part.voucherId) ?? 0), left);
    if (take > 0) vouchers.push({ voucherId: part.voucherId, amountFen: take });
    left -= take;
  }
  invariant(left === 0, 'a refund within the captured amount is covered by the captured parts');
  const memberId = state.memberId;
  const receivable = acct.merchantReceivable(payment.merchantId);
  return [
    {
      type: 'PaymentRefunded',
      data: {
        memberId,
        paymentId: payment.paymentId,
        merchantId: payment.merchantId,
        refundId: command.refundId,
        amountFen: command.amountFen,
        walletFen,
        vouchers,
        day: periodsOf(now).day,
        postings: postingsOf([
          [receivable, acct.wallet(memberId), walletFen],
          [receivable, acct.voucher(memberId), sum(vouchers)],
        ]),
      },
    },
  ];
}

/**
 * What time alone has made due: authorisations past their expiry are voided, and the remaining
 * value of vouchers past their validity expires towards the budget that issued them.
 */
export function dueWallet(state: WalletState, now: Date): WalletEvent[] {
  const nowMs = now.getTime();
  const events: WalletEvent[] = [];
  for (const payment of state.payments.values()) {
    if (payment.status === 'authorised' && nowMs >= payment.expiresAtMs) events.push(voided(state, payment, 'expired'));
  }
  // Vouchers released by those voids are counted too: fold them before looking at the vouchers.
  const after = events.reduce(evolveWallet, state);
  for (const voucher of after.vouchers.values()) {
    if (voucher.available > 0 && nowMs >= voucher.validUntilMs) {
      events.push({
        type: 'VoucherExpired',
        data: {
          memberId: state.memberId,
          voucherId: voucher.voucherId,
          expiryId: `${voucher.voucherId}:${voucher.expiries + 1}`,
          programmeId: voucher.programmeId,
          orgId: voucher.orgId,
          amountFen: voucher.available,
          postings: [posting(acct.voucher(state.memberId), acct.voucherReturns(voucher.programmeId), voucher.available, 'CNY_FEN')],
        },
      });
    }
  }
  return events;
}
