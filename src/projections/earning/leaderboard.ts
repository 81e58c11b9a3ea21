import { createHash } from 'node:crypto';
import type { RedisClient as Redis } from '../../infra/runtime';
import { START, type EventStore, type ReadAllResult, type RecordedEvent, type SubscriptionHandle } from '../../eventstore/event-store';
import type { PointsGrantedData } from '../../domain/members';
import type { Database } from '../../infra/database';
import { redisOutage } from '../../infra/outage';
import { MAX_BATCHES, waitForVisibleFeed } from '../catch-up';

/**
 * Leaderboards per organisation at every level of the tree, for the ISO week, the month, the
 * year and all time, as Redis sorted sets: a grant adds its points to the member in their
 * grassroots union and in every ancestor. Top N is ZREVRANGE and a member's rank is one more than
 * the count of strictly higher scores (ties share a rank), both O(log N) in a set of millions.
 *
 * The projection's checkpoint lives in Redis too and moves in the same MULTI/EXEC as the scores,
 * guarded by WATCH, so scores and checkpoint cannot drift apart. Redis may lose everything on a
 * restart (it keeps nothing on disk here); the checkpoint goes with the scores, and the
 * projection then rebuilds from event zero by itself.
 */

export const LEADERBOARD_PERIODS = ['week', 'month', 'year', 'all'] as const;
export type LeaderboardPeriod = (typeof LEADERBOARD_PERIODS)[number];
export const LEADERBOARD_TOP_MAX = 100;
export const LEADERBOARD_PROJECTION = 'leaderboard';
export const LEADERBOARD_STREAM_PREFIXES = ['member-', 'org-'];
export const LEADERBOARD_EVENT_TYPES = ['PointsGranted', 'OrganisationRegistered'];

/**
 * One batch of the leaderboard projection, atomically (a script runs alone and is replicated
 * whole). KEYS: the checkpoint, the org-path hash, then every sorted set the batch touches.
 * ARGV: expected checkpoint, new checkpoint, START, the number of org paths and their (org,
 * path) pairs, then per sorted set its member count and (member, increment) pairs.
 *
 * Everything is checked before the first write (the checkpoint, every count and increment), so
 * a refused batch writes nothing: Redis does not roll a script back. The `#!lua` line makes Redis
 * refuse the whole script up front when it is out of memory, instead of failing at a write.
 *
 * Increments to a set with many members in the batch go in as variadic ZADDs of absolute scores,
 * ZMSCORE first: two commands per key and chunk instead of one ZINCRBY per member, with the same
 * double arithmetic as ZINCRBY (score + increment); sets with fewer than 4 get plain ZINCRBYs.
 * Each command a script calls costs several times a sorted-set update (bench:rebuild), so the
 * number of calls is what counts. Chunks of 1,000 members keep unpack() far below Lua's stack limit.
 */
const APPLY_SCRIPT = `#!lua
local stored = redis.call('GET', KEYS[1]) or ARGV[3]
if stored ~= ARGV[1] then return redis.error_reply('CHECKPOINT_MOVED ' .. stored) end
local paths = tonumber(ARGV[4])
local at = 5 + 2 * paths
for k = 3, #KEYS do
  local count = tonumber(ARGV[at])
  if count == nil or count < 1 then return redis.error_reply('BAD_BATCH count of ' .. KEYS[k]) end
  for j = 1, count do
    if tonumber(ARGV[at + 2 * j]) == nil then return redis.error_reply('BAD_BATCH increment in ' .. KEYS[k]) end
  end
  at = at + 1 + 2 * count
end
if at ~= #ARGV + 1 then return redis.error_reply('BAD_BATCH length') end
for p = 0, paths - 1 do redis.call('HSET', KEYS[2], ARGV[5 + 2 * p], ARGV[6 + 2 * p]) end
at = 5 + 2 * paths
for k = 3, #KEYS do
  local count = tonumber(ARGV[at])
  at = at + 1
  local done = 0
  if count < SMALL then
    -- A few members (a grassroots union's sets get one or two a page): ZINCRBY is one call each,
    -- fewer than ZMSCORE + ZADD.
    for j = 0, count - 1 do redis.call('ZINCRBY', KEYS[k], ARGV[at + 2 * j + 1], ARGV[at + 2 * j]) end
    at = at + 2 * count
    done = count
  end
  while done < count do
    local n = math.min(1000, count - done)
    local members = {}
    for j = 1, n do members[j] = ARGV[at + 2 * (j - 1)] end
    local scores = redis.call('ZMSCORE', KEYS[k], unpack(members))
    local pairs = {}
    for j = 1, n do
      local score = tonumber(ARGV[at + 2 * (j - 1) + 1])
      if scores[j] then score = tonumber(scores[j]) + score end
      pairs[2 * j - 1] = score
      pairs[2 * j] = members[j]
    end
    redis.call('ZADD', KEYS[k], unpack(pairs))
    at = at + 2 * n
    done = done + n
  end
end
redis.call('SET', KEYS[1], ARGV[2])
return 'OK'
`.replace('SMALL', '4');
const APPLY_SCRIPT_SHA = createHash('sha1').update(APPLY_SCRIPT).digest('hex');

