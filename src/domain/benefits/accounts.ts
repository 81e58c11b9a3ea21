/**
 * The benefit economy's accounts (asset CNY_FEN only: points never share one). A posting debits
 * the account money leaves and credits the one it reaches. Accounts that must never go negative:
 * `budget:`, `wallet:`, `voucher:` (verify checks them at every position). `fund-source:` and
 * `union-funds:` are the world outside the ledger; `transit:` accounts are empty once the movement
 * that passes through them is complete; `merchant:…:receivable` is what the union owes a merchant
 * (negative when refunds exceeded captures since the last settlement); `bank:payouts` is what the
 * payment gateway paid out to merchants' bank cards.
 */
export const FUND_SOURCES = ['union_funds', 'donation', 'government', 'other'] as const;
/** union_funds: 工会经费 allocation; donation: 捐赠; government: 财政补助. */
export type FundSource = (typeof FUND_SOURCES)[number];

export const benefitAccounts = {
  fundSource: (source: FundSource) => `fund-source:${source}`,
  budget: (programmeId: string, orgId: string) => `budget:${programmeId}:${orgId}`,
  /** Where a closed programme's remainder goes back to: the root union's own funds. */
  unionFunds: (orgId: string) => `union-funds:${orgId}`,
  disbursementTransit: (batchId: string) => `transit:disbursement:${batchId}`,
  voucherTransit: (campaignId: string) => `transit:vouchers:${campaignId}`,
  voucherReturns: (programmeId: string) => `transit:voucher-returns:${programmeId}`,
  wallet: (memberId: string) => `wallet:${memberId}:available`,
  walletHeld: (memberId: string) => `wallet:${memberId}:held`,
  voucher: (memberId: string) => `voucher:${memberId}:available`,
  voucherHeld: (memberId: string) => `voucher:${memberId}:held`,
  merchantReceivable: (merchantId: string) => `merchant:${merchantId}:receivable`,
  merchantPayable: (merchantId: string) => `merchant:${merchantId}:payable`,
  /** Money paid out of the ledger to merchants' bank cards through the payment gateway (the outside world). */
  payoutsPaid: () => 'bank:payouts',
};

/** Prefixes of accounts whose balance may never be negative, at any position of the log. */
export const NON_NEGATIVE_ACCOUNT_PREFIXES = ['budget:', 'wallet:', 'voucher:'] as const;

/** Ids in this context: the same alphabet as organisation ids, so they fit into account names. */
export const BENEFIT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Largest single amount (¥100,000,000.00): far above any programme, far below a posting's limit. */
export const MAX_AMOUNT_FEN = 10_000_000_000;

/**
 * Largest total funding of one programme (¥1,000,000,000.00), refused beyond as
 * BUDGET.PROGRAMME_TOO_LARGE. Every amount a programme moves comes out of its funding (an
 * allocation, a return, a reservation, vouchers issued or returned, the remainder at the close),
 * so no posting of it can exceed this; MAX_POSTING_AMOUNT (src/domain/shared/postings.ts,
 * ¥10,000,000,000.00) is ten times more, the headroom for what sums over programmes (a wallet, a
 * merchant's settlement). programme.unit.spec.ts checks the relation.
 */
export const MAX_PROGRAMME_FEN = MAX_AMOUNT_FEN * 10;
