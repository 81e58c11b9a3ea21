import { randomBytes } from 'node:crypto';
import type { Job } from 'bullmq';
import Redis from 'ioredis';
import type { ReconciliationView } from '../../application/payouts';
import { waitFor } from '../../../test/support/wait-for';
import { dayToReconcile, startReconciliationSchedule, type ReconciliationSchedule } from '.';

/**
 * The daily reconciliation's schedule on real Redis: registered once at 01:30 Shanghai, and a job
 * reconciles the day it names or, fired by the schedule, the Shanghai day before it fired. The
 * reconciliation itself is covered in payout-worker.int.spec.ts; here it only notes the days.
 */

let redis: Redis;
let schedule: ReconciliationSchedule;
const days: string[] = [];
const prefix = `ul-test-reconcile-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
  const reconcile = async (day: string): Promise<ReconciliationView> => {
    days.push(day);
    return { day, statementLines: 0, statementFen: 0, ledgerPayouts: 0, ledgerFen: 0, mismatches: [], recordedEvents: 0 };
  };
  schedule = await startReconciliationSchedule({ reconciliation: { reconcile }, connection: redis, prefix });
});
afterAll(async () => {
  await schedule?.queue.obliterate({ force: true }).catch(() => undefined);
  await schedule?.close();
  redis?.disconnect();
});

describe('the daily reconciliation job', () => {
  it('is scheduled once, every day at 01:30 in Shanghai, however often the process starts', async () => {
    const again = await startReconciliationSchedule({ reconciliation: { reconcile: async () => Promise.reject(new Error('unused')) }, connection: redis, prefix });
    await again.close();
    const schedulers = await schedule.queue.getJobSchedulers();
    expect(schedulers.map((scheduler) => [scheduler.key, scheduler.pattern, scheduler.tz])).toEqual([['daily-payouts-reconciliation', '0 30 1 * * *', 'Asia/Shanghai']]);
  });

  it('reconciles the day a job names, or the Shanghai day before the one it fired on', async () => {
    await schedule.queue.add('reconcile', { day: '2026-09-11' });
    await waitFor(() => days.includes('2026-09-11'), { what: 'the job to reconcile 2026-09-11' });
    const fired = (atIso: string): string => dayToReconcile({ data: {}, timestamp: Date.parse(atIso), opts: {} } as Job<{ day?: string }>);
    expect(fired('2026-09-11T17:30:00.000Z')).toBe('2026-09-11'); // 01:30 on the 12th in Shanghai.
    expect(fired('2026-09-11T15:59:59.000Z')).toBe('2026-09-10'); // Still the 11th in Shanghai.
  });
});
