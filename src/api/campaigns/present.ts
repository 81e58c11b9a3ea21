import type { CampaignState, CampaignTerms } from '../../domain/campaigns';
import type { CampaignRow } from '../../projections/campaigns';

/** Campaigns as the API shows them: instants as ISO 8601, milestones with `by` days. */

export function presentTerms(terms: CampaignTerms) {
  return {
    campaignId: terms.campaignId,
    name: terms.name,
    rootOrgId: terms.rootOrgId,
    measure: terms.measure,
    evaluationCampaignId: terms.evaluationCampaignId,
    programmeId: terms.programmeId,
    startsAt: new Date(terms.startsAtMs).toISOString(),
    endsAt: new Date(terms.endsAtMs).toISOString(),
    milestones: terms.milestones.map((milestone) => ({ percent: milestone.percent, by: milestone.byDay })),
    createdBy: terms.createdBy,
  };
}

export function presentRow(row: CampaignRow) {
  return {
    ...presentTerms({ ...row, measure: row.measure as CampaignTerms['measure'] }),
    countingFrom: new Date(Math.max(row.startsAtMs, row.createdAt.getTime())).toISOString(),
    targets: { version: row.targetsVersion, units: row.targetUnits, total: row.totalTarget, members: row.totalMembers },
  };
}

export function presentCampaign(view: { terms: CampaignTerms; row: CampaignRow | null; state: CampaignState }) {
  return {
    ...presentTerms(view.terms),
    // The read model may not have the campaign yet right after its creation: the stream's facts then.
    countingFrom: view.row ? new Date(Math.max(view.row.startsAtMs, view.row.createdAt.getTime())).toISOString() : null,
    targets: { version: view.state.targetsVersion, units: view.state.targets.size, total: view.state.totalTarget, members: [...view.state.targets.values()].reduce((sum, target) => sum + target.members, 0) },
    milestonesReached: view.state.reached,
  };
}
