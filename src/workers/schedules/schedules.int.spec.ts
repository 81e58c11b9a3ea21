import { randomBytes } from 'node:crypto';
import type { Job } from 'bullmq';
import Redis from 'ioredis';
import { waitForFeedEnd } from '../../../test/support/feed';
import { startLedgerApp, type LedgerApp } from '../../../test/support/ledger-app';
import { testTimeout } from '../../../test/support/wait-for';
import { DRAW_DEADLINE_AFTER_CLOSE_MS } from '../../domain/claims';
import { periodOfJob, runSchedule, scheduleStream, scheduleTasks, startSchedules, type ScheduleJobData, type ScheduleTasks } from '.';

/**
 * The schedules on real PostgreSQL and Redis. The processor is driven directly for a period (no
 * waiting for a cron to fire): a period runs once and is recorded once, even when two runs of it
 * overlap, and what it did is in its ScheduleRan event. The registration is checked on the queue.
 */

const MINUTE_MS = 60_000;
let nowMs = Date.parse('2026-12-31T02:00:00Z'); // 10:00 on 31 December in Shanghai
let app: LedgerApp;
let tasks: ScheduleTasks;
const system = { type: 'system', id: 'test-setup' };
const admin = { sub: 'admin-root', role: 'admin' as const, org: 'sched-hn' };

async function catchUp(): Promise<void> {
  await waitForFeedEnd(app.ledger.db);
  await app.ledger.catchUpReadModels();
}

async function recorded(streamId: string): Promise<Array<{ type: string; data: unknown }>> {
  return (await app.ledger.store.readStream(streamId)).map((event) => ({ type: event.type, data: event.data }));
}

/** Two runs of one period at once, as two worker processes would make them. */
async function twoRuns(name: Parameters<typeof runSchedule>[1], period: string) {
  const deps = { store: app.ledger.store, tasks, clock: () => new Date(nowMs) };
  const outcomes = await Promise.all([runSchedule(deps, name, period), runSchedule(deps, name, period)]);
  return outcomes.map((outcome) => outcome.status).sort();
}

beforeAll(async () => {
  app = await startLedgerApp({ clock: () => new Date(nowMs) });
  tasks = scheduleTasks({ benefits: app.ledger.benefits, members: app.ledger.members, mall: app.ledger.mall, claims: () => app.ledger.claims, lotteries: app.ledger.lotteries, imports: () => app.ledger.rosterImports, seals: app.ledger.seals, campaigns: app.ledger.campaigns, db: app.ledger.db, clock: () => new Date(nowMs) });
  await app.ledger.orgs.registerOrganisation({ orgId: 'sched-hn', name: 'Union sched-hn', parentId: null, level: 'province' }, { commandId: 'org:sched-hn', actor: system });
}, testTimeout());
afterAll(async () => {
  await app?.close();
});

