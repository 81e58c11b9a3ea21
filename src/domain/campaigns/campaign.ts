import { DomainError, invariant } from '../shared';

/**
 * Campaigns with per-unit targets (网上评议 evaluators, 工会E卡 activations, …): a union admin sets a
 * measure counted from events, a period, milestones (20% / 50% / 90% by dates) and, from the
 * published CSV, a target per unit. Stream `campaign-<campaignId>`:
 * - `CampaignCreated`: the terms, once;
 * - `CampaignTargetsReplaced` + `CampaignTargetsListed` (chunks of TARGETS_PER_EVENT rows): a
 *   whole new set of targets, version by version (an event holds at most 64 KiB, a province's
 *   2,000 units do not fit in one);
 * - `CampaignMilestoneReached`: the campaign as a whole crossed a milestone, recorded once.
 * Progress itself is not on this stream: the campaigns projection counts it from the measured
 * events (src/projections/campaigns).
 */

export const MEASURES = ['activations', 'evaluations', 'check-ins', 'disbursements'] as const;
export type Measure = (typeof MEASURES)[number];

export const CAMPAIGN_ID = /^[a-z0-9][a-z0-9-]{0,47}$/;
export const MAX_NAME_CHARS = 100;
export const MAX_MILESTONES = 10;
/** A campaign runs at most a year and a day (an annual evaluation, a year of card issuing). */
export const MAX_PERIOD_MS = 367 * 24 * 3600 * 1000;
/** Units with a target in one campaign: a province has a few thousand grassroots unions. */
export const MAX_TARGET_UNITS = 10_000;
/** Members or target of one unit: the largest unions have tens of thousands of members. */
export const MAX_UNIT_COUNT = 10_000_000;
/** Target rows per CampaignTargetsListed event: 500 rows of ~80 bytes stay far below an event's 64 KiB. */
export const TARGETS_PER_EVENT = 500;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export interface Milestone {
  /** 1..100: share of the campaign's total target. */
  percent: number;
  /** YYYY-MM-DD (Asia/Shanghai): the day by which it should be reached. */
  byDay: string;
}

export interface CampaignTerms {
  campaignId: string;
  name: string;
  /** The campaign covers this organisation's subtree; progress rolls up to it. */
  rootOrgId: string;
  measure: Measure;
  /** evaluations only: count submissions of this evaluation campaign (null: any). */
  evaluationCampaignId: string | null;
  /** disbursements only: count credits of this benefits programme (null: any). */
  programmeId: string | null;
  startsAtMs: number;
  endsAtMs: number;
  milestones: Milestone[];
  createdBy: string;
}

export interface UnitTarget {
  orgId: string;
  members: number;
  target: number;
}

export type CampaignEvent =
  | { type: 'CampaignCreated'; data: CampaignTerms }
  | { type: 'CampaignTargetsReplaced'; data: { campaignId: string; version: number; units: number; totalTarget: number; totalMembers: number; setBy: string } }
  | { type: 'CampaignTargetsListed'; data: { campaignId: string; version: number; targets: UnitTarget[] } }
  | {
      type: 'CampaignMilestoneReached';
      data: { campaignId: string; percent: number; byDay: string; done: number; target: number; reachedAtMs: number; onTime: boolean };
    };

export const campaignStream = (campaignId: string): string => `campaign-${campaignId}`;

export interface CampaignState {
  status: 'none' | 'created';
  terms: CampaignTerms | null;
  targetsVersion: number;
  totalTarget: number;
  /** Targets of the current version, by unit, to tell an unchanged upload from a new one. */
  targets: Map<string, UnitTarget>;
  /** Percents of the milestones already recorded. */
  reached: number[];
}

export const initialCampaignState: CampaignState = { status: 'none', terms: null, targetsVersion: 0, totalTarget: 0, targets: new Map(), reached: [] };

export function evolveCampaign(state: CampaignState, event: CampaignEvent): CampaignState {
  switch (event.type) {
    case 'CampaignCreated':
      return { ...state, status: 'created', terms: event.data };
    case 'CampaignTargetsReplaced':
      return { ...state, targetsVersion: event.data.version, totalTarget: event.data.totalTarget, targets: new Map() };
    case 'CampaignTargetsListed': {
      const targets = new Map(state.targets);
      for (const target of event.data.targets) targets.set(target.orgId, target);
      return { ...state, targets };
    }
    case 'CampaignMilestoneReached':
      return { ...state, reached: [...state.reached, event.data.percent] };
    default: {
      const unknown: never = event;
      throw new Error(`unknown campaign event ${(unknown as { type: string }).type}`);
    }
  }
}