/**
 * EVALSHA, loading the script on the first NOSCRIPT (a new or restarted Redis). The arguments go
 * as one array (call's array form): a rebuild page has ~100,000 of them, too many to spread into
 * a JavaScript call.
 */
async function runScript(redis: Redis, script: string, keys: string[], args: Array<string | number>): Promise<unknown> {
  const rest = [keys.length, ...keys, ...args];
  try {
    return await redis.call('evalsha', [APPLY_SCRIPT_SHA, ...rest]);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return redis.call('eval', [script, ...rest]);
  }
}

export class Leaderboards {
  private readonly orgPaths = new Map<string, string[]>();
  /** WATCH state belongs to a connection; the writer gets its own so queries' EXECs cannot clear it. */
  private writer: Redis | undefined;
  private orgPathsLoaded = false;

  constructor(
    /** Writes, checkpoints, rebuilds: a connection that waits and retries through an outage. */
    private readonly redis: Redis,
    /** Every key starts with this, so several ledgers (and test runs) can share one Redis. */
    private readonly prefix: string,
    /**
     * Reads on a request's path (top, rankOf): a connection that fails at once while Redis is down
     * (Runtime.redisQueries), so a request is answered 503 instead of waiting out the outage.
     */
    private readonly queries: Redis = redis,
  ) {}

  /** Runs a read on the query connection; an unreachable or silent Redis becomes DependencyUnavailableError (503). */
  private async query<T>(read: (redis: Redis) => Promise<T>): Promise<T> {
    try {
      return await read(this.queries);
    } catch (error) {
      throw redisOutage(error) ?? error;
    }
  }

  get checkpointKey(): string {
    return `${this.prefix}lb:checkpoint`;
  }

  key(orgId: string, period: LeaderboardPeriod, periodKey: string): string {
    return period === 'all' ? `${this.prefix}lb:${orgId}:all` : `${this.prefix}lb:${orgId}:${period}:${periodKey}`;
  }

  get orgPathKey(): string {
    return `${this.prefix}lb:org-paths`;
  }

  /**
   * The org and its ancestors. The projection keeps them itself (from OrganisationRegistered,
   * which precedes any grant in the feed), so it never depends on another projection's progress.
   */
  private async pathOf(orgId: string): Promise<string[]> {
    const cached = this.orgPaths.get(orgId);
    if (cached) return cached;
    if (!this.orgPathsLoaded) {
      // The first miss after a start loads every known path in one round trip (a province has
      // thousands of unions), instead of one HGET per union inside the first batches.
      this.orgPathsLoaded = true;
      const all = await this.redis.hgetall(this.orgPathKey);
      for (const [id, raw] of Object.entries(all)) this.orgPaths.set(id, JSON.parse(raw) as string[]);
      const loaded = this.orgPaths.get(orgId);
      if (loaded) return loaded;
    }
    const raw = await this.redis.hget(this.orgPathKey, orgId);
    const path = raw ? (JSON.parse(raw) as string[]) : [orgId];
    if (raw) this.orgPaths.set(orgId, path);
    return path;
  }

  async loadCheckpoint(): Promise<bigint> {
    const raw = await this.redis.get(this.checkpointKey);
    return raw === null ? START : BigInt(raw);
  }

