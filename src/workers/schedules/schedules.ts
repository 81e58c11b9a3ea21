import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { periodsOf, previousDay } from '../../domain/shared';
import { ConcurrencyError } from '../../eventstore/errors';
import type { EventStore } from '../../eventstore/event-store';

/**
 * The time-driven work of the service, as BullMQ job schedulers on one small queue: every process
 * that starts the worker service upserts the same scheduler ids, so each fires once per period
 * however many processes run. Each run is recorded as `ScheduleRan { schedule, period, counts }`,
 * the only event of the stream `schedule-<name>-<period>`, appended with expected revision
 * no_stream: a run that finds the period recorded does nothing, and of two runs of one period
 * that overlap (a stalled job run again, a manual run) only one records, the other learning it
 * from the ConcurrencyError. The work is recorded after it is done, so a run that crashes is
 * retried; every step is a command with a command id of its own or a no-op once done, so the
 * overlap takes effect once.
 */

export const SCHEDULES_QUEUE = 'ul-schedules';

export type ScheduleName =
  | 'benefits-sweep'
  | 'member-holds'
  | 'merchant-day-close'
  | 'year-end-close'
  | 'mall-orders'
  | 'claims-reconcile'
  | 'audit-seal'
  | 'campaign-milestones'
  | 'campaign-weekly-reports'
  | 'import-files';
export type ScheduleCounts = Record<string, number>;
/** The work of one schedule for one period (the period names the run, e.g. in command ids). */
export type ScheduleTasks = Record<ScheduleName, (period: string) => Promise<ScheduleCounts>>;

export interface ScheduleDefinition {
  name: ScheduleName;
  /** Cron pattern with seconds, in Asia/Shanghai. */
  pattern: string;
  /** The period a run fired at `firedAtMs` is for. */
  periodOf(firedAtMs: number): string;
}

/** The Shanghai minute, e.g. 2026-11-30T19:35. */
const minuteOf = (atMs: number): string => new Date(atMs + 8 * 60 * 60 * 1000).toISOString().slice(0, 16);

export const SCHEDULES: readonly ScheduleDefinition[] = [
  // Expired vouchers and authorisations, expired proposals, batches to resume (Benefits.sweep).
  { name: 'benefits-sweep', pattern: '0 * * * * *', periodOf: minuteOf },
  // Holds of members nobody touches, released once expired (their next command would do it).
  { name: 'member-holds', pattern: '30 * * * * *', periodOf: minuteOf },
  // Mall orders not paid by their deadline expire and release what they held; interrupted settlements finish (Mall.sweep).
  { name: 'mall-orders', pattern: '15 * * * * *', periodOf: minuteOf },
  // Claim admissions the gate let through whose request never reached the log (a crash between the
  // two) are recorded, so the gate and the log agree (Claims.reconcile).
  { name: 'claims-reconcile', pattern: '45 * * * * *', periodOf: minuteOf },
  // Yesterday's merchant settlements (Benefits.settleDue): the period is the day closed.
  { name: 'merchant-day-close', pattern: '0 10 0 * * *', periodOf: (atMs) => previousDay(periodsOf(new Date(atMs)).day) },
  // Programmes of the year just over: the period is the year closed.
  { name: 'year-end-close', pattern: '0 30 0 1 1 *', periodOf: (atMs) => String(Number(periodsOf(new Date(atMs)).year) - 1) },
  // The stream heads sealed once a day (docs/AUDIT.md), after the day's closes: the period is the day sealed.
  { name: 'audit-seal', pattern: '0 0 2 * * *', periodOf: (atMs) => previousDay(periodsOf(new Date(atMs)).day) },
  // Campaign milestones crossed since the last run, recorded once each (Campaigns.checkMilestones).
  { name: 'campaign-milestones', pattern: '50 * * * * *', periodOf: minuteOf },
  // Every Monday at 00:00 the week's campaign reports (CampaignReports.generateWeekly): the period, and the report id, is that Monday.
  { name: 'campaign-weekly-reports', pattern: '0 0 0 * * 1', periodOf: (atMs) => periodsOf(new Date(atMs)).day },
  // Every hour at :20, sealed roster uploads whose import was never recorded are discarded (RosterImports.discardOrphanFiles).
  { name: 'import-files', pattern: '0 20 * * * *', periodOf: minuteOf },
];

