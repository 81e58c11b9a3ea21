/** The campaigns context's application layer: campaigns, targets, progress, milestones and weekly reports. */
export { Campaigns, CAMPAIGNS_PAGE_MAX, type CampaignsDeps, type CreateCampaignInput, type ProgressView, type UnitProgress } from './campaigns';
export { type TargetsReport, type TargetRowResult } from './targets-csv';
