import fc from 'fast-check';
import { deciderSpec } from '../../../test/support/given-when-then';
import {
  createCampaign,
  evolveCampaign,
  initialCampaignState,
  nextMilestone,
  recordMilestones,
  setTargets,
  TARGETS_PER_EVENT,
  type CampaignEvent,
  type CampaignState,
  type CampaignTerms,
  type UnitTarget,
} from './campaign';
import { percentOf, rankAmongSiblings } from './ranking';

type Command =
  | { type: 'Create'; terms: CampaignTerms }
  | { type: 'SetTargets'; targets: UnitTarget[] }
  | { type: 'RecordMilestones'; done: number; target: number };

function decide(state: CampaignState, command: Command, nowMs: number): CampaignEvent[] {
  switch (command.type) {
    case 'Create':
      return createCampaign(state, command.terms);
    case 'SetTargets':
      return setTargets(state, { targets: command.targets, setBy: 'admin-js' });
    case 'RecordMilestones':
      return recordMilestones(state, { done: command.done, target: command.target }, nowMs);
  }
}

const campaign = deciderSpec<CampaignState, Command, CampaignEvent, number>({ initialState: initialCampaignState, evolve: evolveCampaign, decide });

const START = Date.parse('2026-12-01T00:00:00+08:00');
const END = Date.parse('2027-03-01T00:00:00+08:00');
const terms: CampaignTerms = {
  campaignId: 'e-card-2027',
  name: '工会E卡开卡',
  rootOrgId: 'hn-jz',
  measure: 'activations',
  evaluationCampaignId: null,
  programmeId: null,
  startsAtMs: START,
  endsAtMs: END,
  milestones: [
    { percent: 20, byDay: '2026-12-31' },
    { percent: 50, byDay: '2027-01-31' },
    { percent: 90, byDay: '2027-02-28' },
  ],
  createdBy: 'admin-jz',
};
const created: CampaignEvent = { type: 'CampaignCreated', data: terms };
const targets: UnitTarget[] = [
  { orgId: 'u-1', members: 1000, target: 900 },
  { orgId: 'u-2', members: 200, target: 100 },
];
const replaced: CampaignEvent = { type: 'CampaignTargetsReplaced', data: { campaignId: 'e-card-2027', version: 1, units: 2, totalTarget: 1000, totalMembers: 1200, setBy: 'admin-js' } };
const listed: CampaignEvent = { type: 'CampaignTargetsListed', data: { campaignId: 'e-card-2027', version: 1, targets } };
const reached = (percent: number, byDay: string, done: number, atMs: number, onTime: boolean): CampaignEvent => ({
  type: 'CampaignMilestoneReached',
  data: { campaignId: 'e-card-2027', percent, byDay, done, target: 1000, reachedAtMs: atMs, onTime },
});

describe('creating a campaign', () => {
  it('records its terms once; the same terms again change nothing, other terms conflict', () => {
    campaign.given([]).when({ type: 'Create', terms }, START).then([created]);
    campaign.given([created]).when({ type: 'Create', terms }, START).then([]);
    campaign.given([created]).when({ type: 'Create', terms: { ...terms, name: '别的' } }, START).thenFails('CAMPAIGN.EXISTS');
  });

  it.each([
    ['an id outside the alphabet', { campaignId: 'E Card' }, 'CAMPAIGN.ID_INVALID'],
    ['an empty name', { name: '  ' }, 'CAMPAIGN.NAME_INVALID'],
    ['an unknown measure', { measure: 'steps' as never }, 'CAMPAIGN.MEASURE_INVALID'],
    ['a programme on another measure', { programmeId: 'p-1' }, 'CAMPAIGN.MEASURE_INVALID'],
    ['a period that ends before it starts', { endsAtMs: START - 1 }, 'CAMPAIGN.PERIOD_INVALID'],
    ['a period over 367 days', { endsAtMs: START + 368 * 86_400_000 }, 'CAMPAIGN.PERIOD_INVALID'],
    ['a milestone of 0%', { milestones: [{ percent: 0, byDay: '2026-12-31' }] }, 'CAMPAIGN.MILESTONES_INVALID'],
    ['a milestone after the period', { milestones: [{ percent: 20, byDay: '2027-03-01' }] }, 'CAMPAIGN.MILESTONES_INVALID'],
    ['a milestone on no real day', { milestones: [{ percent: 20, byDay: '2027-02-30' }] }, 'CAMPAIGN.MILESTONES_INVALID'],
    ['milestones going down', { milestones: [{ percent: 50, byDay: '2026-12-31' }, { percent: 20, byDay: '2027-01-31' }] }, 'CAMPAIGN.MILESTONES_INVALID'],
    ['milestones going back in time', { milestones: [{ percent: 20, byDay: '2027-01-31' }, { percent: 50, byDay: '2026-12-31' }] }, 'CAMPAIGN.MILESTONES_INVALID'],
  ])('refuses %s', (_what, change, code) => {
    campaign.given([]).when({ type: 'Create', terms: { ...terms, ...change } }, START).thenFails(code);
  });
});

