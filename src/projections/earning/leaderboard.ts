import type Redis from 'ioredis';
import { START, type EventStore, type RecordedEvent, type SubscriptionHandle } from '../../eventstore/event-store';
import type { PointsGrantedData } from '../../domain/members';
import type { Database } from '../../infra/database';
import { redisOutage } from '../../infra/outage';
import { CATCH_UP_BATCH, MAX_BATCHES, waitForVisibleFeed } from '../catch-up';
import { inPartition, partitionName, partitions, SINGLE, type Partition } from '../partition';

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
 *
 * Partitions (PROJECTION_PARTITIONS): a member's grants all land in one partition (a hash of the
 * member's stream id), and each partition keeps its own sorted sets, org paths and checkpoint
 * under one Redis hash tag, `{lb:p<index>/<count>}`, so its MULTI/EXEC touches one slot and holds
 * on Redis Cluster too. Every partition applies every OrganisationRegistered (each needs the whole
 * tree's paths). A member is on exactly one partition's boards, so top N merges the partitions'
 * top N and a rank is one more than the sum of their counts of strictly higher scores. One
 * partition uses the tag `{lb:p0/1}`: keys of the layout before partitions (`lb:*`) are not read,
 * and the projection rebuilds into the new keys by itself (`clear` removes both).
 */

export const LEADERBOARD_PERIODS = ['week', 'month', 'year', 'all'] as const;
export type LeaderboardPeriod = (typeof LEADERBOARD_PERIODS)[number];
export const LEADERBOARD_TOP_MAX = 100;
export const LEADERBOARD_PROJECTION = 'leaderboard';
export const LEADERBOARD_STREAM_PREFIXES = ['member-', 'org-'];
export const LEADERBOARD_EVENT_TYPES = ['PointsGranted', 'OrganisationRegistered'];

export class Leaderboards {
  private readonly orgPaths = new Map<string, string[]>();
  /** WATCH state belongs to a connection; the writer gets its own so queries' EXECs cannot clear it. */
  private writer: Redis | undefined;
  /** One writer per partition (WATCH state is a connection's); partition 0's is `writer`. */
  private readonly writers = new Map<number, Redis>();
  private readonly orgPathsLoaded = new Set<number>();
  private readonly layout: Partition[];

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
    /** PROJECTION_PARTITIONS: every process that reads or writes the boards must use the same. */
    partitionCount = 1,
  ) {
    this.layout = partitions(partitionCount);
  }

  get partitions(): readonly Partition[] {
    return this.layout;
  }

  /** The partition's key prefix; the braces make Redis Cluster hash only `lb:p<i>/<n>`, so one partition is one slot. */
  private tag(partition: Partition): string {
    return `${this.prefix}{lb:p${partition.index}/${partition.count}}:`;
  }

  /** The partition whose boards hold a member. */
  partitionOfMember(memberId: string): Partition {
    return this.layout.find((partition) => inPartition(`member-${memberId}`, partition))!;
  }

  /** Runs a read on the query connection; an unreachable or silent Redis becomes DependencyUnavailableError (503). */
  private async query<T>(read: (redis: Redis) => Promise<T>): Promise<T> {
    try {
      return await read(this.queries);
    } catch (error) {
      throw redisOutage(error) ?? error;
    }
  }

  checkpointKey(partition: Partition = SINGLE): string {
    return `${this.tag(partition)}checkpoint`;
  }

  key(orgId: string, period: LeaderboardPeriod, periodKey: string, partition: Partition = SINGLE): string {
    return period === 'all' ? `${this.tag(partition)}${orgId}:all` : `${this.tag(partition)}${orgId}:${period}:${periodKey}`;
  }

  orgPathKey(partition: Partition = SINGLE): string {
    return `${this.tag(partition)}org-paths`;
  }

  /**
   * The org and its ancestors. The projection keeps them itself (from OrganisationRegistered,
   * which precedes any grant in the feed), so it never depends on another projection's progress.
   */
  private async pathOf(orgId: string, partition: Partition): Promise<string[]> {
    // Shared by the partitions: a path is a fact of an immutable event, the same in all of them.
    const cached = this.orgPaths.get(orgId);
    if (cached) return cached;
    if (!this.orgPathsLoaded.has(partition.index)) {
      // The first miss after a start loads every known path in one round trip (a province has
      // thousands of unions), instead of one HGET per union inside the first batches.
      this.orgPathsLoaded.add(partition.index);
      const all = await this.redis.hgetall(this.orgPathKey(partition));
      for (const [id, raw] of Object.entries(all)) this.orgPaths.set(id, JSON.parse(raw) as string[]);
      const loaded = this.orgPaths.get(orgId);
      if (loaded) return loaded;
    }
    const raw = await this.redis.hget(this.orgPathKey(partition), orgId);
    const path = raw ? (JSON.parse(raw) as string[]) : [orgId];
    if (raw) this.orgPaths.set(orgId, path);
    return path;
  }

  /** A partition's checkpoint; without one, the lowest of the layout's (every partition has applied the log up to there). */
  async loadCheckpoint(partition?: Partition): Promise<bigint> {
    if (!partition) {
      const all = await Promise.all(this.layout.map((each) => this.loadCheckpoint(each)));
      return all.reduce((lowest, checkpoint) => (checkpoint < lowest ? checkpoint : lowest));
    }
    const raw = await this.redis.get(this.checkpointKey(partition));
    return raw === null ? START : BigInt(raw);
  }

  /**
   * Applies a batch of the feed to one partition: its members' grants and every org registration,
   * with its checkpoint, in one MULTI on the partition's slot. Partitions run in parallel, each
   * with its own writer connection (WATCH belongs to a connection).
   */
  async apply(events: RecordedEvent[], from: bigint, to: bigint, partition: Partition = SINGLE): Promise<void> {
    let writer = this.writers.get(partition.index);
    if (!writer) {
      writer = partition.index === 0 ? (this.writer ??= this.redis.duplicate()) : this.redis.duplicate();
      this.writers.set(partition.index, writer);
    }
    const checkpointKey = this.checkpointKey(partition);
    await writer.watch(checkpointKey);
    try {
      const raw = await writer.get(checkpointKey);
      const stored = raw === null ? START : BigInt(raw);
      if (stored !== from) throw new Error(`leaderboard checkpoint moved from ${from} to ${stored}`);
      const multi = writer.multi();
      for (const event of events) {
        if (event.type === 'OrganisationRegistered') {
          const { orgId, parentId } = event.data as { orgId: string; parentId: string | null };
          const path = [...(parentId ? await this.pathOf(parentId, partition) : []), orgId];
          // Cached before EXEC: a path is a fact of an immutable event, right whether or not this batch commits.
          this.orgPaths.set(orgId, path);
          multi.hset(this.orgPathKey(partition), orgId, JSON.stringify(path));
          continue;
        }
        if (event.type !== 'PointsGranted') continue;
        // Another partition's member: passed over, and the checkpoint moves past it all the same.
        if (partition.count > 1 && !inPartition(event.streamId, partition)) continue;
        const grant = event.data as unknown as PointsGrantedData;
        for (const orgId of await this.pathOf(grant.orgId, partition)) {
          for (const period of LEADERBOARD_PERIODS) {
            const periodKey = period === 'all' ? '' : grant.periods[period];
            multi.zincrby(this.key(orgId, period, periodKey, partition), grant.points, grant.memberId);
          }
        }
      }
      multi.set(checkpointKey, to.toString());
      const result = await multi.exec();
      if (result === null) throw new Error('leaderboard checkpoint changed during the batch');
    } finally {
      await writer.unwatch();
    }
  }

  async close(): Promise<void> {
    for (const writer of this.writers.values()) await writer.quit().catch(() => writer.disconnect());
    this.writers.clear();
    this.writer = undefined;
  }

  async top(orgId: string, period: LeaderboardPeriod, periodKey: string, limit: number): Promise<Array<{ memberId: string; points: number; rank: number }>> {
    const count = Math.min(limit, LEADERBOARD_TOP_MAX);
    // Each partition's top N (one slot each, so one command per partition), merged: the overall
    // top N is among them because a member is on one partition's board only.
    const pages = await Promise.all(this.layout.map((partition) => this.query((redis) => redis.zrevrange(this.key(orgId, period, periodKey, partition), 0, count - 1, 'WITHSCORES'))));
    const merged: Array<{ memberId: string; points: number }> = [];
    for (const flat of pages) for (let index = 0; index < flat.length; index += 2) merged.push({ memberId: flat[index]!, points: Number(flat[index + 1]) });
    // Redis orders equal scores by member descending in ZREVRANGE; the merge keeps that order.
    merged.sort((a, b) => b.points - a.points || (a.memberId < b.memberId ? 1 : a.memberId > b.memberId ? -1 : 0));
    const entries: Array<{ memberId: string; points: number; rank: number }> = [];
    for (const { memberId, points } of merged.slice(0, count)) {
      const previous = entries[entries.length - 1];
      // Competition ranking: equal points share the better rank.
      const rank = previous && previous.points === points ? previous.rank : entries.length + 1;
      entries.push({ memberId, points, rank });
    }
    return entries;
  }

  async rankOf(orgId: string, period: LeaderboardPeriod, periodKey: string, memberId: string): Promise<{ points: number; rank: number | null; size: number }> {
    const home = this.partitionOfMember(memberId);
    const key = this.key(orgId, period, periodKey, home);
    const [scoreResult, sizeResult] = (await this.query((redis) => redis.multi().zscore(key, memberId).zcard(key).exec())) ?? [];
    const score = scoreResult?.[1] as string | null;
    let size = Number(sizeResult?.[1] ?? 0);
    const others = this.layout.filter((partition) => partition.index !== home.index);
    if (others.length > 0) {
      const sizes = await Promise.all(others.map((partition) => this.query((redis) => redis.zcard(this.key(orgId, period, periodKey, partition)))));
      size += sizes.reduce((sum, n) => sum + n, 0);
    }
    if (score === null || score === undefined) return { points: 0, rank: null, size };
    const higher = await Promise.all(this.layout.map((partition) => this.query((redis) => redis.zcount(this.key(orgId, period, periodKey, partition), `(${score}`, '+inf'))));
    return { points: Number(score), rank: higher.reduce((sum, n) => sum + n, 0) + 1, size };
  }

  /** Deletes every key of this ledger's leaderboards (for a rebuild), in bounded SCAN pages. */
  async clear(): Promise<void> {
    this.orgPaths.clear();
    this.orgPathsLoaded.clear();
    // Every layout's keys, and those of the layout before partitions; one DEL per key, so no
    // command spans two Redis Cluster slots.
    for (const pattern of [`${this.prefix}lb:*`, `${this.prefix}{lb:p*`]) {
      let cursor = '0';
      for (let page = 0; page < 10_000_000; page += 1) {
        const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        if (keys.length > 0) await Promise.all(keys.map((key) => this.redis.del(key)));
        cursor = next;
        if (cursor === '0') break;
      }
    }
  }

  /** Every sorted set as sorted text, to compare a rebuild with the live projection. */
  async dump(): Promise<string> {
    // Lines name the board without its partition (`lb:<org>:<period>...`), so dumps of one layout
    // and of another compare equal when they hold the same scores.
    const lines: string[] = [];
    for (const partition of this.layout) {
      const tag = this.tag(partition);
      const keys: string[] = [];
      let cursor = '0';
      for (let page = 0; page < 10_000_000; page += 1) {
        const [next, found] = await this.redis.scan(cursor, 'MATCH', `${tag}*`, 'COUNT', 1000);
        keys.push(...found.filter((key) => key !== this.checkpointKey(partition) && key !== this.orgPathKey(partition)));
        cursor = next;
        if (cursor === '0') break;
      }
      for (const key of keys.sort()) {
        const flat = await this.redis.zrange(key, 0, -1, 'WITHSCORES');
        for (let index = 0; index < flat.length; index += 2) lines.push(`lb:${key.slice(tag.length)} ${flat[index]} ${flat[index + 1]}`);
      }
    }
    return lines.sort().join('\n');
  }
}

