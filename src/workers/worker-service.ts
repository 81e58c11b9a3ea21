import type { RedisClient as Redis } from '../infra/runtime';
import type { UnionLedger } from '../composition-root';
import type { WorkersConfig } from '../config/config';
import type { Database } from '../infra/database';
import { Leadership } from '../infra/leadership';
import type { SubscriptionHandle } from '../eventstore/event-store';
import type { QueueSet } from './queue-set';
import { checkEvictionPolicy } from './redis-policy';
import { workerRegistry, type WorkerRegistry } from './registry';
import { startReconciliationSchedule, type ReconciliationSchedule } from './payouts';
import { scheduleTasks, startSchedules, type Schedules } from './schedules';
import { bullPrefix } from './queues';
import { RELAY_CHECKPOINT, replayOutstanding, startRelay, watchRedisRestarts } from './relay';
import { startWorkers, type WorkerHost, type WorkerHostLog, type WorkerHostOptions } from './worker-host';

/**
 * Everything a worker process runs, in the order it needs it: the Redis eviction-policy check,
 * the replay of requests Redis may have lost (at start, and again whenever Redis comes back as
 * another server: relay/redis-restarts.ts), the relay, the registered workers and the job
 * schedulers of the time-driven work (src/workers/schedules: the benefits sweep, idle members'
 * expired holds, merchant day close, year-end close; these replace the in-process sweep timer,
 * which only a WORKERS=off service still runs). Used by
 * `union-ledger worker` and, unless WORKERS=off, by `union-ledger serve` / `npm start` in the
 * service's own process.
 */

export interface WorkerServiceOptions {
  ledger: UnionLedger;
  db: Database;
  redis: Redis;
  redisKeyPrefix: string;
  queues: QueueSet;
  settings: Pick<WorkersConfig, 'concurrency' | 'lockMs'>;
  log: WorkerHostLog;
  /** Default: every registered worker (registry.ts). */
  registry?: WorkerRegistry;
  /** Each job attempt a worker finished (WorkerHostOptions.onJobFinished). */
  onJobFinished?: WorkerHostOptions['onJobFinished'];
  /** Relay batch size (default 500). */
  relayBatchSize?: number;
  /** Registers and runs the job schedulers of src/workers/schedules (default true; tests that drive time themselves turn them off). */
  schedules?: boolean;
  /** How often this process tries to become the relay's leader (LEADERSHIP_TICK_MS, default 1000). */
  leadershipTickMs?: number;
  /** The relay's leadership won or lost (logs, tests). */
  onLeadership?(role: string, leader: boolean): void;
}

export interface WorkerService {
  host: WorkerHost;
  /** True while this process leads the relay. */
  leadsRelay(): boolean;
  /** Stops taking jobs, waits for those running, then stops the relay. */
  close(): Promise<void>;
}

/** Failed relay batches are retried with back-off by the subscription; this keeps the log to one line a minute. */
const RELAY_ERROR_LOG_INTERVAL_MS = 60_000;

export async function startWorkerService(options: WorkerServiceOptions): Promise<WorkerService> {
  const { log } = options;
  const policy = await checkEvictionPolicy(options.redis);
  if (policy.ok) log.log(policy.message);
  else log.warn(policy.message);

  // Watched before the start's replay, so that a restart between the two is not missed.
  const restarts = await watchRedisRestarts({ redis: options.redis, replay: () => replayOutstanding({ db: options.db, queues: options.queues }), log });
  const replay = await replayOutstanding({ db: options.db, queues: options.queues });
  log.log(
    `relay: ${replay.outstanding} request(s) without a recorded outcome, ${replay.readded} of them re-added (Redis no longer held them)` +
      (replay.complete ? '' : `; stopped at position ${replay.lastPosition}: run \`union-ledger relay replay --after ${replay.lastPosition}\``),
  );

  let lastErrorLoggedMs = 0;
  // One relay across every worker and serve process: it runs where its leadership is (an advisory
  // lock on a session of its own; src/infra/leadership.ts), and moves within a tick when that
  // process dies. The checkpoint's transaction checks the lock is still held (the fence).
  const leadership = new Leadership(options.db, {
    group: 'relay',
    ...(options.leadershipTickMs ? { tickMs: options.leadershipTickMs } : {}),
    log: (line) => log.log(line),
    ...(options.onLeadership ? { onChange: options.onLeadership } : {}),
  });
  leadership.add(RELAY_CHECKPOINT, (lease): SubscriptionHandle =>
    startRelay({
      store: options.ledger.store,
      db: options.db,
      queues: options.queues,
      fence: lease,
      ...(options.relayBatchSize ? { batchSize: options.relayBatchSize } : {}),
      onError: (error) => {
        if (Date.now() - lastErrorLoggedMs < RELAY_ERROR_LOG_INTERVAL_MS) return;
        lastErrorLoggedMs = Date.now();
        log.error(`relay: a batch failed and will be retried from its checkpoint: ${(error as Error).message}`);
      },
    }),
  );
  const host = startWorkers({
    connection: options.redis,
    redisKeyPrefix: options.redisKeyPrefix,
    registry: options.registry ?? workerRegistry({ ledger: options.ledger }),
    concurrency: options.settings.concurrency,
    lockMs: options.settings.lockMs,
    log,
    onJobFinished: options.onJobFinished,
  });
  // The daily reconciliation of payouts against the gateway's statement (a BullMQ job scheduler:
  // once a day however many processes register it), where this process can reach the gateway.
  let reconciliation: ReconciliationSchedule | undefined;
  if (options.ledger.hasPaymentGateway) {
    const ledger = options.ledger;
    reconciliation = await startReconciliationSchedule({
      reconciliation: { reconcile: (day) => ledger.reconciliation.reconcile(day) },
      connection: options.redis,
      prefix: bullPrefix(options.redisKeyPrefix, options.redis),
      onError: (day, error) => log.error(`reconciliation of ${day} failed and will be retried: ${error.message}`),
    });
  }
  let schedules: Schedules | undefined;
  if (options.schedules ?? true) {
    const ledger = options.ledger;
    schedules = await startSchedules({
      store: ledger.store,
      tasks: scheduleTasks({ benefits: ledger.benefits, members: ledger.members, mall: ledger.mall, claims: () => ledger.claims, lotteries: ledger.lotteries, imports: () => ledger.rosterImports, log: (line) => log.error(line), seals: ledger.seals, campaigns: ledger.campaigns, db: options.db }),
      connection: options.redis,
      prefix: bullPrefix(options.redisKeyPrefix, options.redis),
      onError: (name, error) => log.error(`schedule ${name} failed and will be retried: ${error.message}`),
    });
  }
  log.log(
    `workers: ${host.queues.join(', ') || 'none'} (lock ${options.settings.lockMs} ms); relay running${reconciliation ? '; daily payout reconciliation scheduled' : ''}` +
      (schedules ? '; schedules: benefits sweep, member holds, merchant day close, year-end close, campaign milestones and weekly reports' : ''),
  );
  return {
    host,
    leadsRelay: () => leadership.held().length > 0,
    async close() {
      await host.close();
      await reconciliation?.close();
      await schedules?.close();
      restarts.close();
      await leadership.close();
    },
  };
}