  /**
   * Applies a batch and moves the checkpoint from `from` to `to` in one Lua script (APPLY_SCRIPT):
   * Redis runs a script alone and whole, so scores, org paths and checkpoint move together as
   * they did under WATCH/MULTI/EXEC, in one round trip instead of five. The batch is folded
   * first: one increment per (sorted set, member), however many grants a member has in it.
   */
  async apply(events: RecordedEvent[], from: bigint, to: bigint): Promise<void> {
    this.writer ??= this.redis.duplicate();
    const paths: string[] = [];
    const increments = new Map<string, Map<string, number>>();
    for (const event of events) {
      if (event.type === 'OrganisationRegistered') {
        const { orgId, parentId } = event.data as { orgId: string; parentId: string | null };
        const path = [...(parentId ? await this.pathOf(parentId) : []), orgId];
        // Cached before the script runs: a path is a fact of an immutable event, right whether or not this batch commits.
        this.orgPaths.set(orgId, path);
        paths.push(orgId, JSON.stringify(path));
        continue;
      }
      if (event.type !== 'PointsGranted') continue;
      const grant = event.data as unknown as PointsGrantedData;
      if (!Number.isSafeInteger(grant.points)) throw new Error(`invariant violated: a grant of ${String(grant.points)} points in event ${event.eventId}`);
      for (const orgId of await this.pathOf(grant.orgId)) {
        for (const period of LEADERBOARD_PERIODS) {
          const key = this.key(orgId, period, period === 'all' ? '' : grant.periods[period]);
          let members = increments.get(key);
          if (!members) increments.set(key, (members = new Map()));
          members.set(grant.memberId, (members.get(grant.memberId) ?? 0) + grant.points);
        }
      }
    }
    const keys = [this.checkpointKey, this.orgPathKey];
    const args: Array<string | number> = [from.toString(), to.toString(), START.toString(), paths.length / 2, ...paths];
    for (const [key, members] of increments) {
      keys.push(key);
      args.push(members.size);
      for (const [memberId, points] of members) args.push(memberId, points);
    }
    try {
      await runScript(this.writer, APPLY_SCRIPT, keys, args);
    } catch (error) {
      const moved = /CHECKPOINT_MOVED (\S+)/.exec(error instanceof Error ? error.message : '');
      if (moved) throw new Error(`leaderboard checkpoint moved from ${from} to ${moved[1]}`);
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.writer?.quit().catch(() => this.writer?.disconnect());
    this.writer = undefined;
  }

  async top(orgId: string, period: LeaderboardPeriod, periodKey: string, limit: number): Promise<Array<{ memberId: string; points: number; rank: number }>> {
    const flat = await this.query((redis) => redis.zrevrange(this.key(orgId, period, periodKey), 0, Math.min(limit, LEADERBOARD_TOP_MAX) - 1, 'WITHSCORES'));
    const entries: Array<{ memberId: string; points: number; rank: number }> = [];
    for (let index = 0; index < flat.length; index += 2) {
      const points = Number(flat[index + 1]);
      const previous = entries[entries.length - 1];
      // Competition ranking: equal points share the better rank.
      const rank = previous && previous.points === points ? previous.rank : entries.length + 1;
      entries.push({ memberId: flat[index]!, points, rank });
    }
    return entries;
  }

  async rankOf(orgId: string, period: LeaderboardPeriod, periodKey: string, memberId: string): Promise<{ points: number; rank: number | null; size: number }> {
    const key = this.key(orgId, period, periodKey);
    const [scoreResult, sizeResult] = (await this.query((redis) => redis.multi().zscore(key, memberId).zcard(key).exec())) ?? [];
    const score = scoreResult?.[1] as string | null;
    const size = Number(sizeResult?.[1] ?? 0);
    if (score === null || score === undefined) return { points: 0, rank: null, size };
    const higher = await this.query((redis) => redis.zcount(key, `(${score}`, '+inf'));
    return { points: Number(score), rank: higher + 1, size };
  }

  /** Deletes every key of this ledger's leaderboards (for a rebuild), in bounded SCAN pages. */
  async clear(): Promise<void> {
    this.orgPaths.clear();
    this.orgPathsLoaded = false;
    let cursor = '0';
    for (let page = 0; page < 10_000_000; page += 1) {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}lb:*`, 'COUNT', 1000);
      if (keys.length > 0) await this.redis.del(...keys);
      cursor = next;
      if (cursor === '0') return;
    }
  }

  /** Every sorted set as sorted text, to compare a rebuild with the live projection. */
  async dump(): Promise<string> {
    const keys: string[] = [];
    let cursor = '0';
    for (let page = 0; page < 10_000_000; page += 1) {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}lb:*`, 'COUNT', 1000);
      keys.push(...found.filter((key) => key !== this.checkpointKey && key !== this.orgPathKey));
      cursor = next;
      if (cursor === '0') break;
    }
    const lines: string[] = [];
    for (const key of keys.sort()) {
      const flat = await this.redis.zrange(key, 0, -1, 'WITHSCORES');
      for (let index = 0; index < flat.length; index += 2) lines.push(`${key.slice(this.prefix.length)} ${flat[index]} ${flat[index + 1]}`);
    }
    return lines.sort().join('\n');
  }
}

