import { BATCHES_PAGE_MAX, BATCH_RESULTS_PAGE_MAX, MERCHANTS_PAGE_MAX, MERCHANT_PAGE_MAX, PROPOSALS_PAGE_MAX, WALLET_STATEMENT_PAGE_MAX } from '../../projections/benefits';
import { array, int, object, oneOf, optional, str } from '../common/validation';

/** Request bodies, queries and path parameters of the benefits routes (TypeBox, see common/validation.ts). */

/** Ids of programmes, batches and merchants: they become part of stream and account names. */
export const BENEFIT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const ORG_ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Yuan as text, at most two decimals: "200.00", "0.5", "1200000". */
export const YUAN = /^(0|[1-9][0-9]{0,12})(\.[0-9]{1,2})?$/;
/** A business day, YYYY-MM-DD; month and day in range, so that a day like 2026-10-99 is not settled (it sorts between real days). */
const DAY = /^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/;
const CATEGORY = /^[a-z][a-z0-9-]*$/;
const MEMBER_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
/**
 * A page cursor that is a position in the log (the `nextCursor` of the page before). At most 18
 * digits, so that it always fits the bigint the query casts it to: 19 digits could overflow it and
 * answer 500 instead of 400 (as statementQuery does in api/ledger).
 */
const position = (description: string) => str({ min: 1, max: 18, pattern: /^[0-9]+$/, description });

const id = (description: string) => str({ min: 1, max: 64, pattern: BENEFIT_ID, description });
const orgId = (description: string) => str({ min: 1, max: 64, pattern: ORG_ID, description });
const yuan = (description: string) => str({ min: 1, max: 16, pattern: YUAN, description });
const instant = (description: string) => str({ min: 20, max: 30, pattern: /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?(Z|[+-][0-9]{2}:[0-9]{2})$/, description });

export const programmeParams = object({ programmeId: id('the programme') });
export const proposalParams = object({ proposalId: str({ min: 36, max: 36, pattern: UUID }) });
export const batchParams = object({ batchId: id('the batch') });
export const merchantParams = object({ merchantId: id('the merchant') });
export const paymentParams = object({ paymentId: str({ min: 36, max: 36, pattern: UUID }) });

export const openProgrammeSchema = object({
  programmeId: id('your id for the programme, for example mid-autumn-2026'),
  name: str({ min: 1, max: 100 }),
  year: int({ min: 2000, max: 2100 }),
  rootOrgId: orgId('the union whose budget is funded; its subtree receives allocations'),
});
export const fundingSchema = object({
  amount: yuan('yuan, for example "1200000.00"'),
  source: oneOf(['union_funds', 'donation', 'government', 'other'] as const),
  reference: str({ min: 1, max: 200, description: 'the funding document: an allocation decision, a donation receipt' }),
});
export const allocationSchema = object({ fromOrgId: orgId('the allocating union'), toOrgId: orgId('a direct child union'), amount: yuan('yuan') });
export const returnSchema = object({ fromOrgId: orgId('the union returning unused money to the one it came from'), amount: yuan('yuan') });

export const voucherTermsSchema = object({
  category: str({ min: 2, max: 32, pattern: CATEGORY, description: 'merchant category the vouchers are spent at' }),
  faceValue: yuan('yuan per voucher'),
  validFrom: instant('ISO 8601 instant'),
  validUntil: instant('ISO 8601 instant; at most a year after validFrom'),
});
export const batchSchema = object({
  batchId: id('your id for the batch'),
  kind: oneOf(['money', 'vouchers'] as const),
  programmeId: id('the programme paying'),
  orgId: orgId('the union whose budget pays; members must be in its subtree'),
  amount: optional(yuan('yuan per member (money batches without a member list)')),
  total: optional(yuan('yuan shared equally by every active member of the union: each gets the floor of the exact share, the fen left over go one each to the first members (ordered by id)')),
  members: optional(array(object({ memberId: str({ min: 1, max: 64, pattern: MEMBER_ID }), amount: yuan('yuan') }), { min: 1, max: 5_000 })),
  voucher: optional(voucherTermsSchema),
});
export const batchCsvQuery = object({ batchId: id('your id for the batch'), programmeId: id('the programme paying'), orgId: orgId('the union whose budget pays') });
// Page sizes are the read models' own limits: a larger one would reach the query and fail its check with a 500.
export const batchResultsQuery = object({
  result: optional(oneOf(['pending', 'paid', 'unpaid'] as const)),
  afterSeq: optional(int({ min: -1, max: 1_000_000 })),
  limit: optional(int({ min: 1, max: BATCH_RESULTS_PAGE_MAX })),
});
export const batchesQuery = object({
  status: optional(oneOf(['drafting', 'sealed', 'approved', 'paying', 'stopped', 'completed', 'cancelled'] as const)),
  before: optional(str({ min: 1, max: 120, pattern: /^[0-9T:.Z+-]+\|[A-Za-z0-9_-]+$/, description: 'the nextCursor of the previous page' })),
  limit: optional(int({ min: 1, max: BATCHES_PAGE_MAX })),
});
export const rejectionSchema = object({ reason: str({ min: 1, max: 500 }) });
export const proposalsQuery = object({
  status: optional(oneOf(['pending', 'approved', 'rejected', 'expired'] as const)),
  // A position (the inbox pages by the proposals' positions in the log): any other text failed the bigint cast with a 500.
  before: optional(position('the nextCursor of the previous page')),
  limit: optional(int({ min: 1, max: PROPOSALS_PAGE_MAX })),
});

export const merchantSchema = object({
  merchantId: id('your id for the merchant'),
  name: str({ min: 1, max: 100 }),
  category: str({ min: 2, max: 32, pattern: CATEGORY }),
  signingOrgId: orgId('the union that signs the merchant'),
  bankCard: str({ min: 16, max: 23, pattern: /^[0-9 -]+$/, description: 'the settlement account’s card number (kept as an HMAC and a sealed copy)' }),
});
export const suspensionSchema = object({ reason: str({ min: 1, max: 500 }) });
export const settlementSchema = object({ day: str({ min: 10, max: 10, pattern: DAY, description: 'the business day (Asia/Shanghai) to close' }) });
/** A wallet statement's page: newest first, before a position. */
export const walletStatementQuery = object({ before: optional(position('the nextCursor of the previous page')), limit: optional(int({ min: 1, max: WALLET_STATEMENT_PAGE_MAX })) });
/** A merchant's captures and refunds: newest first, before a position. */
export const merchantLinesQuery = object({ before: optional(position('the nextCursor of the previous page')), limit: optional(int({ min: 1, max: MERCHANT_PAGE_MAX })) });
/**
 * A merchant's settlements: latest day first, before a day. The cursor is the last settlement's
 * day (settlementsOf), so a digits-only cursor refused the nextCursor the previous page answered.
 */
export const settlementsQuery = object({
  before: optional(str({ min: 10, max: 10, pattern: DAY, description: 'the nextCursor of the previous page: a business day' })),
  limit: optional(int({ min: 1, max: MERCHANT_PAGE_MAX })),
});
export const merchantsQuery = object({ after: optional(id('cursor')), limit: optional(int({ min: 1, max: MERCHANTS_PAGE_MAX })) });

export const cardSchema = object({ cardNumber: str({ min: 16, max: 23, pattern: /^[0-9 -]+$/ }) });
export const authoriseSchema = object({ paymentCode: str({ min: 18, max: 18, pattern: /^[0-9]+$/ }), amount: yuan('yuan') });
export const amountSchema = object({ amount: yuan('yuan') });

