import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import Redis from 'ioredis';
import { testTimeout } from '../../../test/support/wait-for';
import { START, type ReadAllResult, type RecordedEvent } from '../../eventstore/event-store';
import { CheckpointMovedError } from '../runner';
import { SINGLE } from '../partition';
import { Leaderboards, oldestKeptPeriods } from './leaderboard';

/**
 * The leaderboards apply a batch as one Lua script: increments folded per (set, member), written
 * as ZINCRBYs or as ZMSCORE + variadic ZADD, with the checkpoint compare-and-set in the same
 * script. Any split of a history into batches must give the sorted sets of an event-by-event
 * apply, and a refused batch must write nothing.
 */

jest.setTimeout(testTimeout(2));

let redis: Redis;
const prefixes: string[] = [];

beforeAll(() => {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: run the tests through Jest (globalSetup sets it)');
  redis = new Redis(url, { maxRetriesPerRequest: 3 });
});

afterAll(async () => {
  for (const prefix of prefixes) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis.disconnect();
});

/** The histories below grant points in weeks 40 to 43 of 2026; the boards' clock stands at the start of week 40, when none has ended. */
const HISTORY_NOW = new Date('2026-09-28T00:00:00+08:00');

function boards(prefix = `ul-test-lb-${randomUUID().slice(0, 8)}:`, now: Date = HISTORY_NOW): Leaderboards {
  prefixes.push(prefix);
  return new Leaderboards(redis, prefix, redis, 1, { clock: () => now });
}

const ORGS: Array<[string, string | null]> = [
  ['p', null],
  ['p-c1', 'p'],
  ['p-c2', 'p'],
  ['p-c1-u1', 'p-c1'],
  ['p-c1-u2', 'p-c1'],
  ['p-c2-u3', 'p-c2'],
];
const UNIONS = ['p-c1-u1', 'p-c1-u2', 'p-c2-u3'];

interface Grant {
  member: number;
  union: number;
  points: number;
  week: number;
}

/** The org registrations, then grants (a member may get many, in several unions and weeks), as recorded events. */
function historyOf(grants: Grant[]): RecordedEvent[] {
  let position = 0n;
  const recorded = (streamId: string, type: string, data: Record<string, unknown>): RecordedEvent => {
    position += 1n;
    return {
      eventId: randomUUID(),
      streamId,
      revision: 0n,
      type,
      schemaVersion: 1,
      data: data as RecordedEvent['data'],
      metadata: { occurredAt: '2026-11-30T08:00:00.000Z' },
      recordedAt: new Date(),
      globalPosition: position,
    };
  };
  return [
    ...ORGS.map(([orgId, parentId]) => recorded(`org-${orgId}`, 'OrganisationRegistered', { orgId, parentId })),
    ...grants.map((grant) =>
      recorded(`member-m${grant.member}`, 'PointsGranted', {
        memberId: `m${grant.member}`,
        orgId: UNIONS[grant.union]!,
        points: grant.points,
        periods: { week: `2026-W${40 + grant.week}`, month: `2026-${10 + Math.floor(grant.week / 2)}`, year: '2026' },
      }),
    ),
  ];
}

/**
 * The history with a member transferred and a union moved to another city in the middle (batches
 * holding them take the WATCH/MULTI path), and grants after them.
 */
