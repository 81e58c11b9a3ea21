/** The campaigns context's application layer: campaigns, targets, progress, milestones and weekly reports. */
export { Campaigns, CAMPAIGNS_PAGE_MAX, type CampaignsDeps, type CreateCampaignInput, type ProgressView, type UnitProgress } from './campaigns';
export { type TargetsReport, type TargetRowResult } from './targets-csv';
export { CampaignReports, reportInstantMs, type ReportFile, type ReportSummary } from './weekly-reports';
export { CONTENT_TYPES, REPORT_FORMATS, renderCsv, renderSvg, renderXlsx, type ReportFormat, type ReportRow } from './report-files';
