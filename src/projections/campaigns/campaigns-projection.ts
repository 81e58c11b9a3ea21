import type { CampaignEvent, CampaignTerms } from '../../domain/campaigns';
import type { RecordedEvent } from '../../eventstore/event-store';
import type { DbTask } from '../../infra/database';
import type { Projection } from '../runner';

/**
 * The campaigns read model: the campaigns' terms and targets, and what each campaign's measure
 * counted, per unit. Exact and rebuildable: every row comes from event data in log order.
 *
 * What counts: a member is counted once per campaign, for the unit they belonged to when the event
 * happened, when after the campaign's creation in the log a measured event of theirs was recorded
 * within the campaign's period:
 *   activations   MemberActivated
 *   evaluations   EvaluationSubmitted (of the campaign's evaluationCampaignId, when set)
 *   check-ins     CheckedIn
 *   disbursements WalletCredited (of the campaign's programmeId, when set): coverage, members paid
 * Events before the campaign's creation are not counted: a campaign counts from the moment it is
 * created (its period may start earlier; the answer says `countingFrom`). Counting them would mean
 * a scan of the log inside the projection at each creation, in an order (the feed's) that a
 * per-event rule cannot see; a campaign is announced before it starts in practice.
 *
 * Inserts of keyed rows do nothing on a conflict: a catch-up racing the live runner (the weekly
 * report brings this projection up to date itself) then reaches the checkpoint's compare-and-set,
 * which refuses the whole batch (CheckpointMovedError, rolled back, retried), instead of failing
 * on a duplicate key first. Nothing is applied twice: the batch's transaction is all or nothing.
 *
 * The member's unit comes from this projection's own table (MemberEnrolled, then MemberTransferred
 * and MemberParked: counts made before a move stay with the old unit), never from the
 * members read model, which may be behind or ahead of this one.
 */
export const CAMPAIGNS_PROJECTION = 'campaigns';

const MEASURED: Record<string, CampaignTerms['measure']> = {
  MemberActivated: 'activations',
  EvaluationSubmitted: 'evaluations',
  CheckedIn: 'check-ins',
  WalletCredited: 'disbursements',
};

interface CampaignFilter {
  campaignId: string;
  measure: string;
  evaluationCampaignId: string | null;
  programmeId: string | null;
  startsAtMs: number;
  endsAtMs: number;
}

function counts(campaign: CampaignFilter, event: RecordedEvent): boolean {
  if (MEASURED[event.type] !== campaign.measure) return false;
  const atMs = event.recordedAt.getTime();
  if (atMs < campaign.startsAtMs || atMs >= campaign.endsAtMs) return false;
  if (campaign.evaluationCampaignId !== null && event.data['campaignId'] !== campaign.evaluationCampaignId) return false;
  if (campaign.programmeId !== null && event.data['programmeId'] !== campaign.programmeId) return false;
  return true;
}

async function loadCampaigns(tx: DbTask): Promise<CampaignFilter[]> {
  const rows = await tx.any<{ campaign_id: string; measure: string; evaluation_campaign_id: string | null; programme_id: string | null; starts_at_ms: string; ends_at_ms: string }>(
    'SELECT campaign_id, measure, evaluation_campaign_id, programme_id, starts_at_ms, ends_at_ms FROM ul_campaigns',
  );
  return rows.map((row) => ({
    campaignId: row.campaign_id,
    measure: row.measure,
    evaluationCampaignId: row.evaluation_campaign_id,
    programmeId: row.programme_id,
    startsAtMs: Number(row.starts_at_ms),
    endsAtMs: Number(row.ends_at_ms),
  }));
}

/** Members' units and counted members gathered over a run of events, written in two statements. */
class Pending {
  units = new Map<string, string>();
  campaignIds: string[] = [];
  memberIds: string[] = [];

  async flush(tx: DbTask): Promise<void> {
    if (this.units.size > 0) {
      await tx.none(
        `INSERT INTO ul_campaign_member_units (member_id, org_id) SELECT * FROM unnest($1::text[], $2::text[])
         ON CONFLICT (member_id) DO UPDATE SET org_id = excluded.org_id`,
        [[...this.units.keys()], [...this.units.values()]],
      );
      this.units.clear();
    }
    if (this.campaignIds.length > 0) {
      // One statement: the new (campaign, member) pairs, then +1 per new pair on its unit's count.
      await tx.none(
        `WITH input AS (SELECT * FROM unnest($1::text[], $2::text[]) AS i (campaign_id, member_id)),
         resolved AS (
           SELECT DISTINCT i.campaign_id, i.member_id, m.org_id
           FROM input i JOIN ul_campaign_member_units m ON m.member_id = i.member_id
         ),
         inserted AS (
           INSERT INTO ul_campaign_counted (campaign_id, member_id, org_id) SELECT campaign_id, member_id, org_id FROM resolved
           ON CONFLICT (campaign_id, member_id) DO NOTHING
           RETURNING campaign_id, org_id
         )
         INSERT INTO ul_campaign_done (campaign_id, org_id, done)
         SELECT campaign_id, org_id, count(*) FROM inserted GROUP BY campaign_id, org_id
         ON CONFLICT (campaign_id, org_id) DO UPDATE SET done = ul_campaign_done.done + excluded.done`,
        [this.campaignIds, this.memberIds],
      );
      this.campaignIds = [];
      this.memberIds = [];
    }
  }
}