export function startLeaderboardProjection(
  store: EventStore,
  leaderboards: Leaderboards,
  options: {
    batchSize?: number;
    pollIntervalMs?: number;
    onError?(error: unknown): void;
    onApplied?(events: RecordedEvent[]): void;
    /** Default: the one partition of all members. */
    partition?: Partition;
    /** Run before each batch: throws when this process is no longer the partition's leader (Lease.fence); the WATCHed checkpoint guards the rest. */
    fence?(): Promise<void>;
  } = {},
): SubscriptionHandle {
  let checkpoint = START;
  const partition = options.partition ?? SINGLE;
  return store.subscribe({
    name: partitionName(LEADERBOARD_PROJECTION, partition),
    streamPrefixes: LEADERBOARD_STREAM_PREFIXES,
    eventTypes: LEADERBOARD_EVENT_TYPES,
    batchSize: options.batchSize ?? 500,
    ...(options.pollIntervalMs ? { pollIntervalMs: options.pollIntervalMs } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
    loadCheckpoint: async () => {
      checkpoint = await leaderboards.loadCheckpoint(partition);
      return checkpoint;
    },
    handle: async (events, nextAfter) => {
      await options.fence?.();
      await leaderboards.apply(events, checkpoint, nextAfter, partition);
      checkpoint = nextAfter;
      options.onApplied?.(events);
    },
  });
}

/** Brings the Redis leaderboards up to the end of the log now (tests, the rebuild command). */
export async function catchUpLeaderboards(store: EventStore, db: Database, leaderboards: Leaderboards): Promise<number> {
  await waitForVisibleFeed(db);
  // The partitions in parallel, each with its own checkpoint.
  const applied = await Promise.all(leaderboards.partitions.map((partition) => catchUpPartition(store, leaderboards, partition)));
  return applied.reduce((sum, count) => sum + count, 0);
}

async function catchUpPartition(store: EventStore, leaderboards: Leaderboards, partition: Partition): Promise<number> {
  let applied = 0;
  for (let batch = 0; batch < MAX_BATCHES; batch += 1) {
    const from = await leaderboards.loadCheckpoint(partition);
    const page = await store.readAll({
      after: from,
      limit: CATCH_UP_BATCH,
      streamPrefixes: LEADERBOARD_STREAM_PREFIXES,
      eventTypes: LEADERBOARD_EVENT_TYPES,
    });
    if (page.nextAfter === from) return applied;
    await leaderboards.apply(page.events, from, page.nextAfter, partition);
    applied += partition.count === 1 ? page.events.length : page.events.filter((event) => event.type !== 'PointsGranted' || inPartition(event.streamId, partition)).length;
    if (page.isEnd) return applied;
  }
  return applied;
}

export async function rebuildLeaderboards(store: EventStore, db: Database, leaderboards: Leaderboards): Promise<number> {
  await leaderboards.clear();
  return catchUpLeaderboards(store, db, leaderboards);
}
