/** The campaigns context's read model: terms, targets and counts per unit (rolled up at query time), milestones. */
export { CAMPAIGNS_PROJECTION, campaignsProjection } from './campaigns-projection';
export {
  campaignRow,
  campaignsActiveBetween,
  campaignsFor,
  milestonesReached,
  rolledUp,
  unitsByIdOrName,
  type CampaignRow,
  type MilestoneRow,
  type RolledUpRow,
} from './queries';
export { CAMPAIGNS_MIGRATIONS } from './schema';