export function startLeaderboardProjection(
  store: EventStore,
  leaderboards: Leaderboards,
  options: { batchSize?: number; pollIntervalMs?: number; onError?(error: unknown): void; onApplied?(events: RecordedEvent[]): void } = {},
): SubscriptionHandle {
  let checkpoint = START;
  return store.subscribe({
    name: LEADERBOARD_PROJECTION,
    streamPrefixes: LEADERBOARD_STREAM_PREFIXES,
    eventTypes: LEADERBOARD_EVENT_TYPES,
    batchSize: options.batchSize ?? 500,
    ...(options.pollIntervalMs ? { pollIntervalMs: options.pollIntervalMs } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
    loadCheckpoint: async () => {
      checkpoint = await leaderboards.loadCheckpoint();
      return checkpoint;
    },
    handle: async (events, nextAfter) => {
      await leaderboards.apply(events, checkpoint, nextAfter);
      checkpoint = nextAfter;
      options.onApplied?.(events);
    },
  });
}

/**
 * Grants per catch-up and rebuild page. One page is one script, during which Redis serves nobody
 * else (rate limits, queues): 5,000 grants are ~80,000 sorted-set updates, tens of milliseconds.
 */
export const LEADERBOARD_CATCH_UP_BATCH = 5_000;

/**
 * Brings the Redis leaderboards up to the end of the log now (tests, the rebuild command), reading
 * the next page while the current one is applied, as catchUpProjection does.
 */
export async function catchUpLeaderboards(store: EventStore, db: Database, leaderboards: Leaderboards, onProgress?: (applied: number) => void): Promise<number> {
  await waitForVisibleFeed(db);
  const read = (after: bigint): Promise<ReadAllResult> =>
    store.readAll({ after, limit: LEADERBOARD_CATCH_UP_BATCH, streamPrefixes: LEADERBOARD_STREAM_PREFIXES, eventTypes: LEADERBOARD_EVENT_TYPES });
  let next: { after: bigint; page: Promise<ReadAllResult> } | undefined;
  let applied = 0;
  try {
    for (let batch = 0; batch < MAX_BATCHES; batch += 1) {
      // Read back every turn: the live projection may have moved it, making the prefetch stale.
      const from = await leaderboards.loadCheckpoint();
      const page = await (next?.after === from ? next.page : read(from));
      await next?.page.catch(() => undefined);
      next = undefined;
      if (page.nextAfter === from) return applied;
      if (!page.isEnd) {
        next = { after: page.nextAfter, page: read(page.nextAfter) };
        next.page.catch(() => undefined); // Observed by the next turn, or dropped with a failed batch.
      }
      await leaderboards.apply(page.events, from, page.nextAfter);
      applied += page.events.length;
      onProgress?.(applied);
      if (page.isEnd) return applied;
    }
    return applied;
  } finally {
    await next?.page.catch(() => undefined);
  }
}

export async function rebuildLeaderboards(store: EventStore, db: Database, leaderboards: Leaderboards, onProgress?: (applied: number) => void): Promise<number> {
  await leaderboards.clear();
  return catchUpLeaderboards(store, db, leaderboards, onProgress);
}
