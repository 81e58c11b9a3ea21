import { AsyncLocalStorage } from 'node:async_hooks';
import type { Cluster, Redis } from 'ioredis';
import type { Database } from './database';

/**
 * Read replicas with read-your-writes (issue 14 item 3).
 *
 * Queries that answer from read models (statements, wallet statements, proposal and merchant
 * lists, claim and lottery lists, import progress, leaderboard names) may be served by a
 * PostgreSQL streaming replica (READ_DATABASE_URL). Anybody may be served a replica that lags by
 * its replication lag, except the caller who just wrote: after each successful write the
 * primary's `pg_current_wal_lsn()` is remembered for that caller in Redis (a short-lived key per
 * principal, so every instance behind the load balancer sees it, and the client has nothing to
 * echo). That position is at or after the write's commit record, since it is read after the
 * commit returned. A later read by the same caller waits until the replica's
 * `pg_last_wal_replay_lsn()` has reached it, at most `maxWaitMs`, and otherwise reads the primary.
 *
 * What this guarantees is "no staler than the primary was when the write returned": a read model
 * that a projection updates after the write (asynchronously, on the primary as well) is as fresh
 * on the replica as it would have been on the primary at that moment, never less.
 *
 * The choice is made once per request (ReadRoutingInterceptor in src/api/common/) and carried in
 * an AsyncLocalStorage, so query code asks `reads()` for its database without knowing about
 * replicas; everything else (commands, the event store, projections, the auditors' logged reads)
 * keeps using the primary.
 */

/** A PostgreSQL LSN as 16 hex digits (high word, low word), so equal-length strings compare like the positions. */
export type PaddedLsn = string;

const LSN_PATTERN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** '16/B374D848' → '00000016B374D848'. */
export function padLsn(lsn: string): PaddedLsn {
  const match = LSN_PATTERN.exec(lsn);
  if (!match) throw new Error(`invariant violated: '${lsn}' is not a PostgreSQL LSN`);
  return (match[1]!.padStart(8, '0') + match[2]!.padStart(8, '0')).toUpperCase();
}

/** '00000016B374D848' → '16/B374D848' (the pg_lsn input form). */
export function unpadLsn(padded: PaddedLsn): string {
  if (!/^[0-9A-F]{16}$/.test(padded)) throw new Error(`invariant violated: '${padded}' is not a padded LSN`);
  return `${padded.slice(0, 8).replace(/^0+(?=.)/, '')}/${padded.slice(8).replace(/^0+(?=.)/, '')}`;
}

/**
 * Where each caller's last write position is kept. The Redis implementation is the one a
 * deployment uses; the interface lets a single-process setup (tests of the routing rule) keep
 * them in memory.
 */
export interface WriteMarks {
  /** Raises the caller's mark to `lsn` (never lowers it: two writes may return out of order). */
  raise(principal: string, lsn: PaddedLsn): Promise<void>;
  get(principal: string): Promise<PaddedLsn | null>;
}

/**
 * GET, compare, SET with PX in one step: the mark only moves forward, and each write renews its
 * lifetime. Equal-length hex strings compare in Lua as the positions do.
 */
const RAISE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if (not current) or current < ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1`;

/**
 * One key per principal (`<prefix>ryw:<sub>`). A single key per call, so it works unchanged on a
 * Redis Cluster. The lifetime bounds what a caller's marks cost; it must be longer than any
 * replication lag the deployment tolerates, since after it the caller is treated like anybody.
 */
export class RedisWriteMarks implements WriteMarks {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new Error(`invariant violated: write mark lifetime ${ttlMs} ms`);
  }

  private key(principal: string): string {
    return `${this.prefix}ryw:${principal}`;
  }

  async raise(principal: string, lsn: PaddedLsn): Promise<void> {
    await this.redis.eval(RAISE_SCRIPT, 1, this.key(principal), lsn, String(this.ttlMs));
  }

  async get(principal: string): Promise<PaddedLsn | null> {
    return this.redis.get(this.key(principal));
  }
}

export type ReadRoute = 'replica' | 'replica-after-wait' | 'primary-lagging' | 'primary-replica-failed';

export interface ReadRoutingOptions {
  primary: Database;
  replica: Database;
  marks: WriteMarks;
  /** How long a writer's read waits for the replica to replay its write before it reads the primary. */
  maxWaitMs: number;
  /** A route was chosen (metrics). */
  onRoute?(route: ReadRoute): void;
}

/** Polls of the replica's replay position while a writer's read waits: first soon, then less often. */
const FIRST_POLL_MS = 2;
const MAX_POLL_MS = 20;

const storage = new AsyncLocalStorage<Database>();

/** The database this request's queries read (the replica or the primary), or undefined outside a routed request. */
export function currentReadDatabase(): Database | undefined {
  return storage.getStore();
}

export class ReadRouting {
  /** Routes taken since start, by kind (for the tests, the log and the metrics). */
  readonly counts: Record<ReadRoute, number> = { replica: 0, 'replica-after-wait': 0, 'primary-lagging': 0, 'primary-replica-failed': 0 };

  constructor(private readonly options: ReadRoutingOptions) {
    if (!Number.isSafeInteger(options.maxWaitMs) || options.maxWaitMs < 0) throw new Error(`invariant violated: maxWaitMs ${options.maxWaitMs}`);
  }

  get replica(): Database {
    return this.options.replica;
  }

  /**
   * Remembers the primary's current WAL position for the caller who has just written. One
   * round trip to the primary and one to Redis, on writes only, and only when a replica is configured.
   */
  async markWrite(principal: string): Promise<PaddedLsn> {
    const { lsn } = await this.options.primary.one<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const padded = padLsn(lsn);
    await this.options.marks.raise(principal, padded);
    return padded;
  }

  /** The database for this caller's reads now: the replica when it has replayed their last write (waiting up to maxWaitMs), else the primary. */
  async choose(principal: string | undefined): Promise<{ db: Database; route: ReadRoute }> {
    const route = await this.route(principal);
    this.counts[route] += 1;
    this.options.onRoute?.(route);
    return { db: route === 'replica' || route === 'replica-after-wait' ? this.options.replica : this.options.primary, route };
  }

  /** Runs `work` with `db` as the request's read database (see currentReadDatabase). */
  run<T>(db: Database, work: () => T): T {
    return storage.run(db, work);
  }

  private async route(principal: string | undefined): Promise<ReadRoute> {
    let mark: PaddedLsn | null = null;
    try {
      // A Redis outage must not fail reads: without the mark, the primary is always fresh enough.
      mark = principal === undefined ? null : await this.options.marks.get(principal);
    } catch {
      return 'primary-lagging';
    }
    if (mark === null) return 'replica';
    const target = unpadLsn(mark);
    const deadline = Date.now() + this.options.maxWaitMs;
    let pollMs = FIRST_POLL_MS;
    // Bounded: at most maxWaitMs / FIRST_POLL_MS polls, fewer as the interval doubles.
    for (let attempt = 0; ; attempt += 1) {
      let replayed: boolean | null;
      try {
        // NULL when the server is not in recovery (a promoted replica): it is then nobody's replica, so do not trust it.
        const row = await this.options.replica.one<{ replayed: boolean | null }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS replayed', [target]);
        replayed = row.replayed;
      } catch {
        return 'primary-replica-failed';
      }
      if (replayed === null) return 'primary-replica-failed';
      if (replayed) return attempt === 0 ? 'replica' : 'replica-after-wait';
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) return 'primary-lagging';
      await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, remainingMs)));
      pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
    }
  }
}
