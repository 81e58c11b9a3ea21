import type { ProposalView } from '../../application/benefits';
import type { BatchState, MerchantState, Payment, ProgrammeState, VoucherPart, WalletState } from '../../domain/benefits';
import { fenToYuan } from '../../domain/shared';

/**
 * How the benefits context's states look over HTTP: amounts as yuan text ("200.00", from whole
 * fen with decimal.js), instants as ISO 8601, personal data only masked.
 */

const yuan = fenToYuan;
const iso = (ms: number): string => new Date(ms).toISOString();
const parts = (list: readonly VoucherPart[]) => list.map((part) => ({ voucherId: part.voucherId, amount: yuan(part.amountFen) }));

/** The programme's budget tree, limited to the unions the caller sees (null: all). */
export function presentProgramme(state: ProgrammeState, visible: readonly string[] | null) {
  const shown = visible === null ? null : new Set(visible);
  return {
    programmeId: state.programmeId,
    name: state.name,
    year: state.year,
    rootOrgId: state.rootOrgId,
    status: state.status,
    budgets: [...state.budgets.values()]
      .filter((node) => shown === null || shown.has(node.orgId))
      .map((node) => ({
        orgId: node.orgId,
        parentOrgId: node.parentOrgId,
        funded: yuan(node.funded),
        received: yuan(node.received),
        allocated: yuan(node.allocatedOut),
        returnedUp: yuan(node.returnedUp),
        returnedIn: yuan(node.returnedIn),
        disbursed: yuan(node.disbursed),
        vouchersIssued: yuan(node.vouchersIssued),
        vouchersReturned: yuan(node.vouchersReturned),
        remaining: yuan(node.balance),
      })),
  };
}

export function presentProposal(view: ProposalView) {
  const { amountFen, expiresAtMs, action, ...rest } = view;
  const { amountFen: actionAmount, ...actionRest } = action;
  return {
    ...rest,
    amount: amountFen === null ? null : yuan(amountFen),
    action: { ...actionRest, ...(typeof actionAmount === 'number' ? { amount: yuan(actionAmount) } : {}) },
    expiresAt: iso(expiresAtMs),
  };
}

export function presentBatch(state: BatchState) {
  return {
    batchId: state.batchId,
    kind: state.kind,
    programmeId: state.programmeId,
    orgId: state.orgId,
    status: state.status,
    memberCount: state.memberCount,
    total: yuan(state.totalFen),
    paidCount: state.paidCount,
    paid: yuan(state.paidFen),
    proposalId: state.proposalId,
    voucher: state.voucher
      ? { category: state.voucher.category, faceValue: yuan(state.voucher.faceFen), validFrom: iso(state.voucher.validFromMs), validUntil: iso(state.voucher.validUntilMs) }
      : null,
  };
}

export function presentWallet(memberId: string, state: WalletState) {
  return {
    memberId,
    available: yuan(state.available),
    held: yuan(state.held),
    voucherAvailable: yuan(state.voucherAvailable),
    voucherHeld: yuan(state.voucherHeld),
    card: state.card ? state.card.cardMasked : null,
    vouchers: [...state.vouchers.values()].map((voucher) => ({
      voucherId: voucher.voucherId,
      category: voucher.category,
      faceValue: yuan(voucher.faceFen),
      available: yuan(voucher.available),
      held: yuan(voucher.held),
      validFrom: iso(voucher.validFromMs),
      validUntil: iso(voucher.validUntilMs),
    })),
  };
}

export function presentPayment(payment: Payment) {
  return {
    paymentId: payment.paymentId,
    merchantId: payment.merchantId,
    status: payment.status,
    amount: yuan(payment.amountFen),
    fromWallet: yuan(payment.walletFen),
    fromVouchers: parts(payment.vouchers),
    captured: yuan(payment.capturedFen),
    refunded: yuan(payment.refundedFen),
    expiresAt: iso(payment.expiresAtMs),
  };
}

export function presentMerchant(state: MerchantState) {
  return {
    merchantId: state.merchantId,
    name: state.name,
    category: state.category,
    signingOrgId: state.signingOrgId,
    status: state.status,
    bankCard: state.card?.cardMasked ?? null,
    lastSettledDay: state.lastSettledDay,
    carried: yuan(state.carriedFen),
  };
}

/** A settlement or payout event's data, amounts in yuan (the card only masked). */
export function presentSettlement(data: Record<string, unknown> | null) {
  if (!data) return null;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (key === 'postings' || key === 'cardHmac' || key === 'cardSealed') continue;
    out[key.endsWith('Fen') ? key.slice(0, -3) : key] = key.endsWith('Fen') && typeof value === 'number' ? yuan(value) : value;
  }
  return out;
}

/** Projection rows: every `*_fen` column as yuan under the name without `_fen`, other columns as they are. */
export function presentRow(row: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (/fen$/i.test(key) && (typeof value === 'number' || typeof value === 'string') && value !== '') {
      out[key.replace(/_?[Ff]en$/, '')] = yuan(Number(value));
    } else {
      out[key] = value instanceof Date ? value.toISOString() : value;
    }
  }
  return out;
}