function historyWithMoves(grants: Grant[]): RecordedEvent[] {
  const half = Math.ceil(grants.length / 2);
  const events = historyOf(grants);
  const before = events.slice(0, ORGS.length + half);
  const after = events.slice(ORGS.length + half);
  const recorded = (streamId: string, type: string, data: Record<string, unknown>): RecordedEvent => ({
    eventId: randomUUID(),
    streamId,
    revision: 0n,
    type,
    schemaVersion: 1,
    data: data as RecordedEvent['data'],
    metadata: { occurredAt: '2026-10-12T08:00:00.000Z' },
    recordedAt: new Date(),
    globalPosition: 0n,
  });
  const moves = [
    recorded('member-m1', 'MemberTransferred', { memberId: 'm1', transferId: 't-1', fromOrgId: 'p-c1-u1', toOrgId: 'p-c2-u3', byAdminId: 'admin', reason: 'transfer' }),
    recorded('org-p-c1-u2', 'OrganisationMoved', { orgId: 'p-c1-u2', fromParentId: 'p-c1', toParentId: 'p-c2', byAdminId: 'admin' }),
  ];
  return [...before, moves[0]!, ...after.slice(0, 3), moves[1]!, ...after.slice(3)].map((event, index) => ({ ...event, globalPosition: BigInt(index + 1) }));
}

/** A feed over `events` in pages of the given sizes (cycled), as readAll answers: nextAfter is the last position read. */
function feedOf(events: RecordedEvent[], sizes: number[], beforeEachRead: (call: number) => Promise<void> = async () => undefined): (after: bigint) => Promise<ReadAllResult> {
  let call = 0;
  return async (after) => {
    await beforeEachRead(call);
    const start = events.findIndex((event) => event.globalPosition > after);
    const page = start < 0 ? [] : events.slice(start, start + sizes[call % sizes.length]!);
    call += 1;
    const last = page[page.length - 1];
    return { events: page, nextAfter: last ? last.globalPosition : after, isEnd: !last || last === events[events.length - 1] };
  };
}

/** Applies `events` in batches of the given sizes (cycled), moving the checkpoint batch by batch. */
async function applyInBatches(leaderboards: Leaderboards, events: RecordedEvent[], sizes: number[]): Promise<string> {
  let from = START;
  for (let start = 0, turn = 0; start < events.length; turn += 1) {
    const batch = events.slice(start, start + sizes[turn % sizes.length]!);
    const to = batch[batch.length - 1]!.globalPosition;
    await leaderboards.apply(batch, from, to);
    from = to;
    start += batch.length;
  }
  expect(await leaderboards.loadCheckpoint()).toBe(events[events.length - 1]!.globalPosition);
  const dump = await leaderboards.dump();
  await leaderboards.close();
  return dump;
}

/** Up to 80 grants to up to 12 members, so a batch often holds many grants of one member and many members of one set. */
const randomGrants = (minLength: number) =>
  fc.array(fc.record({ member: fc.nat(11), union: fc.nat(2), points: fc.integer({ min: 1, max: 1000 }), week: fc.nat(3) }), { minLength, maxLength: 80 });

describe('leaderboards in batches', () => {
  it('give the sorted sets of an event-by-event apply, however a random history is split into batches', async () => {
    await fc.assert(
      fc.asyncProperty(
        randomGrants(1),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 4 }),
        async (grants, sizes) => {
          const events = historyOf(grants);
          const oneByOne = await applyInBatches(boards(), events, [1]);
          expect(oneByOne.split('\n').length).toBeGreaterThanOrEqual(12); // a grant reaches 4 periods x 3 levels
          expect(await applyInBatches(boards(), events, sizes)).toEqual(oneByOne);
          expect(await applyInBatches(boards(), events, [events.length])).toEqual(oneByOne);
        },
      ),
      { numRuns: 30 },
    );
  });

  it("adds up to the grants: a member's all-time score in the province is the sum of their grants", async () => {
    const leaderboards = boards();
    const grants = Array.from({ length: 50 }, (_, index): Grant => ({ member: index % 7, union: index % 3, points: index + 1, week: index % 2 }));
    await applyInBatches(leaderboards, historyOf(grants), [50]);
    for (let member = 0; member < 7; member += 1) {
      const expected = grants.filter((grant) => grant.member === member).reduce((sum, grant) => sum + grant.points, 0);
      expect(await leaderboards.rankOf('p', 'all', '', `m${member}`)).toMatchObject({ points: expected });
    }
  });

  it('writes nothing, scores or checkpoint, when a batch starts from a checkpoint that has moved', async () => {
    const leaderboards = boards();
    const events = historyOf([{ member: 1, union: 0, points: 5, week: 0 }]);
    await leaderboards.apply(events.slice(0, 6), START, 6n);
    const before = await leaderboards.dump();
    const grants = historyOf(Array.from({ length: 20 }, (_, index): Grant => ({ member: index, union: index % 3, points: 10, week: 1 }))).slice(6);
    // A second runner that believes the projection is still at its start: refused whole.
    await expect(leaderboards.apply(grants, START, 100n)).rejects.toThrow('leaderboard checkpoint moved from -1 to 6');
    expect(await leaderboards.dump()).toBe(before);
    expect(await leaderboards.loadCheckpoint()).toBe(6n);
    // The same batch from the right place goes through.
    await leaderboards.apply(grants, 6n, 100n);
    expect(await leaderboards.rankOf('p', 'all', '', 'm19')).toMatchObject({ points: 10 });
    await leaderboards.close();
  });
});