describe('a schedule period', () => {
  it('runs its work once and records it once, however many runs of it overlap', async () => {
    let calls = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const gated: ScheduleTasks = {
      ...tasks,
      'benefits-sweep': async () => {
        calls += 1;
        await gate;
        return { wallets: 2 };
      },
    };
    const deps = { store: app.ledger.store, tasks: gated };
    // Both runs pass the check before either records (the gate holds them in the work).
    const both = Promise.all([runSchedule(deps, 'benefits-sweep', '2026-12-31T10:00'), runSchedule(deps, 'benefits-sweep', '2026-12-31T10:00')]);
    while (calls < 2) await new Promise((resolve) => setImmediate(resolve));
    release();
    const outcomes = await both;
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['already-ran', 'ran']);
    expect(outcomes.map((outcome) => outcome.counts)).toEqual([{ wallets: 2 }, { wallets: 2 }]);
    expect(await recorded(scheduleStream('benefits-sweep', '2026-12-31T10:00'))).toEqual([
      { type: 'ScheduleRan', data: { schedule: 'benefits-sweep', period: '2026-12-31T10:00', counts: { wallets: 2 } } },
    ]);

    // A later run of the recorded period does nothing at all; the next period runs.
    expect(await runSchedule(deps, 'benefits-sweep', '2026-12-31T10:00')).toMatchObject({ status: 'already-ran', counts: { wallets: 2 } });
    expect(calls).toBe(2);
    expect(await runSchedule(deps, 'benefits-sweep', '2026-12-31T10:01')).toMatchObject({ status: 'ran' });
    expect(calls).toBe(3);
  });

  it('releases the expired holds of members nobody touches, once, and records how many', async () => {
    const memberId = 'sched-m-1';
    await app.ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'sched-hn', name: 'Li', idHmac: 'hmac-sched-m-1', piiCipher: 'x' }, { commandId: 'enrol:sched-m-1', actor: system });
    await app.ledger.members.execute(memberId, { type: 'ActivateMember', name: 'Li' }, { commandId: 'activate:sched-m-1', actor: system });
    await app.ledger.members.execute(memberId, { type: 'HoldPoints', holdId: 'h-late', points: 30, purpose: 'mall', expiresAtMs: nowMs + 10 * MINUTE_MS }, { commandId: 'hold:late', actor: system });
    await app.ledger.members.execute(memberId, { type: 'HoldPoints', holdId: 'h-later', points: 20, purpose: 'mall', expiresAtMs: nowMs + 60 * MINUTE_MS }, { commandId: 'hold:later', actor: system });
    await catchUp();
    // Not expired yet: nothing to release.
    expect(await runSchedule({ store: app.ledger.store, tasks }, 'member-holds', '2026-12-31T10:00')).toMatchObject({ status: 'ran', counts: { members: 0, holds: 0 } });

    nowMs += 11 * MINUTE_MS;
    expect(await twoRuns('member-holds', '2026-12-31T10:11')).toEqual(['already-ran', 'ran']);
    expect(await recorded(scheduleStream('member-holds', '2026-12-31T10:11'))).toEqual([
      { type: 'ScheduleRan', data: { schedule: 'member-holds', period: '2026-12-31T10:11', counts: { members: 1, holds: 1 } } },
    ]);
    const released = (await app.ledger.store.readStream(`member-${memberId}`)).filter((event) => event.type === 'HoldVoided');
    expect(released.map((event) => event.data['holdId'])).toEqual(['h-late']);
    expect((await app.ledger.members.load(memberId)).state.held).toBe(20);
  });

  it('closes the programmes of the year just over on New Year, once, as the system', async () => {
    await app.ledger.benefits.openProgramme(admin, { programmeId: 'sched-2026', name: '2026 慰问', year: 2026, rootOrgId: 'sched-hn' }, 'open-sched-2026');
    await app.ledger.benefits.openProgramme(admin, { programmeId: 'sched-2027', name: '2027 慰问', year: 2027, rootOrgId: 'sched-hn' }, 'open-sched-2027');
    await catchUp();
    nowMs = Date.parse('2026-12-31T16:30:00Z'); // 00:30 on 1 January 2027 in Shanghai
    const fired = { name: 'year-end-close', data: {}, timestamp: nowMs - 5 * MINUTE_MS, opts: { delay: 5 * MINUTE_MS } } as unknown as Job<ScheduleJobData>;
    expect(periodOfJob(fired)).toBe('2026');

    expect(await twoRuns('year-end-close', '2026')).toEqual(['already-ran', 'ran']);
    expect(await recorded(scheduleStream('year-end-close', '2026'))).toEqual([
      { type: 'ScheduleRan', data: { schedule: 'year-end-close', period: '2026', counts: { closed: 1 } } },
    ]);
    const closes = (await app.ledger.store.readStream('programme-sched-2026')).filter((event) => event.type === 'ProgrammeClosed');
    expect(closes.map((event) => event.metadata.actor)).toEqual([{ type: 'system', id: 'benefits' }]);
    expect((await app.ledger.store.readStream('programme-sched-2027')).map((event) => event.type)).not.toContain('ProgrammeClosed');
  });

  it('seals the stream heads once a day, each seal chained to the one before', async () => {
    expect(await twoRuns('audit-seal', '2026-12-30')).toEqual(['already-ran', 'ran']);
    expect(await recorded(scheduleStream('audit-seal', '2026-12-30'))).toEqual([
      { type: 'ScheduleRan', data: { schedule: 'audit-seal', period: '2026-12-30', counts: { sealNumber: expect.any(Number), streams: expect.any(Number), recorded: expect.any(Number) } } },
    ]);
    // Two overlapping runs record one seal at one position; at two positions (the first seal's
    // event already visible to the second run) two seals, the second naming the first's root.
    const seals = await app.ledger.seals.list();
    expect(seals.length).toBeGreaterThanOrEqual(1);
    expect(seals[0]).toMatchObject({ sealNumber: 1, previousRoot: null, root: expect.stringMatching(/^[0-9a-f]{64}$/) });
    seals.slice(1).forEach((seal, index) => expect(seal).toMatchObject({ sealNumber: index + 2, previousRoot: seals[index]!.root }));
  });

  it('records campaign milestones once and makes the week’s campaign report once, however many runs overlap', async () => {
    await app.ledger.orgs.registerOrganisation({ orgId: 'sched-hn-u', name: 'Union sched-hn-u', parentId: 'sched-hn', level: 'grassroots' }, { commandId: 'org:sched-hn-u', actor: system });
    await waitForFeedEnd(app.ledger.db);
    await app.ledger.catchUpReadModels();
    const admin = { sub: 'admin-sched', role: 'admin' as const, org: 'sched-hn' };
    // The events' recorded_at is the database's clock, the ledger's is nowMs: a period covering both.
    const startsAtMs = Math.min(Date.now(), nowMs) - 3600_000;
    await app.ledger.campaigns.create(
      admin,
      { campaignId: 'sched-checkins', name: 'sched', rootOrgId: 'sched-hn', measure: 'check-ins', startsAtMs, endsAtMs: Math.max(Date.now(), nowMs) + 30 * 86_400_000, milestones: [{ percent: 100, byDay: '2027-01-10' }] },
      'sched-campaign',
    );
    await app.ledger.campaigns.importTargets(admin, 'sched-checkins', Buffer.from('seq,unit,members,target\n1,sched-hn-u,2,1\n'), 'sched-targets');
    const memberId = 'sched-m-2';
    await app.ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'sched-hn-u', name: 'Wang', idHmac: 'hmac-sched-m-2', piiCipher: 'x' }, { commandId: 'enrol:sched-m-2', actor: system });
    await app.ledger.members.execute(memberId, { type: 'ActivateMember', name: 'Wang' }, { commandId: 'activate:sched-m-2', actor: system });
    await app.ledger.members.execute(memberId, { type: 'CheckIn' }, { commandId: 'checkin:sched-m-2', actor: system });
    await waitForFeedEnd(app.ledger.db);
    await app.ledger.catchUpReadModels();

    expect(await twoRuns('campaign-milestones', '2026-12-31T10:01')).toEqual(['already-ran', 'ran']);
    expect(await twoRuns('campaign-milestones', '2026-12-31T10:02')).toEqual(['already-ran', 'ran']);
    const milestones = (await recorded('campaign-sched-checkins')).filter((event) => event.type === 'CampaignMilestoneReached');
    expect(milestones).toEqual([{ type: 'CampaignMilestoneReached', data: expect.objectContaining({ percent: 100, done: 1, target: 1, onTime: true }) }]);

    expect(await twoRuns('campaign-weekly-reports', '2027-01-04')).toEqual(['already-ran', 'ran']);
    const reports = await app.ledger.db.any<{ report_id: string; units: number }>("SELECT report_id, units FROM ul_campaign_reports WHERE campaign_id = 'sched-checkins'");
    expect(reports).toEqual([{ report_id: '2027-01-04', units: 2 }]);
    const files = await app.ledger.db.one<{ count: string }>("SELECT count(*) FROM ul_campaign_report_files WHERE campaign_id = 'sched-checkins'");
    expect(Number(files.count)).toBe(3);
  });

  it('lapses, in the claims context’s minute, a lottery nobody drew by its deadline, once', async () => {
    const startedAtMs = nowMs;
    const opensAtMs = nowMs + MINUTE_MS;
    const closesAtMs = opensAtMs + 60 * MINUTE_MS;
    await app.ledger.lotteries.create(
      admin,
      { lotteryId: 'sched-forgotten', orgId: 'sched-hn', name: 'sched', entryPoints: 10, prizes: 1, opensAtMs, closesAtMs, losers: 'refund', maxEntries: 10, programmeId: null, voucher: null, prizePoints: 100 },
      'sched-lottery',
    );
    await catchUp();
    try {
      nowMs = closesAtMs + DRAW_DEADLINE_AFTER_CLOSE_MS + MINUTE_MS;
      const deps = { store: app.ledger.store, tasks, clock: () => new Date(nowMs) };
      const outcome = await runSchedule(deps, 'claims-reconcile', '2027-01-29T10:00');
      expect(outcome).toMatchObject({ status: 'ran', counts: expect.objectContaining({ lotteriesLapsed: 1 }) });
      expect((await app.ledger.lotteries.state('sched-forgotten')).status).toBe('lapsed');
      // The next minute finds nothing left to lapse.
      await catchUp();
      expect((await runSchedule(deps, 'claims-reconcile', '2027-01-29T10:01')).counts).toMatchObject({ lotteriesLapsed: 0 });
    } finally {
      nowMs = startedAtMs;
    }
  });

  it('names the period a fired job is for: the Shanghai minute, the day closed, the year closed', () => {
    const fired = (name: string, atIso: string): string => periodOfJob({ name, data: {}, timestamp: Date.parse(atIso), opts: {} } as unknown as Job<ScheduleJobData>);
    expect(fired('benefits-sweep', '2026-12-31T16:05:00.000Z')).toBe('2027-01-01T00:05');
    expect(fired('member-holds', '2026-12-31T15:59:30.000Z')).toBe('2026-12-31T23:59');
    expect(fired('merchant-day-close', '2026-09-11T16:10:00.000Z')).toBe('2026-09-11'); // 00:10 on the 12th in Shanghai.
    expect(fired('audit-seal', '2026-09-11T18:00:00.000Z')).toBe('2026-09-11'); // 02:00 on the 12th in Shanghai.
    expect(fired('campaign-weekly-reports', '2026-12-06T16:00:00.000Z')).toBe('2026-12-07'); // Monday 00:00 in Shanghai.
    expect(periodOfJob({ name: 'merchant-day-close', data: { period: '2026-09-01' }, timestamp: 0, opts: {} } as unknown as Job<ScheduleJobData>)).toBe('2026-09-01');
  });
});