// ---------------------------------------------------------------- creation

export type CreateCampaign = CampaignTerms;

/** The Shanghai calendar day of an instant (YYYY-MM-DD). */
export const shanghaiDay = (atMs: number): string => new Date(atMs + 8 * 3600 * 1000).toISOString().slice(0, 10);

function validDay(day: string): boolean {
  if (!DAY.test(day)) return false;
  const parsed = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === day;
}

export function createCampaign(state: CampaignState, command: CreateCampaign): CampaignEvent[] {
  if (state.status !== 'none') {
    if (JSON.stringify(state.terms) === JSON.stringify(command)) return [];
    throw new DomainError('CAMPAIGN.EXISTS', 'a campaign with this id exists', 409, { campaignId: command.campaignId });
  }
  if (!CAMPAIGN_ID.test(command.campaignId)) throw new DomainError('CAMPAIGN.ID_INVALID', 'a campaign id is 1 to 48 of a-z, 0-9 and -', 400);
  const name = command.name.trim();
  if (name.length < 1 || name.length > MAX_NAME_CHARS) throw new DomainError('CAMPAIGN.NAME_INVALID', `a campaign name is 1 to ${MAX_NAME_CHARS} characters`, 400);
  if (!(MEASURES as readonly string[]).includes(command.measure)) throw new DomainError('CAMPAIGN.MEASURE_INVALID', `the measure is one of ${MEASURES.join(', ')}`, 400);
  if (command.evaluationCampaignId !== null && command.measure !== 'evaluations') {
    throw new DomainError('CAMPAIGN.MEASURE_INVALID', 'evaluationCampaignId narrows the evaluations measure only', 400);
  }
  if (command.programmeId !== null && command.measure !== 'disbursements') {
    throw new DomainError('CAMPAIGN.MEASURE_INVALID', 'programmeId narrows the disbursements measure only', 400);
  }
  const { startsAtMs, endsAtMs } = command;
  if (!Number.isSafeInteger(startsAtMs) || !Number.isSafeInteger(endsAtMs) || endsAtMs <= startsAtMs || endsAtMs - startsAtMs > MAX_PERIOD_MS) {
    throw new DomainError('CAMPAIGN.PERIOD_INVALID', 'the period must end after it starts, within 367 days', 400);
  }
  checkMilestones(command.milestones, startsAtMs, endsAtMs);
  return [{ type: 'CampaignCreated', data: { ...command, name } }];
}

function checkMilestones(milestones: readonly Milestone[], startsAtMs: number, endsAtMs: number): void {
  if (milestones.length > MAX_MILESTONES) throw new DomainError('CAMPAIGN.MILESTONES_INVALID', `at most ${MAX_MILESTONES} milestones`, 400);
  const first = shanghaiDay(startsAtMs);
  const last = shanghaiDay(endsAtMs - 1);
  let previous: Milestone | null = null;
  for (const milestone of milestones) {
    if (!Number.isSafeInteger(milestone.percent) || milestone.percent < 1 || milestone.percent > 100) {
      throw new DomainError('CAMPAIGN.MILESTONES_INVALID', 'a milestone is a whole percent from 1 to 100', 400, { percent: milestone.percent });
    }
    if (!validDay(milestone.byDay) || milestone.byDay < first || milestone.byDay > last) {
      throw new DomainError('CAMPAIGN.MILESTONES_INVALID', `a milestone's day is a real date within the period (${first} to ${last})`, 400, { byDay: milestone.byDay });
    }
    if (previous && (milestone.percent <= previous.percent || milestone.byDay < previous.byDay)) {
      throw new DomainError('CAMPAIGN.MILESTONES_INVALID', 'milestones go up in percent and do not go back in time', 400);
    }
    previous = milestone;
  }
}

// ---------------------------------------------------------------- targets

