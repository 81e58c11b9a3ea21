import { DomainError, posting, type Posting } from '../shared';
import { benefitAccounts as acct } from './accounts';

/**
 * A merchant where members spend their wallets and vouchers (stream `merchant-<merchantId>`).
 * It applies to the union that will sign it; an admission and a suspension take effect through
 * an approved proposal (maker-checker). A suspended merchant takes no new payments; refunds,
 * captures of earlier authorisations and settlements go on. Each business day (Asia/Shanghai)
 * closes into a settlement, captures minus refunds, and a positive settlement requests a payout
 * to the merchant's bank account (paid by the payouts worker). A negative one (refunds of
 * earlier days) is carried into the next.
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
  | {
      type: 'MerchantDaySettled';
      data: {
        merchantId: string;
        settlementId: string;
        day: string;
        /** Captures and refunds of business days up to `day`, recorded up to this global position, that no earlier settlement covered. */
        throughPosition: string;
        captureFen: number;
        refundFen: number;
        /** Carried from earlier settlements whose refunds exceeded their captures (zero or negative). */
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
    };

export const merchantStream = (merchantId: string): string => `merchant-${merchantId}`;

/** How many settlements the state remembers for deciding which lines are covered (a year's days). */
export const REMEMBERED_SETTLEMENTS = 400;

export interface MerchantState {
  status: 'none' | 'applied' | 'admitted' | 'suspended';
  merchantId: string;
  name: string;
  category: string;
  signingOrgId: string;
  card: { cardHmac: string; cardSealed: string; cardMasked: string } | null;
  /** Settled days and the positions they cover, oldest first: a line is covered when its day and position are within one. */
  settlements: ReadonlyArray<{ day: string; throughPosition: string }>;
  carriedFen: number;
}

export const initialMerchantState: MerchantState = {
  status: 'none',
  merchantId: '',
  name: '',
  category: '',
  signingOrgId: '',
  card: null,
  settlements: [],
  carriedFen: 0,
};

export function evolveMerchant(state: MerchantState, event: MerchantEvent): MerchantState {
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
    case 'MerchantDaySettled': {
      const { day, throughPosition, netFen } = event.data;
      const settlements = [...state.settlements, { day, throughPosition }].slice(-REMEMBERED_SETTLEMENTS);
      return { ...state, settlements, carriedFen: netFen > 0 ? 0 : netFen };
    }
    case 'PayoutRequested':
      return state;
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

/** The captures and refunds of a settlement, summed by the caller over the lines no earlier settlement covered. */
export interface SettlementFigures {
  settlementId: string;
  payoutId: string;
  day: string;
  throughPosition: bigint;
  captureFen: number;
  refundFen: number;
  lines: number;
}

/** Closes `day` (which must be over, Asia/Shanghai) into a settlement; each day once, in order. */
export function settleDay(state: MerchantState, figures: SettlementFigures, today: string): MerchantEvent[] {
  requireMerchant(state);
  if (state.status === 'applied') throw new DomainError('MERCHANT.NOT_ADMITTED', 'the merchant has not been admitted', 409, { merchantId: state.merchantId });
  if (!(figures.day < today)) throw new DomainError('SETTLEMENT.DAY_NOT_OVER', `the business day ${figures.day} is not over`, 409, { day: figures.day });
  const last = state.settlements[state.settlements.length - 1];
  if (last && figures.day <= last.day) {
    throw new DomainError('SETTLEMENT.DAY_SETTLED', `the merchant's days up to ${last.day} are settled`, 409, { day: figures.day, lastSettledDay: last.day });
  }
  if (last && figures.throughPosition < BigInt(last.throughPosition)) {
    throw new DomainError('SETTLEMENT.BEHIND', 'the merchant ledger has not caught up with the last settlement; try again', 409, {});
  }
  const netFen = figures.captureFen - figures.refundFen + state.carriedFen;
  const events: MerchantEvent[] = [
    {
      type: 'MerchantDaySettled',
      data: {
        merchantId: state.merchantId,
        settlementId: figures.settlementId,
        day: figures.day,
        throughPosition: figures.throughPosition.toString(),
        captureFen: figures.captureFen,
        refundFen: figures.refundFen,
        carriedFen: state.carriedFen,
        netFen,
        lines: figures.lines,
        postings: netFen > 0 ? [posting(acct.merchantReceivable(state.merchantId), acct.merchantPayable(state.merchantId), netFen, 'CNY_FEN')] : [],
      },
    },
  ];
  if (netFen > 0) {
    events.push({
      type: 'PayoutRequested',
      data: { payoutId: figures.payoutId, merchantId: state.merchantId, settlementId: figures.settlementId, amountFen: netFen, ...state.card! },
    });
  }
  return events;
}
