import { int, object, oneOf, optional, str } from '../common/validation';

/** Request bodies, queries and path parameters of the claims routes (TypeBox, see common/validation.ts). */

/** Campaign and lottery ids: part of stream names, so a closed alphabet (the domain checks the same). */
const CLAIMS_ID = /^[a-z0-9][a-z0-9-]*$/;
const BENEFIT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const ORG_ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const MEMBER_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const CATEGORY = /^[a-z][a-z0-9-]*$/;
const YUAN = /^(0|[1-9][0-9]{0,12})(\.[0-9]{1,2})?$/;
const instant = (description: string) =>
  str({ min: 20, max: 30, pattern: /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?(Z|[+-][0-9]{2}:[0-9]{2})$/, description });
const claimsId = (description: string) => str({ min: 1, max: 48, pattern: CLAIMS_ID, description });

export const CLAIMS_PAGE_MAX = 500;

export const campaignParams = object({ campaignId: claimsId('the claim campaign') });
export const lotteryParams = object({ lotteryId: claimsId('the lottery') });

const voucherSchema = object({
  category: str({ min: 2, max: 32, pattern: CATEGORY, description: 'merchant category the vouchers are spent at' }),
  faceValue: str({ min: 1, max: 16, pattern: YUAN, description: 'yuan per voucher' }),
  validFrom: instant('ISO 8601 instant'),
  validUntil: instant('ISO 8601 instant'),
});

export const createCampaignSchema = object({
  campaignId: claimsId('your id for the campaign, for example spring-tickets-2027'),
  orgId: str({ min: 1, max: 64, pattern: ORG_ID, description: 'the union whose subtree’s active members may claim, and whose budget pays' }),
  name: str({ min: 1, max: 100 }),
  units: int({ min: 1, max: 100_000, description: 'N: exactly this many claims are granted, first come first served' }),
  opensAt: instant('the window opens (ISO 8601 instant)'),
  closesAt: instant('the window closes (at most 31 days after it opens)'),
  minPoints: optional(int({ min: 0, max: 10_000_000, description: 'the member’s available points at the moment of the claim (default 0)' })),
  programmeId: optional(str({ min: 1, max: 64, pattern: BENEFIT_ID, description: 'the benefits programme whose budget of orgId pays the vouchers (with voucher)' })),
  voucher: optional(voucherSchema),
  prizeSkuId: optional(
    str({ min: 1, max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9_-]*$/, description: 'instead of programmeId and voucher: a mall SKU, N units reserved now; each granted claim is a pickup order of one unit' }),
  ),
});

export const claimsPageQuery = object({
  afterSeq: optional(int({ min: 0, max: 100_000, description: 'the last slot of the page before' })),
  limit: optional(int({ min: 1, max: CLAIMS_PAGE_MAX })),
});

export const createLotterySchema = object({
  lotteryId: claimsId('your id for the lottery'),
  orgId: str({ min: 1, max: 64, pattern: ORG_ID, description: 'the union whose subtree’s active members may enter, and whose budget pays the prizes' }),
  name: str({ min: 1, max: 100 }),
  entryPoints: int({ min: 1, max: 10_000_000, description: 'points an entry costs, held until the draw' }),
  prizes: int({ min: 1, max: 500, description: 'winners drawn; each gets one voucher, or prizePoints points' }),
  opensAt: instant('entries open (after the lottery is published, with its commitment)'),
  closesAt: instant('entries close; the draw comes after'),
  losers: oneOf(['refund', 'spend'] as const),
  maxEntries: int({ min: 1, max: 100_000 }),
  programmeId: optional(str({ min: 1, max: 64, pattern: BENEFIT_ID, description: 'the benefits programme whose budget of orgId pays the prize vouchers (with voucher)' })),
  voucher: optional(voucherSchema),
  prizePoints: optional(int({ min: 1, max: 10_000_000, description: 'each winner is credited this many points (instead of programmeId and voucher)' })),
});

export const entriesQuery = object({
  after: optional(str({ min: 1, max: 200, pattern: MEMBER_ID, description: 'the last member id of the page before' })),
  limit: optional(int({ min: 1, max: CLAIMS_PAGE_MAX })),
  only: optional(oneOf(['winners'] as const)),
});
