import { DomainError, posting, type Posting } from '../shared';
import { benefitAccounts as acct } from './accounts';
import { evolvePayouts, type PayoutEvent, type PayoutRecord } from './payout';

/**
 * A merchant where members spend their wallets and vouchers (stream `merchant-<merchantId>`).
 * It applies to the union that will sign it; an admission and a suspension take effect through
 * an approved proposal (maker-checker). A suspended merchant takes no new payments; refunds,
 * captures of earlier authorisations and settlements go on. Each business day (Asia/Shanghai)
 * closes into a settlement, captures minus refunds, and a positive settlement requests a payout
 * to the merchant's bank account (paid by the payouts worker, which records its outcome here:
 * payout.ts). A negative one (refunds of earlier days) is carried into the next, and so is a
 * payout the gateway refused.
 *
 * The merchant's own stream holds a line for every capture and refund, recorded in the same
 * commit as the wallet event that moved the money (CommandHandler's `alongside`). A settlement is
 * then a fold of the merchant's stream: exactly the lines recorded before it, each in one
 * settlement only. (Summing a read model instead could not be exact: the global feed is ordered
 * by transaction, so a line with a lower position can become visible after a settlement that
 * looked past it.)
 */

export const CATEGORY = /^[a-z][a-z0-9-]{1,31}$/;

export type MerchantEvent =
  | {
      type: 'MerchantApplied';
      data: { merchantId: string; name: string; category: string; signingOrgId: string; cardHmac: string; cardSealed: string; cardMasked: string; appliedBy: string };
    }
  | { type: 'MerchantAdmitted'; data: { merchantId: string; proposalId: string } }
  | { type: 'MerchantSuspended'; data: { merchantId: string; reason: string; proposalId: string } }
  | { type: 'MerchantReinstated'; data: { merchantId: string; by: string } }
  /** A capture or refund at this merchant (the money moved in the member's wallet, in the same commit). */
  | { type: 'MerchantLineRecorded'; data: MerchantLine }
  | {
      type: 'MerchantDaySettled';
      data: {
        merchantId: string;
        settlementId: string;
        day: string;
        /** The merchant stream's revision before this event: every line recorded up to it with a business day up to `day`, not settled before, is in. */
        throughRevision: number;
        captureFen: number;
        refundFen: number;
        /** Carried from earlier settlements: negative when their refunds exceeded their captures, positive after a failed payout. */
        carriedFen: number;
        /** captureFen − refundFen + carriedFen; paid out when positive, carried when not. */
        netFen: number;
        lines: number;
        postings: Posting[];
      };
    }
  | {
      type: 'PayoutRequested';
      data: { payoutId: string; merchantId: string; settlementId: string; amountFen: number; cardHmac: string; cardSealed: string; cardMasked: string };
    }
  /** The payouts worker's outcome of a PayoutRequested (payout.ts). */
  | PayoutEvent;

export interface MerchantLine {
  merchantId: string;
  kind: 'capture' | 'refund';
  paymentId: string;
  refundId: string | null;
  memberId: string;
  amountFen: number;
  /** The business day (Asia/Shanghai) the line belongs to. */
  day: string;
}

export const merchantStream = (merchantId: string): string => `merchant-${merchantId}`;

/** Captures and refunds of one business day not settled yet. */
interface OpenDay {
  captureFen: number;
  refundFen: number;
  lines: number;
}

export interface MerchantState {
  status: 'none' | 'applied' | 'admitted' | 'suspended';
  merchantId: string;
  name: string;
  category: string;
  signingOrgId: string;
  card: { cardHmac: string; cardSealed: string; cardMasked: string } | null;
  /** Revision of the last event folded (-1: none). */
  revision: number;
  /** Lines not settled yet, by business day. */
  openDays: ReadonlyMap<string, OpenDay>;
  lastSettledDay: string | null;
  carriedFen: number;
  /** Open payouts, and the last REMEMBERED_PAYOUTS resolved ones, by payout id. */
  payouts: ReadonlyMap<string, PayoutRecord>;
}

export const initialMerchantState: MerchantState = {
  status: 'none',
  merchantId: '',
  name: '',
  category: '',
  signingOrgId: '',
  card: null,
  revision: -1,
  openDays: new Map(),
  lastSettledDay: null,
  carriedFen: 0,
  payouts: new Map(),
};

export function evolveMerchant(previous: MerchantState, event: MerchantEvent): MerchantState {
  const state = { ...previous, revision: previous.revision + 1 };
  switch (event.type) {
    case 'MerchantApplied': {
      const { merchantId, name, category, signingOrgId, cardHmac, cardSealed, cardMasked } = event.data;
      return { ...state, status: 'applied', merchantId, name, category, signingOrgId, card: { cardHmac, cardSealed, cardMasked } };
    }
    case 'MerchantAdmitted':
    case 'MerchantReinstated':
      return { ...state, status: 'admitted' };
    case 'MerchantSuspended':
      return { ...state, status: 'suspended' };
    case 'MerchantLineRecorded': {
      const { day, kind, amountFen } = event.data;
      const open = state.openDays.get(day) ?? { captureFen: 0, refundFen: 0, lines: 0 };
      const next = kind === 'capture' ? { ...open, captureFen: open.captureFen + amountFen } : { ...open, refundFen: open.refundFen + amountFen };
      return { ...state, openDays: new Map(state.openDays).set(day, { ...next, lines: open.lines + 1 }) };
    }
    case 'MerchantDaySettled': {
      const { day, netFen } = event.data;
      const openDays = new Map([...state.openDays].filter(([openDay]) => openDay > day));
      return { ...state, openDays, lastSettledDay: day, carriedFen: netFen > 0 ? 0 : netFen };
    }
    case 'PayoutRequested':
    case 'PayoutSucceeded':
      return { ...state, payouts: evolvePayouts(state.payouts, event, state.revision) };
    case 'PayoutFailed':
      // The refused amount is owed again: the next settlement carries it.
      return { ...state, payouts: evolvePayouts(state.payouts, event, state.revision), carriedFen: state.carriedFen + event.data.amountFen };
    default: {
      const unknown: never = event;
      throw new Error(`unknown merchant event ${(unknown as { type: string }).type}`);
    }
  }
}

