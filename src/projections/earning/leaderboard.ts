import { createHash } from 'node:crypto';
import type { RedisClient as Redis } from '../../infra/runtime';
import { START, type EventStore, type ReadAllResult, type RecordedEvent, type SubscriptionHandle } from '../../eventstore/event-store';
import type { MemberEvent, PointsGrantedData } from '../../domain/members';
import type { OrganisationMoved } from '../../domain/orgs';
import { periodsOf } from '../../domain/shared';
import type { Database } from '../../infra/database';
import { redisOutage } from '../../infra/outage';
import { MAX_BATCHES, waitForVisibleFeed } from '../catch-up';
import { CheckpointMovedError } from '../runner';
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
 * Partitions (PROJECTION_PARTITIONS): a member's grants and moves all land in one partition (a
 * hash of the member's stream id), and each partition keeps its own sorted sets, org paths, tree
 * version and checkpoint under one Redis hash tag, `{lb:p<index>/<count>}`, so each of its batches
 * (one script, or one MULTI/EXEC) touches one slot and holds on Redis Cluster too. Every partition
 * applies every OrganisationRegistered and OrganisationMoved (each needs the whole tree's paths, as
 * they were at its own position in the feed: the path cache is per partition). A member is on
 * exactly one partition's boards, so top N merges the partitions' top N and a rank is one more
 * than the sum of their counts of strictly higher scores. One partition uses the tag `{lb:p0/1}`:
 * keys of the layout before partitions (`lb:*`) are not read, and the projection rebuilds into the
 * new keys by itself (`clear` removes both).
 *
 * Period boards are kept for their period and the one after it (the API reads the current
 * period's; the one before is there for a "last week" board): a grant is not written to the
 * boards of a period older than the previous one when it is applied (the all-time boards always
 * get it), and every period board expires, each write that may have created one setting its time
 * to live to twice the period's longest length plus two days (BOARD_TTL_MS). Before this, every
 * past week's and month's boards stayed in Redis for good (138 bytes per member per board, so
 * about 550 bytes a week per active member at the 4 levels), and a rebuild of a year of history
 * wrote all of them.
 */

export const LEADERBOARD_PERIODS = ['week', 'month', 'year', 'all'] as const;
export type LeaderboardPeriod = (typeof LEADERBOARD_PERIODS)[number];
export const LEADERBOARD_TOP_MAX = 100;
export const LEADERBOARD_PROJECTION = 'leaderboard';
export const LEADERBOARD_STREAM_PREFIXES = ['member-', 'org-'];
export const LEADERBOARD_EVENT_TYPES = ['PointsGranted', 'OrganisationRegistered', 'OrganisationMoved', 'MemberTransferred', 'MemberParked'];
const DAY_MS = 86_400_000;
/**
 * Time to live of a period's board from a write that may have created it: twice the period's
 * longest length and 2 days. Writes happen during the period and the next one only, so a board
 * lasts at least to the end of the period after its own and is gone two periods after that.
 */
export const BOARD_TTL_MS = { week: 16 * DAY_MS, month: 64 * DAY_MS, year: 734 * DAY_MS } as const;

/** The oldest week, month and year whose boards are still written at `now`: the previous ones. Period keys sort in time order. */
export function oldestKeptPeriods(now: Date): { week: string; month: string; year: string } {
  const current = periodsOf(now);
  const [year, month] = current.month.split('-').map(Number) as [number, number];
  return {
    week: periodsOf(new Date(now.getTime() - 7 * DAY_MS)).week,
    month: month === 1 ? `${year - 1}-12` : `${year}-${String(month - 1).padStart(2, '0')}`,
    year: String(year - 1),
  };
}
/** Period boards this process remembers having given a time to live (bounded: forgotten all at once past this). */
const EXPIRING_KEYS_MAX = 100_000;
/** Events that move scores between boards: a batch holding one is applied by applyWithMoves. */
const MOVE_EVENT_TYPES = new Set(['OrganisationMoved', 'MemberTransferred', 'MemberParked']);

/**
 * Moves one member's score from the boards of the unit they leave to those of the unit they join:
 * KEYS[1] is their old unit's board (its score is the member's whole score of the period, since every
 * earlier move carried it along), KEYS[2..n+1] the boards they leave, the rest the boards they join.
 * A script, queued in the batch's MULTI, so it sees the increments queued before it.
 */
const MOVE_MEMBER_SCRIPT = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
score = tonumber(score)
local leaving = tonumber(ARGV[2])
for i = 2, leaving + 1 do
  local left = tonumber(redis.call('ZINCRBY', KEYS[i], -score, ARGV[1]))
  if left <= 0 then redis.call('ZREM', KEYS[i], ARGV[1]) end
end
for i = leaving + 2, #KEYS do redis.call('ZINCRBY', KEYS[i], score, ARGV[1]) end
return 1`;

/**
 * One batch of the leaderboard projection, atomically (a script runs alone and is replicated
 * whole). KEYS: the checkpoint, the org-path hash, the org-tree version, then every sorted set the
 * batch touches, in groups. ARGV: expected checkpoint, new checkpoint, START, expected tree version
 * ('' for none), the number of org paths and their (org, path) pairs, then per group its key
 * count, its member count and (member, increment) pairs: every set of a group gets the same
 * increments (the 4 period boards of an org, when the batch's grants share their periods, and
 * an ancestor's boards hold the same members as its one busy child's), so a grant costs ~2
 * arguments a level instead of ~2 a set.
 *
 * Everything is checked before the first write (the checkpoint, the tree version, every count and
 * increment), so a refused batch writes nothing: Redis does not roll a script back. The tree
 * version check lets a writer skip its GET of the version before each batch: the paths it folded
 * the batch with are refused here when another process moved an organisation since. The `#!lua`
 * line makes Redis refuse the whole script up front when it is out of memory, instead of failing
 * at a write.
 *
 * Increments to a set with many members in the batch go in as variadic ZADDs of absolute scores,
 * ZMSCORE first: two commands per key and chunk instead of one ZINCRBY per member, with the same
 * double arithmetic as ZINCRBY (score + increment); groups with fewer than 3 get plain ZINCRBYs.
 * Each command a script calls costs several times a sorted-set update (bench:rebuild), so the
 * number of calls is what counts. A chunk's members and increments are read once for all the
 * group's sets. Chunks of 1,000 members keep unpack() far below Lua's stack limit.
 */
const APPLY_SCRIPT = `#!lua
local stored = redis.call('GET', KEYS[1]) or ARGV[3]
if stored ~= ARGV[1] then return redis.error_reply('CHECKPOINT_MOVED ' .. stored) end
local tree = redis.call('GET', KEYS[3]) or ''
if tree ~= ARGV[4] then return redis.error_reply('TREE_MOVED ' .. tree) end
local paths = tonumber(ARGV[5])
local at = 6 + 2 * paths
local k = 4
while at <= #ARGV do
  local sets = tonumber(ARGV[at])
  local count = tonumber(ARGV[at + 1])
  if sets == nil or sets < 1 or k + sets - 1 > #KEYS then return redis.error_reply('BAD_BATCH key count at ' .. at) end
  if count == nil or count < 1 then return redis.error_reply('BAD_BATCH count of ' .. KEYS[k]) end
  for j = 1, count do
    if tonumber(ARGV[at + 1 + 2 * j]) == nil then return redis.error_reply('BAD_BATCH increment in ' .. KEYS[k]) end
  end
  at = at + 2 + 2 * count
  k = k + sets
end
if at ~= #ARGV + 1 or k ~= #KEYS + 1 then return redis.error_reply('BAD_BATCH length') end
for p = 0, paths - 1 do redis.call('HSET', KEYS[2], ARGV[6 + 2 * p], ARGV[7 + 2 * p]) end
at = 6 + 2 * paths
k = 4
while at <= #ARGV do
  local sets = tonumber(ARGV[at])
  local count = tonumber(ARGV[at + 1])
  at = at + 2
  if count < SMALL then
    -- A few members (a grassroots union's sets get one or two a page): ZINCRBY is one call each,
    -- no more than ZMSCORE + ZADD (bench:rebuild: 2 and 4 here cost Redis the same CPU within 5 %).
    for s = k, k + sets - 1 do
      for j = 0, count - 1 do redis.call('ZINCRBY', KEYS[s], ARGV[at + 2 * j + 1], ARGV[at + 2 * j]) end
    end
  else
    local done = 0
    while done < count do
      local n = math.min(1000, count - done)
      local members = {}
      local increments = {}
      for j = 1, n do
        members[j] = ARGV[at + 2 * (done + j - 1)]
        increments[j] = ARGV[at + 2 * (done + j - 1) + 1]
      end
      for s = k, k + sets - 1 do
        local scores = redis.call('ZMSCORE', KEYS[s], unpack(members))
        local pairs = {}
        for j = 1, n do
          -- A new member's score is its increment as sent (a string: Lua formats a number with
          -- %.17g, which cost more than the insert itself); only members already there add up.
          local score = increments[j]
          if scores[j] then score = tonumber(scores[j]) + tonumber(score) end
          pairs[2 * j - 1] = score
          pairs[2 * j] = members[j]
        end
        redis.call('ZADD', KEYS[s], unpack(pairs))
      end
      done = done + n
    end
  end
  at = at + 2 * count
  k = k + sets
end
redis.call('SET', KEYS[1], ARGV[2])
return 'OK'
`.replace('SMALL', '3');
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

/** What one partition's writer has cached: org paths as of its own position in the feed, and the tree version they were read at. */
interface PartitionCache {
  readonly paths: Map<string, string[]>;
  loaded: boolean;
  /** The tree version the cached paths were read at (orgTreeKey): another process's move bumps it. */
  version: string | null;
  /** Whether `version` was read from Redis (or written by this writer) since the cache was made. */
  verified: boolean;
}

/** A batch folded into APPLY_SCRIPT's keys and arguments, to move the checkpoint from `from` to `to`. */
interface PreparedBatch {
  readonly keys: string[];
  readonly args: Array<string | number>;
  readonly from: bigint;
  readonly to: bigint;
  /** Period boards the batch writes that this process has not given a time to live yet, with theirs. */
  readonly expire: Array<[key: string, ttlMs: number]>;
}

/** The script refused a batch folded with paths of an older tree version: another process moved an organisation. */
class TreeMovedError extends Error {
  constructor(readonly version: string | null) {
    super(`leaderboard org tree is at version ${version ?? '(none)'}`);
  }
}

const PERIODS_WITH_KEYS = ['week', 'month', 'year'] as const;

/** The increments of several cells summed per member; one cell's map is returned as it is (the script's groups share it). */
function sumOf(cells: ReadonlyArray<{ members: Map<string, number> }>): Map<string, number> {
  if (cells.length === 1) return cells[0]!.members;
  const sum = new Map<string, number>();
  for (const cell of cells) for (const [memberId, points] of cell.members) sum.set(memberId, (sum.get(memberId) ?? 0) + points);
  return sum;
}

export class Leaderboards {
  /** One writer per partition: WATCH state belongs to a connection, and queries' EXECs must not clear it. */
  private readonly writers = new Map<number, Redis>();
  private readonly caches = new Map<number, PartitionCache>();
  private readonly layout: Partition[];
  /** Period boards given a time to live by this process (BOARD_TTL_MS): a write to one of them sends no PEXPIRE. */
  private readonly expiring = new Set<string>();
  private readonly clock: () => Date;

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
    /** What "now" is when deciding which periods are still kept (tests fold grants of past weeks). */
    options: { clock?: () => Date } = {},
  ) {
    this.layout = partitions(partitionCount);
    this.clock = options.clock ?? (() => new Date());
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

  /** Bumped with every batch of the partition that moves an organisation, so every process's cached paths can tell they are stale. */
  orgTreeKey(partition: Partition = SINGLE): string {
    return `${this.tag(partition)}org-tree`;
  }

  private cacheOf(partition: Partition): PartitionCache {
    let cache = this.caches.get(partition.index);
    if (!cache) this.caches.set(partition.index, (cache = { paths: new Map(), loaded: false, version: null, verified: false }));
    return cache;
  }

  private writerOf(partition: Partition): Redis {
    let writer = this.writers.get(partition.index);
    if (!writer) this.writers.set(partition.index, (writer = this.redis.duplicate()));
    return writer;
  }

  /**
   * The org and its ancestors. The projection keeps them itself (from OrganisationRegistered,
   * which precedes any grant in the feed), so it never depends on another projection's progress.
   */
  private async pathOf(orgId: string, partition: Partition): Promise<string[]> {
    const cache = this.cacheOf(partition);
    const cached = cache.paths.get(orgId);
    if (cached) return cached;
    if (!cache.loaded) {
      // The first miss after a start loads every known path in one round trip (a province has
      // thousands of unions), instead of one HGET per union inside the first batches.
      await this.loadAllPaths(partition);
      const loaded = cache.paths.get(orgId);
      if (loaded) return loaded;
    }
    const raw = await this.redis.hget(this.orgPathKey(partition), orgId);
    const path = raw ? (JSON.parse(raw) as string[]) : [orgId];
    if (raw) cache.paths.set(orgId, path);
    return path;
  }

  private async loadAllPaths(partition: Partition): Promise<void> {
    const cache = this.cacheOf(partition);
    if (cache.loaded) return;
    cache.loaded = true;
    const all = await this.redis.hgetall(this.orgPathKey(partition));
    // Paths set by this batch (cached before it commits) win over what Redis held before it.
    for (const [id, raw] of Object.entries(all)) if (!cache.paths.has(id)) cache.paths.set(id, JSON.parse(raw) as string[]);
  }

  /** Another process moved an organisation (or this is the first batch): the partition's cached paths are read again. */
  private checkTreeVersion(partition: Partition, treeVersion: string | null): void {
    const cache = this.cacheOf(partition);
    cache.verified = true;
    if (treeVersion === cache.version) return;
    cache.paths.clear();
    cache.loaded = false;
    cache.version = treeVersion;
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

  /** Whether an event concerns a partition: org events concern all, a member's events the member's partition only. */
  private concerns(event: RecordedEvent, partition: Partition): boolean {
    if (event.type === 'OrganisationRegistered' || event.type === 'OrganisationMoved') return true;
    return partition.count === 1 || inPartition(event.streamId, partition);
  }

  /**
   * Applies a batch of the feed to one partition and moves its checkpoint from `from` to `to` in
   * one Lua script (APPLY_SCRIPT): Redis runs a script alone and whole, so scores, org paths and
   * checkpoint move together as they did under WATCH/MULTI/EXEC, in one round trip instead of
   * five. The batch is folded first: one increment per (sorted set, member), however many grants a
   * member has in it. Another partition's members are passed over, and the checkpoint moves past
   * them all the same. Partitions run in parallel, each with its own writer connection.
   */
  async apply(events: RecordedEvent[], from: bigint, to: bigint, partition: Partition = SINGLE): Promise<void> {
    const own = events.filter((event) => this.concerns(event, partition));
    // Moves are rare and need the scores as they stand (ZSCORE, ZUNIONSTORE): such a batch takes
    // the WATCH/MULTI path; every other batch is one script.
    if (own.some((event) => MOVE_EVENT_TYPES.has(event.type))) return this.applyWithMoves(own, from, to, partition);
    const writer = this.writerOf(partition);
    const cache = this.cacheOf(partition);
    // The first batch since the cache was made reads the tree version; later ones let the script
    // check it (TREE_MOVED), which saves a round trip a batch.
    if (!cache.verified) this.checkTreeVersion(partition, await writer.get(this.orgTreeKey(partition)));
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.send(await this.prepare(own, from, to, partition), partition);
      } catch (error) {
        // Another process moved an organisation since this cache was read: read the paths again and
        // fold the batch anew. Its move also moved the checkpoint, so a second refusal is a bug.
        if (!(error instanceof TreeMovedError) || attempt >= 2) throw error;
        this.checkTreeVersion(partition, error.version);
      }
    }
  }

  /**
   * Folds a batch without moves (the partition's own events) into the script's keys and arguments.
   * Grants are folded per (grassroots union, periods) cell first, one map update a grant; each
   * ancestor's boards then sum the cells below it, and boards that end up with the same increments
   * share one group of the script. Needs no Redis round trip once the partition's paths are cached,
   * so it can run while the previous batch's script does (catchUpPartition).
   */
  private async prepare(own: RecordedEvent[], from: bigint, to: bigint, partition: Partition): Promise<PreparedBatch> {
    const cache = this.cacheOf(partition);
    const paths: string[] = [];
    const cells = new Map<string, { orgId: string; periods: PointsGrantedData['periods']; members: Map<string, number> }>();
    for (const event of own) {
      if (event.type === 'OrganisationRegistered') {
        const { orgId, parentId } = event.data as { orgId: string; parentId: string | null };
        const path = [...(parentId ? await this.pathOf(parentId, partition) : []), orgId];
        // Cached before the script runs: a path is a fact of an immutable event, right whether or not this batch commits.
        cache.paths.set(orgId, path);
        paths.push(orgId, JSON.stringify(path));
        continue;
      }
      if (event.type !== 'PointsGranted') continue;
      const grant = event.data as unknown as PointsGrantedData;
      if (!Number.isSafeInteger(grant.points)) throw new Error(`invariant violated: a grant of ${String(grant.points)} points in event ${event.eventId}`);
      const { week, month, year } = grant.periods;
      const cellKey = `${grant.orgId}\n${week}\n${month}\n${year}`;
      let cell = cells.get(cellKey);
      if (!cell) cells.set(cellKey, (cell = { orgId: grant.orgId, periods: grant.periods, members: new Map() }));
      cell.members.set(grant.memberId, (cell.members.get(grant.memberId) ?? 0) + grant.points);
    }
    // Paths are looked up after the fold: the batch's registrations come before its grants in the
    // feed, and nothing else in a batch without moves changes a path.
    const below = new Map<string, Array<typeof cells extends Map<string, infer C> ? C : never>>();
    for (const cell of cells.values()) {
      for (const orgId of await this.pathOf(cell.orgId, partition)) {
        const list = below.get(orgId);
        if (list) list.push(cell);
        else below.set(orgId, [cell]);
      }
    }
    const groups = new Map<Map<string, number>, string[]>();
    const expire: Array<[string, number]> = [];
    const toGroup = (members: Map<string, number>, key: string): void => {
      const keys = groups.get(members);
      if (keys) keys.push(key);
      else groups.set(members, [key]);
    };
    const oldest = oldestKeptPeriods(this.clock());
    const toPeriodGroup = (members: Map<string, number>, orgId: string, period: (typeof PERIODS_WITH_KEYS)[number], periodKey: string): void => {
      if (periodKey < oldest[period]) return; // Older than the previous period: no longer kept.
      const key = this.key(orgId, period, periodKey, partition);
      toGroup(members, key);
      if (!this.expiring.has(key)) expire.push([key, BOARD_TTL_MS[period]]);
    };
    for (const [orgId, list] of below) {
      const all = sumOf(list);
      toGroup(all, this.key(orgId, 'all', '', partition));
      for (const period of PERIODS_WITH_KEYS) {
        const first = list[0]!.periods[period];
        if (list.every((cell) => cell.periods[period] === first)) {
          toPeriodGroup(all, orgId, period, first);
          continue;
        }
        const byPeriod = new Map<string, typeof list>();
        for (const cell of list) {
          const same = byPeriod.get(cell.periods[period]);
          if (same) same.push(cell);
          else byPeriod.set(cell.periods[period], [cell]);
        }
        for (const [periodKey, cellsOfPeriod] of byPeriod) toPeriodGroup(sumOf(cellsOfPeriod), orgId, period, periodKey);
      }
    }
    const keys = [this.checkpointKey(partition), this.orgPathKey(partition), this.orgTreeKey(partition)];
    const args: Array<string | number> = [from.toString(), to.toString(), START.toString(), cache.version ?? '', paths.length / 2, ...paths];
    for (const [members, groupKeys] of groups) {
      keys.push(...groupKeys);
      args.push(groupKeys.length, members.size);
      for (const [memberId, points] of members) args.push(memberId, points);
    }
    return { keys, args, from, to, expire };
  }

  /**
   * Gives period boards their time to live once the batch that wrote them has committed (a
   * PEXPIRE is not part of the script: most batches create no board, and every write to a board
   * that has none yet sends one, so a PEXPIRE lost with a failed round trip is sent again with the
   * board's next write).
   */
  private async setExpiry(expire: ReadonlyArray<readonly [string, number]>, partition: Partition): Promise<void> {
    if (expire.length === 0) return;
    const pipeline = this.writerOf(partition).pipeline();
    for (const [key, ttlMs] of expire) pipeline.pexpire(key, ttlMs);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0];
    if (this.expiring.size + expire.length > EXPIRING_KEYS_MAX) this.expiring.clear();
    for (const [key] of expire) this.expiring.add(key);
  }

  /** Runs a prepared batch's script on the partition's writer; a refused checkpoint or tree version becomes its error. */
  private async send(batch: PreparedBatch, partition: Partition): Promise<void> {
    try {
      await runScript(this.writerOf(partition), APPLY_SCRIPT, batch.keys, batch.args);
    } catch (error) {
      const message = error instanceof Error ? error.message : '';
      const moved = /CHECKPOINT_MOVED (\S+)/.exec(message);
      if (moved) throw new CheckpointMovedError(`leaderboard checkpoint moved from ${batch.from} to ${moved[1]}`);
      const tree = /TREE_MOVED ?(\S*)/.exec(message);
      if (tree) throw new TreeMovedError(tree[1] === '' ? null : tree[1]!);
      throw error;
    }
    await this.setExpiry(batch.expire, partition);
  }

  /**
   * Applies pages of the feed from the partition's checkpoint to the end of the log (catch-up and
   * rebuild) two scripts deep: page N+1 is folded and its script sent while page N's runs, so Redis
   * goes from one script to the next without waiting for this process, and this process folds
   * while Redis writes. Each script still checks the checkpoint its page starts from, so when page
   * N is refused, page N+1 (which starts where N ends) is refused too. The next page is read while
   * the current one is folded, as catchUpPages does. A page with moves, or the first since the
   * paths were cached, waits for the script in flight and goes through apply. When another runner
   * moved the checkpoint (a live projection beside the rebuild), the loop carries on from where the
   * checkpoint is now, as catchUpPages does. Returns the events applied, as catchUpPartition counts them.
   */
  async catchUp(read: (after: bigint) => Promise<ReadAllResult>, partition: Partition, onProgress: (applied: number) => void): Promise<number> {
    const countOf = (page: ReadAllResult): number =>
      partition.count === 1 ? page.events.length : page.events.filter((event) => event.type !== 'PointsGranted' || inPartition(event.streamId, partition)).length;
    let applied = 0;
    /** The script sent last and not yet awaited: the finally and the catch below wait for it. */
    let inFlight: { done: Promise<void>; count: number } | undefined;
    let next: Promise<ReadAllResult> | undefined;
    const settle = async (batch: { done: Promise<void>; count: number } | undefined): Promise<void> => {
      if (!batch) return;
      await batch.done;
      applied += batch.count;
      onProgress(applied);
    };
    const settleInFlight = async (): Promise<void> => {
      const batch = inFlight;
      inFlight = undefined;
      await settle(batch);
    };
    try {
      let from = await this.loadCheckpoint(partition);
      let page = await read(from);
      for (let batch = 0; batch < MAX_BATCHES; batch += 1) {
        try {
          if (page.nextAfter === from) {
            await settleInFlight();
            break;
          }
          if (!page.isEnd) {
            next = read(page.nextAfter);
            next.catch(() => undefined); // Awaited below, or dropped with a failed batch.
          }
          const own = page.events.filter((event) => this.concerns(event, partition));
          if (!this.cacheOf(partition).verified || own.some((event) => MOVE_EVENT_TYPES.has(event.type))) {
            await settleInFlight();
            await this.apply(page.events, from, page.nextAfter, partition);
            applied += countOf(page);
            onProgress(applied);
          } else {
            const done = this.send(await this.prepare(own, from, page.nextAfter, partition), partition);
            done.catch(() => undefined); // Awaited as inFlight.
            const previous = inFlight;
            inFlight = { done, count: countOf(page) };
            await settle(previous);
          }
          if (page.isEnd) {
            await settleInFlight();
            break;
          }
        } catch (error) {
          if (!(error instanceof CheckpointMovedError) && !(error instanceof TreeMovedError)) throw error;
          // Another runner committed first (and may have moved organisations): what was sent after
          // the refused batch is refused too or harmless; go on from the checkpoint as it is now,
          // with the tree version read again.
          await inFlight?.done.catch(() => undefined);
          inFlight = undefined;
          await next?.catch(() => undefined);
          next = undefined;
          this.cacheOf(partition).verified = false;
          from = await this.loadCheckpoint(partition);
          page = await read(from);
          continue;
        }
        from = page.nextAfter;
        page = await next!;
        next = undefined;
      }
      return applied;
    } finally {
      // A script or read still running when the loop stops (a failed batch) must finish before the
      // caller may close the connections under it.
      await inFlight?.done.catch(() => undefined);
      await next?.catch(() => undefined);
    }
  }

  /** A batch with moves (only the partition's own events), under WATCH/MULTI/EXEC on its checkpoint, so scores and checkpoint still move together. */
  private async applyWithMoves(events: RecordedEvent[], from: bigint, to: bigint, partition: Partition): Promise<void> {
    const writer = this.writerOf(partition);
    const cache = this.cacheOf(partition);
    const checkpointKey = this.checkpointKey(partition);
    /** Every period board the batch may write, with its time to live: ZUNIONSTORE drops a board's, so all get theirs again. */
    const periodBoards = new Map<string, number>();
    await writer.watch(checkpointKey);
    try {
      const [raw, treeVersion] = await writer.mget(checkpointKey, this.orgTreeKey(partition));
      const stored = raw === null || raw === undefined ? START : BigInt(raw);
      if (stored !== from) throw new CheckpointMovedError(`leaderboard checkpoint moved from ${from} to ${stored}`);
      this.checkTreeVersion(partition, treeVersion ?? null);
      const multi = writer.multi();
      let moved = false;
      const oldest = oldestKeptPeriods(this.clock());
      for (const event of events) {
        if (event.type === 'OrganisationMoved') {
          await this.moveOrganisation(multi, event, partition, periodBoards);
          moved = true;
          continue;
        }
        if (event.type === 'MemberTransferred' || event.type === 'MemberParked') {
          await this.moveMember(multi, event, partition, periodBoards);
          continue;
        }
        if (event.type === 'OrganisationRegistered') {
          const { orgId, parentId } = event.data as { orgId: string; parentId: string | null };
          const path = [...(parentId ? await this.pathOf(parentId, partition) : []), orgId];
          // Cached before EXEC: a path is a fact of an immutable event, right whether or not this batch commits.
          cache.paths.set(orgId, path);
          multi.hset(this.orgPathKey(partition), orgId, JSON.stringify(path));
          continue;
        }
        if (event.type !== 'PointsGranted') continue;
        const grant = event.data as unknown as PointsGrantedData;
        for (const orgId of await this.pathOf(grant.orgId, partition)) {
          multi.zincrby(this.key(orgId, 'all', '', partition), grant.points, grant.memberId);
          for (const period of PERIODS_WITH_KEYS) {
            if (grant.periods[period] < oldest[period]) continue; // Older than the previous period: no longer kept.
            const key = this.key(orgId, period, grant.periods[period], partition);
            multi.zincrby(key, grant.points, grant.memberId);
            periodBoards.set(key, BOARD_TTL_MS[period]);
          }
        }
      }
      if (moved) multi.set(this.orgTreeKey(partition), to.toString());
      multi.set(checkpointKey, to.toString());
      const result = await multi.exec();
      if (result === null) {
        // The paths cached while queueing this batch may belong to a batch that did not commit: the
        // next batch reads them all again.
        cache.paths.clear();
        cache.loaded = false;
        cache.version = null;
        cache.verified = false;
        throw new CheckpointMovedError('leaderboard checkpoint changed during the batch');
      }
      if (moved) cache.version = to.toString();
    } finally {
      await writer.unwatch();
    }
    await this.setExpiry([...periodBoards], partition);
  }

  /**
   * The keys of the current periods at `occurredAt` (and all time): what a move carries; past
   * periods stay where they were earned. The period boards are recorded in `periodBoards` with
   * their time to live. (A move replayed once its period is no longer kept finds no board of that
   * period, none having been written, and writes none.)
   */
  private currentKeys(orgId: string, occurredAt: string, partition: Partition, periodBoards: Map<string, number>): string[] {
    const periods = periodsOf(new Date(occurredAt));
    return LEADERBOARD_PERIODS.map((period) => {
      if (period === 'all') return this.key(orgId, period, '', partition);
      const key = this.key(orgId, period, periods[period], partition);
      periodBoards.set(key, BOARD_TTL_MS[period]);
      return key;
    });
  }

  /** A member changed unit: their scores of the current periods leave the boards off their new path and join those on it. */
  private async moveMember(multi: ReturnType<Redis['multi']>, event: RecordedEvent, partition: Partition, periodBoards: Map<string, number>): Promise<void> {
    const { memberId, fromOrgId, toOrgId } = (event as unknown as { data: Extract<MemberEvent, { type: 'MemberTransferred' | 'MemberParked' }>['data'] }).data;
    const fromPath = await this.pathOf(fromOrgId, partition);
    const toPath = await this.pathOf(toOrgId, partition);
    const leaving = fromPath.filter((orgId) => !toPath.includes(orgId));
    const joining = toPath.filter((orgId) => !fromPath.includes(orgId));
    const at = event.metadata.occurredAt;
    const source = this.currentKeys(fromOrgId, at, partition, periodBoards);
    const leavingKeys = leaving.map((orgId) => this.currentKeys(orgId, at, partition, periodBoards));
    const joiningKeys = joining.map((orgId) => this.currentKeys(orgId, at, partition, periodBoards));
    source.forEach((sourceKey, index) => {
      const keys = [sourceKey, ...leavingKeys.map((keysOf) => keysOf[index]!), ...joiningKeys.map((keysOf) => keysOf[index]!)];
      multi.eval(MOVE_MEMBER_SCRIPT, keys.length, ...keys, memberId, String(leaving.length));
    });
  }

  /**
   * An organisation moved with its subtree: its boards of the current periods (the sum of its
   * subtree's members) are taken off the ancestors it leaves and added to those it joins, and the
   * paths of the whole subtree are rewritten.
   */
  private async moveOrganisation(multi: ReturnType<Redis['multi']>, event: RecordedEvent, partition: Partition, periodBoards: Map<string, number>): Promise<void> {
    const { orgId, toParentId } = (event as unknown as OrganisationMoved).data;
    await this.loadAllPaths(partition);
    const oldPath = await this.pathOf(orgId, partition);
    const newPath = [...(await this.pathOf(toParentId, partition)), orgId];
    const leaving = oldPath.filter((id) => !newPath.includes(id));
    const joining = newPath.filter((id) => !oldPath.includes(id));
    const at = event.metadata.occurredAt;
    const own = this.currentKeys(orgId, at, partition, periodBoards);
    own.forEach((orgKey, index) => {
      for (const ancestor of leaving) {
        const key = this.currentKeys(ancestor, at, partition, periodBoards)[index]!;
        multi.zunionstore(key, 2, key, orgKey, 'WEIGHTS', 1, -1);
        multi.zremrangebyscore(key, '-inf', 0);
      }
      for (const ancestor of joining) {
        const key = this.currentKeys(ancestor, at, partition, periodBoards)[index]!;
        multi.zunionstore(key, 2, key, orgKey);
      }
    });
    const cache = this.cacheOf(partition);
    for (const [id, path] of [...cache.paths]) {
      const index = path.indexOf(orgId);
      if (index < 0) continue;
      const moved = [...newPath, ...path.slice(index + 1)];
      cache.paths.set(id, moved);
      multi.hset(this.orgPathKey(partition), id, JSON.stringify(moved));
    }
  }

  async close(): Promise<void> {
    for (const writer of this.writers.values()) await writer.quit().catch(() => writer.disconnect());
    this.writers.clear();
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
    this.caches.clear();
    // Every layout's keys, and those of the layout before partitions; one UNLINK per key, so no
    // command spans two Redis Cluster slots. UNLINK frees a big set's members on Redis's background
    // thread: DEL of a province's all-time board (a million members) stalls every client.
    for (const pattern of [`${this.prefix}lb:*`, `${this.prefix}{lb:p*`]) {
      let cursor = '0';
      for (let page = 0; page < 10_000_000; page += 1) {
        const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        if (keys.length > 0) await Promise.all(keys.map((key) => this.redis.unlink(key)));
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
        keys.push(...found.filter((key) => key !== this.checkpointKey(partition) && key !== this.orgPathKey(partition) && key !== this.orgTreeKey(partition)));
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

/**
 * Grants per catch-up and rebuild page. One page is one script, during which Redis serves nobody
 * else (rate limits, queues): 5,000 grants are ~80,000 sorted-set updates, tens of milliseconds.
 */
export const LEADERBOARD_CATCH_UP_BATCH = 5_000;

/**
 * Brings the Redis leaderboards up to the end of the log now (tests, the rebuild command): the
 * partitions in parallel, each with its own checkpoint, each reading its next page while the
 * current one is folded and sending each page's script while the previous one runs
 * (Leaderboards.catchUp).
 */
export async function catchUpLeaderboards(store: EventStore, db: Database, leaderboards: Leaderboards, onProgress?: (applied: number) => void): Promise<number> {
  await waitForVisibleFeed(db);
  const counts = leaderboards.partitions.map(() => 0);
  const applied = await Promise.all(
    leaderboards.partitions.map((partition) =>
      catchUpPartition(store, leaderboards, partition, (count) => {
        counts[partition.index] = count;
        onProgress?.(counts.reduce((sum, each) => sum + each, 0));
      }),
    ),
  );
  return applied.reduce((sum, count) => sum + count, 0);
}

async function catchUpPartition(store: EventStore, leaderboards: Leaderboards, partition: Partition, onProgress: (applied: number) => void): Promise<number> {
  const read = (after: bigint): Promise<ReadAllResult> =>
    store.readAll({ after, limit: LEADERBOARD_CATCH_UP_BATCH, streamPrefixes: LEADERBOARD_STREAM_PREFIXES, eventTypes: LEADERBOARD_EVENT_TYPES });
  return leaderboards.catchUp(read, partition, onProgress);
}

export async function rebuildLeaderboards(store: EventStore, db: Database, leaderboards: Leaderboards, onProgress?: (applied: number) => void): Promise<number> {
  await leaderboards.clear();
  return catchUpLeaderboards(store, db, leaderboards, onProgress);
}