/**
 * Replaces the campaign's targets with a whole new set (one unit at most once; the units are
 * known to lie in the campaign's subtree and not to overlap: the application checked them against
 * the tree). The same set again changes nothing.
 */
export function setTargets(state: CampaignState, command: { targets: UnitTarget[]; setBy: string }): CampaignEvent[] {
  const terms = state.terms;
  if (!terms) throw new DomainError('CAMPAIGN.NOT_FOUND', 'no such campaign', 404);
  const { targets } = command;
  if (targets.length < 1 || targets.length > MAX_TARGET_UNITS) {
    throw new DomainError('CAMPAIGN.TARGETS_INVALID', `a campaign has targets for 1 to ${MAX_TARGET_UNITS} units`, 422, { units: targets.length });
  }
  const seen = new Set<string>();
  let totalTarget = 0;
  let totalMembers = 0;
  for (const target of targets) {
    invariant(!seen.has(target.orgId), `unit ${target.orgId} has one target row`);
    seen.add(target.orgId);
    for (const value of [target.members, target.target]) {
      if (!Number.isSafeInteger(value) || value < 0 || value > MAX_UNIT_COUNT) {
        throw new DomainError('CAMPAIGN.TARGETS_INVALID', `members and target are whole numbers from 0 to ${MAX_UNIT_COUNT}`, 422, { orgId: target.orgId });
      }
    }
    if (target.target > target.members) throw new DomainError('CAMPAIGN.TARGETS_INVALID', 'a unit’s target cannot exceed its members', 422, { orgId: target.orgId });
    totalTarget += target.target;
    totalMembers += target.members;
  }
  const unchanged =
    state.targets.size === targets.length &&
    targets.every((target) => {
      const current = state.targets.get(target.orgId);
      return current !== undefined && current.members === target.members && current.target === target.target;
    });
  if (unchanged) return [];
  const version = state.targetsVersion + 1;
  const events: CampaignEvent[] = [
    { type: 'CampaignTargetsReplaced', data: { campaignId: terms.campaignId, version, units: targets.length, totalTarget, totalMembers, setBy: command.setBy } },
  ];
  for (let start = 0; start < targets.length; start += TARGETS_PER_EVENT) {
    events.push({ type: 'CampaignTargetsListed', data: { campaignId: terms.campaignId, version, targets: targets.slice(start, start + TARGETS_PER_EVENT).map((t) => ({ ...t })) } });
  }
  return events;
}

// ---------------------------------------------------------------- milestones

/** Done needed for `percent` of `target` (rounded up: 20% of 7 is 2 not enough, 3 is). */
export const neededFor = (percent: number, target: number): number => Math.ceil((percent * target) / 100);

/**
 * Records every milestone the campaign's progress (done of its total target, as counted by the
 * projection) has crossed and that is not yet recorded, each once: the stream's revision check
 * and `reached` make a second run of the same check add nothing.
 */
export function recordMilestones(state: CampaignState, progress: { done: number; target: number }, nowMs: number): CampaignEvent[] {
  const terms = state.terms;
  if (!terms) throw new DomainError('CAMPAIGN.NOT_FOUND', 'no such campaign', 404);
  invariant(Number.isSafeInteger(progress.done) && progress.done >= 0, 'done is a count');
  if (progress.target <= 0) return [];
  const today = shanghaiDay(nowMs);
  return terms.milestones
    .filter((milestone) => !state.reached.includes(milestone.percent) && progress.done >= neededFor(milestone.percent, progress.target))
    .map((milestone) => ({
      type: 'CampaignMilestoneReached' as const,
      data: {
        campaignId: terms.campaignId,
        percent: milestone.percent,
        byDay: milestone.byDay,
        done: progress.done,
        target: progress.target,
        reachedAtMs: nowMs,
        onTime: today <= milestone.byDay,
      },
    }));
}

/** The first milestone not yet reached by `done` of `target`, and how many more are needed; null when none is left (or no target). */
export function nextMilestone(milestones: readonly Milestone[], done: number, target: number): { percent: number; byDay: string; needed: number; gap: number } | null {
  if (target <= 0) return null;
  for (const milestone of milestones) {
    const needed = neededFor(milestone.percent, target);
    if (done < needed) return { percent: milestone.percent, byDay: milestone.byDay, needed, gap: needed - done };
  }
  return null;
}