describe('setting targets', () => {
  it('replaces the targets as a new version, the same set again changes nothing', () => {
    campaign.given([created]).when({ type: 'SetTargets', targets }, START).then([replaced, listed]);
    campaign.given([created, replaced, listed]).when({ type: 'SetTargets', targets: [...targets].reverse() }, START).then([]);
    const changed = [{ ...targets[0]!, target: 950 }, targets[1]!];
    campaign
      .given([created, replaced, listed])
      .when({ type: 'SetTargets', targets: changed }, START)
      .then([
        { type: 'CampaignTargetsReplaced', data: { ...replaced.data, version: 2, totalTarget: 1050 } } as CampaignEvent,
        { type: 'CampaignTargetsListed', data: { campaignId: 'e-card-2027', version: 2, targets: changed } },
      ]);
  });

  it('lists a province’s targets in chunks an event can hold', () => {
    const many = Array.from({ length: 2001 }, (_, index) => ({ orgId: `u-${index}`, members: 100, target: 50 }));
    const { events, state } = campaign.given([created]).when({ type: 'SetTargets', targets: many }, START).result();
    expect(events.map((event) => event.type)).toEqual(['CampaignTargetsReplaced', ...Array(Math.ceil(2001 / TARGETS_PER_EVENT)).fill('CampaignTargetsListed')]);
    expect(state.targets.size).toBe(2001);
    expect(state.totalTarget).toBe(2001 * 50);
  });

  it('refuses a target above the unit’s members, a campaign that does not exist, and an empty set', () => {
    campaign.given([created]).when({ type: 'SetTargets', targets: [{ orgId: 'u-1', members: 10, target: 11 }] }, START).thenFails('CAMPAIGN.TARGETS_INVALID');
    campaign.given([created]).when({ type: 'SetTargets', targets: [] }, START).thenFails('CAMPAIGN.TARGETS_INVALID');
    campaign.given([]).when({ type: 'SetTargets', targets }, START).thenFails('CAMPAIGN.NOT_FOUND');
  });
});

describe('milestones', () => {
  const set = [created, replaced, listed];
  const jan10 = Date.parse('2027-01-10T12:00:00+08:00');

  it('records every milestone crossed, once, and whether it was on time', () => {
    campaign.given(set).when({ type: 'RecordMilestones', done: 199, target: 1000 }, jan10).then([]);
    campaign
      .given(set)
      .when({ type: 'RecordMilestones', done: 500, target: 1000 }, jan10)
      .then([reached(20, '2026-12-31', 500, jan10, false), reached(50, '2027-01-31', 500, jan10, true)]);
    campaign.given([...set, reached(20, '2026-12-31', 500, jan10, false)]).when({ type: 'RecordMilestones', done: 500, target: 1000 }, jan10).then([reached(50, '2027-01-31', 500, jan10, true)]);
    campaign.given([...set, reached(20, '2026-12-31', 500, jan10, false), reached(50, '2027-01-31', 500, jan10, true)]).when({ type: 'RecordMilestones', done: 899, target: 1000 }, jan10).then([]);
  });

  it('records nothing without targets', () => {
    campaign.given([created]).when({ type: 'RecordMilestones', done: 10, target: 0 }, jan10).then([]);
  });

  it('names the next milestone and the gap to it, rounding the need up', () => {
    expect(nextMilestone(terms.milestones, 0, 7)).toEqual({ percent: 20, byDay: '2026-12-31', needed: 2, gap: 2 });
    expect(nextMilestone(terms.milestones, 2, 7)).toEqual({ percent: 50, byDay: '2027-01-31', needed: 4, gap: 2 });
    expect(nextMilestone(terms.milestones, 7, 7)).toBeNull();
    expect(nextMilestone(terms.milestones, 3, 0)).toBeNull();
  });

  it('records each milestone exactly once whatever the sequence of counts checked (model)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 30 }), (counts) => {
        let state = [created, replaced, listed].reduce(evolveCampaign, initialCampaignState);
        const recorded: number[] = [];
        let highest = 0;
        for (const done of counts) {
          for (const event of recordMilestones(state, { done, target: 1000 }, jan10)) {
            if (event.type === 'CampaignMilestoneReached') recorded.push(event.data.percent);
            state = evolveCampaign(state, event);
          }
          highest = Math.max(highest, done);
        }
        // Each milestone at most once, and exactly those the highest count seen has crossed.
        expect(new Set(recorded).size).toBe(recorded.length);
        expect([...recorded].sort((a, b) => a - b)).toEqual(terms.milestones.filter((milestone) => highest >= milestone.percent * 10).map((milestone) => milestone.percent));
      }),
    );
  });
});

describe('percent and rank among siblings', () => {
  it('rounds the percent down to one decimal, and has none without a target', () => {
    expect(percentOf(2, 3)).toBe(66.6);
    expect(percentOf(3, 3)).toBe(100);
    expect(percentOf(5, 0)).toBeNull();
  });

  it('ranks by percent then done, ties share a rank, units without a target last', () => {
    const a = { done: 5, target: 10 };
    const b = { done: 9, target: 10 };
    const c = { done: 5, target: 10 };
    const d = { done: 50, target: 0 };
    const e = { done: 1, target: 10 };
    const ranks = rankAmongSiblings([a, b, c, d, e]);
    expect([a, b, c, d, e].map((unit) => ranks.get(unit))).toEqual([2, 1, 2, 5, 4]);
  });
});