describe('leaderboards of past periods', () => {
  // Monday 2026-11-30 in Shanghai: week 2026-W49, month 2026-11, year 2026.
  const NOW = new Date('2026-11-30T10:00:00+08:00');
  const grant = (memberId: string, orgId: string, points: number, periods: { week: string; month: string; year: string }, position: number): RecordedEvent => ({
    eventId: randomUUID(),
    streamId: `member-${memberId}`,
    revision: 0n,
    type: 'PointsGranted',
    schemaVersion: 1,
    data: { memberId, orgId, points, periods } as unknown as RecordedEvent['data'],
    metadata: { occurredAt: NOW.toISOString() },
    recordedAt: NOW,
    globalPosition: BigInt(position),
  });
  const registrations = ORGS.map(([orgId, parentId], index): RecordedEvent => ({
    eventId: randomUUID(),
    streamId: `org-${orgId}`,
    revision: 0n,
    type: 'OrganisationRegistered',
    schemaVersion: 1,
    data: { orgId, parentId } as RecordedEvent['data'],
    metadata: { occurredAt: NOW.toISOString() },
    recordedAt: NOW,
    globalPosition: BigInt(index + 1),
  }));
  // Boards are kept for their period and the next one: at NOW, weeks from 2026-W48, months from 2026-10.
  const grants = [
    grant('m1', 'p-c1-u1', 2, { week: '2026-W36', month: '2026-09', year: '2026' }, 9), // week and month no longer kept
    grant('m1', 'p-c1-u1', 5, { week: '2026-W47', month: '2026-11', year: '2026' }, 10), // week no longer kept
    grant('m1', 'p-c1-u1', 7, { week: '2026-W48', month: '2026-11', year: '2026' }, 11), // last week: kept
    grant('m1', 'p-c1-u1', 11, { week: '2026-W49', month: '2026-11', year: '2026' }, 12), // this week
  ];

  it('keep the previous week, month and year, across the turn of a year too', () => {
    expect(oldestKeptPeriods(NOW)).toEqual({ week: '2026-W48', month: '2026-10', year: '2025' });
    // Monday 4 January 2027 in Shanghai: ISO week 2027-W01; 2026 has 53 ISO weeks.
    expect(oldestKeptPeriods(new Date('2027-01-04T08:00:00+08:00'))).toEqual({ week: '2026-W53', month: '2026-12', year: '2026' });
    // Sunday night in Shanghai is still the week that began on the Monday before.
    expect(oldestKeptPeriods(new Date('2026-12-06T23:30:00+08:00'))).toEqual({ week: '2026-W48', month: '2026-11', year: '2025' });
  });

  async function expectBoards(leaderboards: Leaderboards): Promise<void> {
    const pointsIn = async (period: 'week' | 'month' | 'year' | 'all', periodKey: string, orgId = 'p'): Promise<number> =>
      (await leaderboards.rankOf(orgId, period, periodKey, 'm1')).points;
    expect(await pointsIn('all', '')).toBe(25);
    expect(await pointsIn('year', '2026')).toBe(25);
    expect(await pointsIn('month', '2026-11')).toBe(23);
    expect(await pointsIn('week', '2026-W49', 'p-c1-u1')).toBe(11);
    expect(await pointsIn('week', '2026-W48', 'p-c1')).toBe(7);
    // Nothing is written for a period older than the previous one when the grant is applied.
    for (const [orgId, period, periodKey] of [
      ['p', 'month', '2026-09'],
      ['p-c1-u1', 'week', '2026-W36'],
      ['p-c1', 'week', '2026-W47'],
    ] as const) {
      expect(await redis.exists(leaderboards.key(orgId, period, periodKey))).toBe(0);
    }
    // Every period board lives out its period and the next one, and then goes; the all-time boards stay.
    const ttl = async (period: 'week' | 'month' | 'year' | 'all', periodKey: string, orgId = 'p-c1'): Promise<number> => redis.pttl(leaderboards.key(orgId, period, periodKey));
    for (const [period, periodKey, most] of [
      ['week', '2026-W49', 16 * 86_400_000],
      ['week', '2026-W48', 16 * 86_400_000],
      ['month', '2026-11', 64 * 86_400_000],
      ['year', '2026', 734 * 86_400_000],
    ] as const) {
      const left = await ttl(period, periodKey);
      expect(left).toBeGreaterThan(most - 60_000);
      expect(left).toBeLessThanOrEqual(most);
    }
    expect(await ttl('all', '')).toBe(-1);
  }

  it('are not written once older than the previous period, and every period board expires a period after its own', async () => {
    const leaderboards = boards(undefined, NOW);
    const events = [...registrations, ...grants];
    await leaderboards.apply(events, START, grants[grants.length - 1]!.globalPosition);
    await expectBoards(leaderboards);
    await leaderboards.close();
  });

  it('are not written by a batch with moves either, and the boards the moves rewrite keep a time to live', async () => {
    const leaderboards = boards(undefined, NOW);
    const moved = (streamId: string, type: string, data: Record<string, unknown>, position: number): RecordedEvent => ({
      ...grants[0]!,
      eventId: randomUUID(),
      streamId,
      type,
      data: data as unknown as RecordedEvent['data'],
      globalPosition: BigInt(position),
    });
    // m2 moves from u3 to u1 this week (ZINCRBY), then u1 moves from c1 to c2 (ZUNIONSTORE, which
    // drops the time to live of the board it stores into).
    const events = [
      ...registrations,
      ...grants,
      grant('m2', 'p-c2-u3', 3, { week: '2026-W49', month: '2026-11', year: '2026' }, 13),
      moved('member-m2', 'MemberTransferred', { memberId: 'm2', transferId: 't-1', fromOrgId: 'p-c2-u3', toOrgId: 'p-c1-u1', byAdminId: 'admin', reason: 'transfer' }, 14),
      moved('org-p-c1-u1', 'OrganisationMoved', { orgId: 'p-c1-u1', fromParentId: 'p-c1', toParentId: 'p-c2', byAdminId: 'admin' }, 15),
    ];
    await leaderboards.apply(events, START, 15n);
    const points = async (orgId: string, period: 'week' | 'month' | 'all', periodKey: string, memberId: string): Promise<number> =>
      (await leaderboards.rankOf(orgId, period, periodKey, memberId)).points;
    expect(await points('p-c2', 'week', '2026-W49', 'm1')).toBe(11);
    expect(await points('p-c2', 'week', '2026-W49', 'm2')).toBe(3);
    expect(await points('p-c2', 'month', '2026-11', 'm1')).toBe(23);
    expect(await points('p', 'all', '', 'm1')).toBe(25);
    // Last week's points stay where they were earned.
    expect(await points('p-c1', 'week', '2026-W48', 'm1')).toBe(7);
    expect(await redis.exists(leaderboards.key('p-c1-u1', 'month', '2026-09'), leaderboards.key('p-c1', 'week', '2026-W47'))).toBe(0);
    for (const [period, periodKey, most] of [
      ['week', '2026-W49', 16 * 86_400_000],
      ['month', '2026-11', 64 * 86_400_000],
    ] as const) {
      const left = await redis.pttl(leaderboards.key('p-c2', period, periodKey));
      expect(left).toBeGreaterThan(most - 60_000);
      expect(left).toBeLessThanOrEqual(most);
    }
    expect(await redis.pttl(leaderboards.key('p-c2', 'all', ''))).toBe(-1);
    await leaderboards.close();
  });
});

