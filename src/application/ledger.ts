import type Redis from 'ioredis';
import type { Database } from '../infra/database';
import type { PiiVault } from '../infra/pii';
import type { RecordedEvent, SubscriptionHandle } from '../eventstore/event-store';
import { PostgresEventStore } from '../eventstore/postgres/postgres-event-store';
import { Leaderboards, startLeaderboardProjection } from '../projections/leaderboard';
import { LEDGER_PROJECTION, ledgerProjection } from '../projections/ledger-projection';
import { startProjection } from '../projections/projection-runner';
import { OrgDirectory } from '../projections/org-directory';
import { MemberService } from './member-service';
import { OrgAccess } from './org-access';
import { QuizBook } from './quiz-book';
import { OrgService } from './org-service';
import { RuleBook } from './rule-book';

/**
 * Projection lag: how long after an event was recorded a projection had applied it. A bounded
 * ring of recent samples gives the percentiles the admin endpoint and the benchmark report.
 */
export class LagTracker {
  private readonly samplesMs: number[] = [];
  private next = 0;
  appliedEvents = 0;
  lastAppliedAtMs = 0;

  constructor(private readonly capacity = 10_000) {}

  record(events: RecordedEvent[], nowMs = Date.now()): void {
    for (const event of events) {
      const lagMs = nowMs - event.recordedAt.getTime();
      if (this.samplesMs.length < this.capacity) this.samplesMs.push(lagMs);
      else this.samplesMs[this.next] = lagMs;
      this.next = (this.next + 1) % this.capacity;
    }
    this.appliedEvents += events.length;
    if (events.length > 0) this.lastAppliedAtMs = nowMs;
  }

  percentile(fraction: number): number | null {
    if (this.samplesMs.length === 0) return null;
    const sorted = [...this.samplesMs].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
  }

  summary(): { appliedEvents: number; lagP50Ms: number | null; lagP99Ms: number | null; lastAppliedAt: string | null } {
    return {
      appliedEvents: this.appliedEvents,
      lagP50Ms: this.percentile(0.5),
      lagP99Ms: this.percentile(0.99),
      lastAppliedAt: this.lastAppliedAtMs ? new Date(this.lastAppliedAtMs).toISOString() : null,
    };
  }
}

export interface LedgerOptions {
  db: Database;
  redis: Redis;
  vault: PiiVault;
  /** Prefix of every Redis key (leaderboards, rate limits), so ledgers can share a Redis. */
  redisPrefix: string;
}

/** The ledger's application services over one event store, wired once per process. */
export class Ledger {
  readonly store: PostgresEventStore;
  readonly rules: RuleBook;
  readonly members: MemberService;
  readonly orgs: OrgService;
  readonly leaderboards: Leaderboards;
  readonly quizzes: QuizBook;
  readonly orgDirectory: OrgDirectory;
  readonly orgAccess: OrgAccess;
  readonly lag = { [LEDGER_PROJECTION]: new LagTracker(), leaderboard: new LagTracker() };
  private projections: SubscriptionHandle[] = [];

  constructor(readonly options: LedgerOptions) {
    this.store = new PostgresEventStore(options.db);
    this.rules = new RuleBook(this.store);
    this.members = new MemberService(this.store, this.rules);
    this.orgs = new OrgService(this.store);
    this.leaderboards = new Leaderboards(options.redis, options.redisPrefix);
    this.quizzes = new QuizBook(this.store);
    this.orgDirectory = new OrgDirectory(options.db);
    this.orgAccess = new OrgAccess(this.orgDirectory);
  }

  get db(): Database {
    return this.options.db;
  }

  get vault(): PiiVault {
    return this.options.vault;
  }

  /** Starts the checkpointed projections; errors are retried by the runner and reported here. */
  startProjections(onError: (projection: string, error: unknown) => void): void {
    const ledger = ledgerProjection();
    const ledgerLag = this.lag[LEDGER_PROJECTION];
    this.projections.push(
      startProjection(
        this.store,
        this.options.db,
        {
          ...ledger,
          apply: async (tx, events) => {
            await ledger.apply(tx, events);
            // Recorded when the batch is handed over; the checkpoint commits right after.
            ledgerLag.record(events);
          },
        },
        { batchSize: 500, onError: (error) => onError(LEDGER_PROJECTION, error) },
      ),
      startLeaderboardProjection(this.store, this.leaderboards, {
        onError: (error) => onError('leaderboard', error),
        onApplied: (events) => this.lag.leaderboard.record(events),
      }),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.projections.map((handle) => handle.stop()));
    this.projections = [];
    await this.leaderboards.close();
    await this.store.close();
  }
}