export function applyMerchant(
  state: MerchantState,
  command: { merchantId: string; name: string; category: string; signingOrgId: string; cardHmac: string; cardSealed: string; cardMasked: string; appliedBy: string },
): MerchantEvent[] {
  if (state.status !== 'none') throw new DomainError('MERCHANT.EXISTS', 'a merchant with this id exists', 409, { merchantId: command.merchantId });
  if (!CATEGORY.test(command.category)) throw new DomainError('MERCHANT.CATEGORY_INVALID', 'a category is 2 to 32 lowercase letters, digits or dashes', 400);
  return [{ type: 'MerchantApplied', data: { ...command } }];
}

function requireMerchant(state: MerchantState): void {
  if (state.status === 'none') throw new DomainError('MERCHANT.NOT_FOUND', 'no such merchant', 404);
}

export function admitMerchant(state: MerchantState, proposalId: string): MerchantEvent[] {
  requireMerchant(state);
  if (state.status !== 'applied') throw new DomainError('MERCHANT.NOT_APPLIED', `the merchant is ${state.status}`, 409, { merchantId: state.merchantId });
  return [{ type: 'MerchantAdmitted', data: { merchantId: state.merchantId, proposalId } }];
}

export function suspendMerchant(state: MerchantState, command: { reason: string; proposalId: string }): MerchantEvent[] {
  requireMerchant(state);
  if (state.status !== 'admitted') throw new DomainError('MERCHANT.NOT_ADMITTED', `the merchant is ${state.status}`, 409, { merchantId: state.merchantId });
  return [{ type: 'MerchantSuspended', data: { merchantId: state.merchantId, ...command } }];
}

export function reinstateMerchant(state: MerchantState, by: string): MerchantEvent[] {
  requireMerchant(state);
  if (state.status !== 'suspended') throw new DomainError('MERCHANT.NOT_SUSPENDED', `the merchant is ${state.status}`, 409, { merchantId: state.merchantId });
  return [{ type: 'MerchantReinstated', data: { merchantId: state.merchantId, by } }];
}

/** A merchant takes a new payment only while admitted. */
export function requireAcceptsPayments(state: MerchantState): void {
  requireMerchant(state);
  if (state.status === 'suspended') throw new DomainError('MERCHANT.SUSPENDED', 'the merchant is suspended and takes no new payments', 403, { merchantId: state.merchantId });
  if (state.status !== 'admitted') throw new DomainError('MERCHANT.NOT_ADMITTED', 'the merchant has not been admitted', 403, { merchantId: state.merchantId });
}

/** Records a capture or refund on the merchant's stream (appended beside the wallet event that moved the money). */
export function merchantLine(line: MerchantLine): MerchantEvent {
  return { type: 'MerchantLineRecorded', data: line };
}

/**
 * Closes `day` (today or earlier, Asia/Shanghai) into a settlement: every line not settled yet
 * whose business day is `day` or earlier (a late line of a settled day goes into the next
 * settlement), plus what earlier settlements carried. Each day once, in order.
 */
export function settleDay(state: MerchantState, ids: { settlementId: string; payoutId: string; day: string }, today: string): MerchantEvent[] {
  requireMerchant(state);
  if (state.status === 'applied') throw new DomainError('MERCHANT.NOT_ADMITTED', 'the merchant has not been admitted', 409, { merchantId: state.merchantId });
  const { day } = ids;
  // Today may be closed early (the end of a shift): whatever is recorded later that day goes into the next settlement.
  if (day > today) throw new DomainError('SETTLEMENT.DAY_IN_FUTURE', `the business day ${day} has not begun`, 409, { day, today });
  if (state.lastSettledDay !== null && day <= state.lastSettledDay) {
    throw new DomainError('SETTLEMENT.DAY_SETTLED', `the merchant's days up to ${state.lastSettledDay} are settled`, 409, { day, lastSettledDay: state.lastSettledDay });
  }
  let captureFen = 0;
  let refundFen = 0;
  let lines = 0;
  for (const [openDay, open] of state.openDays) {
    if (openDay > day) continue;
    captureFen += open.captureFen;
    refundFen += open.refundFen;
    lines += open.lines;
  }
  const netFen = captureFen - refundFen + state.carriedFen;
  const events: MerchantEvent[] = [
    {
      type: 'MerchantDaySettled',
      data: {
        merchantId: state.merchantId,
        settlementId: ids.settlementId,
        day,
        throughRevision: state.revision,
        captureFen,
        refundFen,
        carriedFen: state.carriedFen,
        netFen,
        lines,
        postings: netFen > 0 ? [posting(acct.merchantReceivable(state.merchantId), acct.merchantPayable(state.merchantId), netFen, 'CNY_FEN')] : [],
      },
    },
  ];
  if (netFen > 0) {
    events.push({
      type: 'PayoutRequested',
      data: { payoutId: ids.payoutId, merchantId: state.merchantId, settlementId: ids.settlementId, amountFen: netFen, ...state.card! },
    });
  }
  return events;
}
