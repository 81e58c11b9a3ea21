import { DomainError, invariant, periodsOf, posting, type Posting } from '../shared';
import { benefitAccounts as acct } from './accounts';
import type { MerchantState } from './merchant';

/**
 * The outcome of a settlement's payout, on the merchant's stream (docs/BENEFITS.md, Payouts). A
 * positive settlement records `PayoutRequested`; the payouts worker pays the merchant's bank card
 * through the payment gateway (its idempotency key is the payout id) and records what happened,
 * once per payout id:
 *
 * - `PayoutSucceeded`: the gateway paid. `merchant:<id>:payable → bank:payouts`: the money has
 *   left the ledger for the merchant's bank account.
 * - `PayoutFailed`: the gateway refused for good (a closed card, a card the vault can no longer
 *   open). The compensating posting returns the money `merchant:<id>:payable → receivable`, and the
 *   amount is carried into the merchant's next settlement, which requests it again (with whatever
 *   card the merchant has then). A failure is recorded only on a definitive answer: an unknown
 *   outcome (a timeout) is never compensated, since the money may have left.
 *
 * Once succeeded or failed, a payout stays so: the other outcome is refused, the same one is
 * nothing to do (a redelivered job).
 */

export type PayoutEvent =
  | {
      type: 'PayoutSucceeded';
      data: {
        payoutId: string;
        merchantId: string;
        settlementId: string;
        amountFen: number;
        /** The gateway's own id of the payment (on its statement). */
        gatewayReference: string;
        /** When the gateway says it paid (ISO 8601), and that moment's business day in Asia/Shanghai: the statement it is on. */
        paidAt: string;
        paidDay: string;
        postings: Posting[];
      };
    }
  | {
      type: 'PayoutFailed';
      data: {
        payoutId: string;
        merchantId: string;
        settlementId: string;
        amountFen: number;
        /** Stable code of the refusal (the gateway's, or CARD_UNREADABLE) and its text. */
        code: string;
        reason: string;
        postings: Posting[];
      };
    };

export interface PayoutRecord {
  payoutId: string;
  settlementId: string;
  amountFen: number;
  status: 'requested' | 'succeeded' | 'failed';
  /** The merchant stream's revision of the PayoutRequested: where the payouts worker's job points. */
  requestRevision: number;
  /** The card to pay, sealed, while the payout is open (dropped once resolved: states stay small). */
  cardSealed: string | null;
}

/**
 * Resolved payouts a merchant's state remembers (open ones are always kept): more than a year of
 * daily settlements, so an outcome recorded again long after is still recognised as a repeat.
 */
export const REMEMBERED_PAYOUTS = 400;
export const MAX_PAYOUT_REASON_CHARS = 500;
const GATEWAY_REFERENCE = /^[\x21-\x7e]{1,128}$/;
const FAILURE_CODE = /^[A-Z][A-Z0-9_.]{1,63}$/;

type PayoutRequest = { type: 'PayoutRequested'; data: { payoutId: string; settlementId: string; amountFen: number; cardSealed: string } };

/** The payouts part of evolveMerchant: a request (at `revision` of the stream) opens a payout, an outcome resolves it. */
export function evolvePayouts(payouts: ReadonlyMap<string, PayoutRecord>, event: PayoutRequest | PayoutEvent, revision: number): ReadonlyMap<string, PayoutRecord> {
  const next = new Map(payouts);
  if (event.type === 'PayoutRequested') {
    const { payoutId, settlementId, amountFen, cardSealed } = event.data;
    next.set(payoutId, { payoutId, settlementId, amountFen, status: 'requested', requestRevision: revision, cardSealed });
    return next;
  }
  const record = next.get(event.data.payoutId);
  invariant(record && record.status === 'requested', `an outcome of payout ${event.data.payoutId} follows its request, once`);
  // Re-inserted, so the map's order is the order of resolution and the oldest resolved goes first.
  next.delete(record.payoutId);
  next.set(record.payoutId, { ...record, status: event.type === 'PayoutSucceeded' ? 'succeeded' : 'failed', cardSealed: null });
  let resolved = 0;
  for (const candidate of next.values()) if (candidate.status !== 'requested') resolved += 1;
  for (const [payoutId, candidate] of next) {
    if (resolved <= REMEMBERED_PAYOUTS) break;
    if (candidate.status === 'requested') continue;
    next.delete(payoutId);
    resolved -= 1;
  }
  return next;
}

