import { array, int, nullable, object, oneOf, optional, str } from '../common/validation';

/** Request bodies, queries and path parameters of the campaigns routes (TypeBox, see common/validation.ts). */

const CAMPAIGN_ID = /^[a-z0-9][a-z0-9-]*$/;
const ORG_ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const OTHER_ID = /^[A-Za-z0-9][A-Za-z0-9_:-]*$/;
const DAY = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
const instant = (description: string) =>
  str({ min: 20, max: 30, pattern: /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,3})?(Z|[+-][0-9]{2}:[0-9]{2})$/, description });
const campaignId = (description: string) => str({ min: 1, max: 48, pattern: CAMPAIGN_ID, description });
const orgId = (description: string) => str({ min: 1, max: 64, pattern: ORG_ID, description });

export const CAMPAIGNS_LIST_MAX = 200;

export const campaignParams = object({ campaignId: campaignId('the campaign') });
/** `<reportId>.<csv|xlsx|svg>`: the report id is the Monday (Asia/Shanghai) it was made for. */
export const reportFileParams = object({
  campaignId: campaignId('the campaign'),
  file: str({ min: 14, max: 20, pattern: /^[0-9]{4}-[0-9]{2}-[0-9]{2}\.(csv|xlsx|svg)$/, description: 'the report id (its Monday, YYYY-MM-DD) and the format: 2026-12-07.csv, .xlsx or .svg' }),
});

export const createCampaignSchema = object({
  campaignId: optional(campaignId('your id for the campaign (default: one derived from the Idempotency-Key)')),
  name: str({ min: 1, max: 100 }),
  rootOrgId: orgId('the union whose subtree the campaign covers; progress rolls up to it'),
  measure: oneOf(['activations', 'evaluations', 'check-ins', 'disbursements'] as const),
  evaluationCampaignId: optional(nullable(str({ min: 1, max: 64, pattern: OTHER_ID, description: 'evaluations: count submissions of this evaluation campaign only' }))),
  programmeId: optional(nullable(str({ min: 1, max: 64, pattern: OTHER_ID, description: 'disbursements: count credits of this benefits programme only' }))),
  startsAt: instant('the period starts (ISO 8601 instant); counting starts at the campaign’s creation if that is later'),
  endsAt: instant('the period ends (at most 367 days after it starts)'),
  milestones: array(
    object({
      percent: int({ min: 1, max: 100, description: 'share of the total target' }),
      by: str({ min: 10, max: 10, pattern: DAY, description: 'the day (Asia/Shanghai, YYYY-MM-DD) by which it should be reached' }),
    }),
    { max: 10 },
  ),
});

export const listQuery = object({
  orgId: optional(orgId('campaigns concerning this organisation (default: yours)')),
  cursor: optional(campaignId('the last campaign id of the page before (nextCursor)')),
  limit: optional(int({ min: 1, max: CAMPAIGNS_LIST_MAX })),
});

export const progressQuery = object({
  orgId: optional(orgId('the organisation to look at (default: yours, or the campaign’s root when you sit above it)')),
});

export const reportFileQuery = object({
  orgId: optional(orgId('the subtree of the report (default: yours, or the campaign’s root when you sit above it)')),
});