describe('leaderboards caught up page by page, two scripts deep', () => {
  it('give the sorted sets of an event-by-event apply, with moves in the history and pages of any size', async () => {
    await fc.assert(
      fc.asyncProperty(
        randomGrants(4),
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 4 }),
        async (grants, sizes) => {
          const events = historyWithMoves(grants);
          const oneByOne = await applyInBatches(boards(), events, [1]);
          const leaderboards = boards();
          const applied = await leaderboards.catchUp(feedOf(events, sizes), SINGLE, () => undefined);
          expect(applied).toBe(events.length);
          expect(await leaderboards.loadCheckpoint()).toBe(events[events.length - 1]!.globalPosition);
          expect(await leaderboards.dump()).toEqual(oneByOne);
          await leaderboards.close();
        },
      ),
      { numRuns: 25 },
    );
  });

  it('carry on from where another runner moved the checkpoint, and end with the same sorted sets', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ member: fc.nat(11), union: fc.nat(2), points: fc.integer({ min: 1, max: 1000 }), week: fc.nat(3) }), { minLength: 20, maxLength: 80 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1, max: 20 }),
        async (grants, pageSize, rivalBatch) => {
          const events = historyWithMoves(grants);
          const oneByOne = await applyInBatches(boards(), events, [1]);
          const prefix = `ul-test-lb-${randomUUID().slice(0, 8)}:`;
          const leaderboards = boards(prefix);
          // A live runner in another process, on the same boards: before every other read of the
          // catch-up it applies a batch from wherever the checkpoint is, racing the scripts in flight.
          const rival = boards(prefix);
          const rivalApply = async (call: number): Promise<void> => {
            if (call % 2 === 0) return;
            const from = await rival.loadCheckpoint();
            const batch = events.filter((event) => event.globalPosition > from).slice(0, rivalBatch);
            if (batch.length === 0) return;
            await rival.apply(batch, from, batch[batch.length - 1]!.globalPosition).catch((error: unknown) => {
              if (!(error instanceof CheckpointMovedError)) throw error;
            });
          };
          await leaderboards.catchUp(feedOf(events, [pageSize], rivalApply), SINGLE, () => undefined);
          expect(await leaderboards.loadCheckpoint()).toBe(events[events.length - 1]!.globalPosition);
          expect(await leaderboards.dump()).toEqual(oneByOne);
          await leaderboards.close();
          await rival.close();
        },
      ),
      { numRuns: 20 },
    );
  });

  it('stop at a batch that fails, with the checkpoint after the last batch that committed', async () => {
    const events = historyOf(Array.from({ length: 30 }, (_, index): Grant => ({ member: index % 5, union: index % 3, points: 10, week: 0 })));
    const broken = events.map((event, index) => (index === 25 ? { ...event, data: { ...event.data, points: 0.5 } } : event));
    const leaderboards = boards();
    // Pages of 4: the batch holding event 26 fails while the one before it may be in flight.
    await expect(leaderboards.catchUp(feedOf(broken, [4]), SINGLE, () => undefined)).rejects.toThrow('invariant violated');
    expect(await leaderboards.loadCheckpoint()).toBe(24n);
    expect(await leaderboards.dump()).toEqual(await applyInBatches(boards(), events.slice(0, 24), [24]));
    await leaderboards.close();
  });
});
