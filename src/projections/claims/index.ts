/** The claims read models: campaigns and claims, lotteries and entries. */
export { CLAIMS_MIGRATIONS } from './schema';
export { CLAIMS_PROJECTION, claimsProjection } from './claims-projection';
export {
  campaignsClosingAfter,
  campaignsToClose,
  claimCampaign,
  claimsOf,
  lottery,
  lotteryEntries,
  lotteryEntry,
  undrawnLotteries,
  unsettledLotteries,
  type CampaignRow,
  type ClaimRow,
  type EntryRow,
  type LotteryRow,
} from './queries';