/** The open payout requested at `revision` of the merchant's stream; undefined when none is open there. */
export function openPayoutAt(state: MerchantState, revision: number): PayoutRecord | undefined {
  for (const record of state.payouts.values()) if (record.requestRevision === revision && record.status === 'requested') return record;
  return undefined;
}

function openPayout(state: MerchantState, payoutId: string): PayoutRecord | null {
  if (state.status === 'none') throw new DomainError('MERCHANT.NOT_FOUND', 'no such merchant', 404);
  const record = state.payouts.get(payoutId);
  if (!record) throw new DomainError('PAYOUT.NOT_FOUND', `the merchant has no payout ${payoutId}`, 404, { payoutId });
  return record.status === 'requested' ? record : null;
}

/** The gateway paid the payout: the payable leaves the ledger. Nothing to do when already recorded; refused after a failure. */
export function recordPayoutSucceeded(state: MerchantState, outcome: { payoutId: string; gatewayReference: string; paidAt: string }): PayoutEvent[] {
  const record = openPayout(state, outcome.payoutId);
  if (!record) {
    const status = state.payouts.get(outcome.payoutId)!.status;
    if (status === 'succeeded') return [];
    throw new DomainError('PAYOUT.ALREADY_FAILED', `payout ${outcome.payoutId} was recorded as failed`, 409, { payoutId: outcome.payoutId });
  }
  if (!GATEWAY_REFERENCE.test(outcome.gatewayReference)) throw new DomainError('PAYOUT.OUTCOME_INVALID', 'a gateway reference is 1 to 128 printable characters', 422);
  const paidAtMs = Date.parse(outcome.paidAt);
  if (!Number.isFinite(paidAtMs)) throw new DomainError('PAYOUT.OUTCOME_INVALID', 'the gateway gave no valid payment time', 422);
  const paidAt = new Date(paidAtMs);
  return [
    {
      type: 'PayoutSucceeded',
      data: {
        payoutId: record.payoutId,
        merchantId: state.merchantId,
        settlementId: record.settlementId,
        amountFen: record.amountFen,
        gatewayReference: outcome.gatewayReference,
        paidAt: paidAt.toISOString(),
        paidDay: periodsOf(paidAt).day,
        postings: [posting(acct.merchantPayable(state.merchantId), acct.payoutsPaid(), record.amountFen, 'CNY_FEN')],
      },
    },
  ];
}

/**
 * The gateway refused the payout for good: the payable returns to the receivable and is carried
 * into the next settlement. Nothing to do when already recorded; refused after a success.
 */
export function recordPayoutFailed(state: MerchantState, outcome: { payoutId: string; code: string; reason: string }): PayoutEvent[] {
  const record = openPayout(state, outcome.payoutId);
  if (!record) {
    const status = state.payouts.get(outcome.payoutId)!.status;
    if (status === 'failed') return [];
    throw new DomainError('PAYOUT.ALREADY_SUCCEEDED', `payout ${outcome.payoutId} was recorded as paid`, 409, { payoutId: outcome.payoutId });
  }
  if (!FAILURE_CODE.test(outcome.code)) throw new DomainError('PAYOUT.OUTCOME_INVALID', 'a failure code is 2 to 64 of A-Z 0-9 _ .', 422);
  return [
    {
      type: 'PayoutFailed',
      data: {
        payoutId: record.payoutId,
        merchantId: state.merchantId,
        settlementId: record.settlementId,
        amountFen: record.amountFen,
        code: outcome.code,
        reason: outcome.reason.slice(0, MAX_PAYOUT_REASON_CHARS),
        postings: [posting(acct.merchantPayable(state.merchantId), acct.merchantReceivable(state.merchantId), record.amountFen, 'CNY_FEN')],
      },
    },
  ];
}