export function campaignsProjection(): Projection {
  return {
    name: CAMPAIGNS_PROJECTION,
    tables: ['ul_campaigns', 'ul_campaign_targets', 'ul_campaign_member_units', 'ul_campaign_counted', 'ul_campaign_done', 'ul_campaign_milestones'],
    eventTypes: ['CampaignCreated', 'CampaignTargetsReplaced', 'CampaignTargetsListed', 'CampaignMilestoneReached', 'MemberEnrolled', 'MemberTransferred', 'MemberParked', ...Object.keys(MEASURED)],
    async apply(tx: DbTask, events: RecordedEvent[]) {
      let campaigns: CampaignFilter[] | null = null;
      const pending = new Pending();
      for (const recorded of events) {
        if (recorded.type === 'MemberEnrolled') {
          pending.units.set(String(recorded.data['memberId']), String(recorded.data['orgId']));
          continue;
        }
        if (recorded.type === 'MemberTransferred' || recorded.type === 'MemberParked') {
          // What was counted before the move stays with the unit that earned it: the counts queued
          // so far are written against the old unit first, then the member's unit changes.
          await pending.flush(tx);
          pending.units.set(String(recorded.data['memberId']), String(recorded.data['toOrgId']));
          continue;
        }
        if (recorded.type in MEASURED) {
          campaigns ??= await loadCampaigns(tx);
          const memberId = String(recorded.data['memberId']);
          for (const campaign of campaigns) {
            if (!counts(campaign, recorded)) continue;
            pending.campaignIds.push(campaign.campaignId);
            pending.memberIds.push(memberId);
          }
          continue;
        }
        const event = recorded as unknown as CampaignEvent;
        switch (event.type) {
          case 'CampaignCreated': {
            const terms = event.data;
            await tx.none(
              `INSERT INTO ul_campaigns (campaign_id, name, root_org_id, measure, evaluation_campaign_id, programme_id, starts_at_ms, ends_at_ms, milestones, created_by, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
               ON CONFLICT (campaign_id) DO NOTHING`,
              [terms.campaignId, terms.name, terms.rootOrgId, terms.measure, terms.evaluationCampaignId, terms.programmeId, terms.startsAtMs, terms.endsAtMs, JSON.stringify(terms.milestones), terms.createdBy, recorded.recordedAt],
            );
            campaigns?.push({ ...terms });
            break;
          }
          case 'CampaignTargetsReplaced': {
            const { campaignId, version, units, totalTarget, totalMembers } = event.data;
            await tx.none('DELETE FROM ul_campaign_targets WHERE campaign_id = $1', [campaignId]);
            await tx.none('UPDATE ul_campaigns SET targets_version = $2, target_units = $3, total_target = $4, total_members = $5 WHERE campaign_id = $1', [
              campaignId,
              version,
              units,
              totalTarget,
              totalMembers,
            ]);
            break;
          }
          case 'CampaignTargetsListed': {
            const { campaignId, targets } = event.data;
            await tx.none(
              `INSERT INTO ul_campaign_targets (campaign_id, org_id, members, target)
               SELECT $1, * FROM unnest($2::text[], $3::int[], $4::int[])
               ON CONFLICT (campaign_id, org_id) DO NOTHING`,
              [campaignId, targets.map((t) => t.orgId), targets.map((t) => t.members), targets.map((t) => t.target)],
            );
            break;
          }
          case 'CampaignMilestoneReached': {
            const { campaignId, percent, byDay, done, target, reachedAtMs, onTime } = event.data;
            await tx.none(
              `INSERT INTO ul_campaign_milestones (campaign_id, percent, by_day, done, target, reached_at_ms, on_time) VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (campaign_id, percent) DO NOTHING`,
              [campaignId, percent, byDay, done, target, reachedAtMs, onTime],
            );
            break;
          }
          default:
            break;
        }
      }
      await pending.flush(tx);
    },
  };
}