describe('the schedulers', () => {
  it('are registered once on ul-schedules, in Shanghai time, however many processes register them', async () => {
    const redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
    const prefix = `ul-test-schedules-${randomBytes(4).toString('hex')}`;
    const options = { store: app.ledger.store, tasks, connection: redis, prefix };
    const [first, second] = await Promise.all([startSchedules(options), startSchedules(options)]);
    try {
      const schedulers = await first.queue.getJobSchedulers();
      expect(schedulers.map((scheduler) => [scheduler.key, scheduler.pattern, scheduler.tz]).sort()).toEqual([
        ['audit-seal', '0 0 2 * * *', 'Asia/Shanghai'],
        ['benefits-sweep', '0 * * * * *', 'Asia/Shanghai'],
        ['campaign-milestones', '50 * * * * *', 'Asia/Shanghai'],
        ['campaign-weekly-reports', '0 0 0 * * 1', 'Asia/Shanghai'],
        ['claims-reconcile', '45 * * * * *', 'Asia/Shanghai'],
        ['import-files', '0 20 * * * *', 'Asia/Shanghai'],
        ['mall-orders', '15 * * * * *', 'Asia/Shanghai'],
        ['member-holds', '30 * * * * *', 'Asia/Shanghai'],
        ['merchant-day-close', '0 10 0 * * *', 'Asia/Shanghai'],
        ['year-end-close', '0 30 0 1 1 *', 'Asia/Shanghai'],
      ]);
    } finally {
      await first.worker.pause(true);
      await second.worker.pause(true);
      await first.queue.obliterate({ force: true }).catch(() => undefined);
      await second.close();
      await first.close();
      redis.disconnect();
    }
  });
});