export interface ScheduleJobData {
  /** Run for this period instead of the one the job fired for (a manual run). */
  period?: string;
}

export interface ScheduleOutcome {
  schedule: ScheduleName;
  period: string;
  /** 'ran': this run did the work and recorded it; 'already-ran': another run recorded the period, this one recorded nothing. */
  status: 'ran' | 'already-ran';
  /** What the recorded run did. */
  counts: ScheduleCounts;
}

export const scheduleStream = (name: ScheduleName, period: string): string => `schedule-${name}-${period}`;

export function definitionOf(name: string): ScheduleDefinition {
  const definition = SCHEDULES.find((candidate) => candidate.name === name);
  if (!definition) throw new Error(`invariant violated: no schedule named ${name}`);
  return definition;
}

/** The period a job runs for: the one it names, or the one its schedule fired for. */
export function periodOfJob(job: Pick<Job<ScheduleJobData>, 'name' | 'data' | 'timestamp' | 'opts'>): string {
  if (job.data.period) return job.data.period;
  return definitionOf(job.name).periodOf(job.timestamp + (job.opts.delay ?? 0));
}

async function recordedCounts(store: EventStore, streamId: string): Promise<ScheduleCounts | null> {
  const [recorded] = await store.readStream(streamId, { maxCount: 1 });
  return recorded ? (recorded.data['counts'] as ScheduleCounts) : null;
}

/** Runs one schedule for one period at most once: the processor of the `ul-schedules` queue. */
export async function runSchedule(deps: { store: EventStore; tasks: ScheduleTasks; clock?: () => Date }, name: ScheduleName, period: string): Promise<ScheduleOutcome> {
  const streamId = scheduleStream(name, period);
  const before = await recordedCounts(deps.store, streamId);
  if (before) return { schedule: name, period, status: 'already-ran', counts: before };
  const counts = await deps.tasks[name](period);
  const occurredAt = (deps.clock ?? (() => new Date()))().toISOString();
  try {
    await deps.store.appendToStream(
      streamId,
      [{ type: 'ScheduleRan', data: { schedule: name, period, counts }, metadata: { occurredAt, actor: { type: 'system', id: 'schedules' } } }],
      { expectedRevision: 'no_stream' },
    );
  } catch (error) {
    if (!(error instanceof ConcurrencyError)) throw error;
    return { schedule: name, period, status: 'already-ran', counts: (await recordedCounts(deps.store, streamId)) ?? {} };
  }
  return { schedule: name, period, status: 'ran', counts };
}

export interface SchedulesOptions {
  store: EventStore;
  tasks: ScheduleTasks;
  connection: ConnectionOptions;
  prefix?: string;
  /** Default: all of SCHEDULES. */
  schedules?: readonly ScheduleDefinition[];
  onOutcome?(outcome: ScheduleOutcome): void;
  onError?(name: string, error: Error): void;
}

export interface Schedules {
  queue: Queue<ScheduleJobData>;
  worker: Worker<ScheduleJobData, ScheduleOutcome>;
  close(): Promise<void>;
}

export async function startSchedules(options: SchedulesOptions): Promise<Schedules> {
  const common = { connection: options.connection, ...(options.prefix ? { prefix: options.prefix } : {}) };
  const queue = new Queue<ScheduleJobData>(SCHEDULES_QUEUE, common);
  queue.on('error', () => undefined);
  for (const schedule of options.schedules ?? SCHEDULES) {
    await queue.upsertJobScheduler(
      schedule.name,
      { pattern: schedule.pattern, tz: 'Asia/Shanghai' },
      {
        name: schedule.name,
        data: {},
        opts: { attempts: 3, backoff: { type: 'exponential', delay: 10_000 }, removeOnComplete: { count: 200 }, removeOnFail: { count: 200 } },
      },
    );
  }
  const worker = new Worker<ScheduleJobData, ScheduleOutcome>(
    SCHEDULES_QUEUE,
    async (job) => {
      try {
        const outcome = await runSchedule(options, definitionOf(job.name).name, periodOfJob(job));
        options.onOutcome?.(outcome);
        return outcome;
      } catch (error) {
        options.onError?.(job.name, error as Error);
        throw error;
      }
    },
    { ...common, concurrency: 1, lockDuration: 120_000, stalledInterval: 60_000, maxStalledCount: 3 },
  );
  worker.on('error', () => undefined);
  await worker.waitUntilReady();
  return {
    queue,
    worker,
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
