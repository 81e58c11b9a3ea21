import type { RedisClient as Redis } from '../../infra/runtime';

/**
 * The claim gate: the burst's one point of serialisation, in Redis, one atomic Lua script per
 * claim (Redis runs a script alone, so two claims never both see the last unit). Per campaign:
 *
 * - `<prefix>claims:<id>:units`   the campaign's N, written when the campaign is created; its
 *                                 absence means the gate was never set up or Redis lost it;
 * - `<prefix>claims:<id>:taken`   the counter: slots handed out, 1..N, in arrival order;
 * - `<prefix>claims:<id>:holders` hash member → "<slot>:<admission ms>": one slot per member;
 * - `<prefix>claims:<id>:pending` sorted set member → admission time (ms): admitted, not yet
 *                                 known to be recorded in the log. The service removes a member
 *                                 once its claim is in the log; reconciliation (Claims.reconcile)
 *                                 records whatever stays longer than a timeout.
 *
 * The log is the truth: a slot is only a claim once `ClaimGranted` is stored, and the log alone
 * refuses a second claim of a member or of a slot (claim and slot streams at `no_stream`).
 * Written by hand rather than taken from a library: no installed library offers a bounded,
 * once-per-member counter, and the script is a dozen lines.
 */

const ADMIT_LUA = `
local units = redis.call('GET', KEYS[1])
if not units then return {-2, '0'} end
local held = redis.call('HGET', KEYS[3], ARGV[1])
if held then return {0, held} end
local taken = tonumber(redis.call('GET', KEYS[2]) or '0')
if taken >= tonumber(units) then return {-1, tostring(taken)} end
taken = redis.call('INCR', KEYS[2])
local slot = taken .. ':' .. ARGV[2]
redis.call('HSET', KEYS[3], ARGV[1], slot)
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
return {1, slot}
`;

/** Sold out without a trip through eligibility: answers from the counter alone (a member who holds a slot is not sold out). */
const PEEK_LUA = `
local units = redis.call('GET', KEYS[1])
if not units then return {-2, '0'} end
local held = redis.call('HGET', KEYS[3], ARGV[1])
if held then return {0, held} end
local taken = tonumber(redis.call('GET', KEYS[2]) or '0')
if taken >= tonumber(units) then return {-1, tostring(taken)} end
return {1, tostring(taken)}
`;

export type Admission =
  /** A new slot for this member (only `admit` hands one out; `peek` answers `admitted` with seq 0 for "a slot is left"). */
  | { kind: 'admitted'; seq: number; admittedAtMs: number }
  /** The member already holds this slot (recorded, or still pending). */
  | { kind: 'holder'; seq: number; admittedAtMs: number }
  | { kind: 'sold_out'; taken: number }
  /** No gate for this campaign in Redis (never opened, or Redis lost it). */
  | { kind: 'no_gate' };

/**
 * Redis did not answer the gate in time (the request path's connection fails fast: a hung or
 * overloaded Redis must not queue a burst). The claim may or may not have been admitted; a retry
 * finds out (a holder is recorded then), so the API answers 503 and the client retries.
 */
export class GateUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`the claim gate did not answer: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'GateUnavailableError';
  }
}

async function gated<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw new GateUnavailableError(error);
  }
}

type WithGate = Redis & {
  ulClaimAdmit(units: string, taken: string, holders: string, pending: string, memberId: string, nowMs: number): Promise<[number, string]>;
  ulClaimPeek(units: string, taken: string, holders: string, pending: string, memberId: string): Promise<[number, string]>;
};

/** Keys of one campaign; a hash tag keeps them in one slot of a Redis cluster. */
function keysOf(prefix: string, campaignId: string) {
  const base = `${prefix}claims:{${campaignId}}`;
  return { units: `${base}:units`, taken: `${base}:taken`, holders: `${base}:holders`, pending: `${base}:pending` };
}

/** "<slot>:<admission ms>" as the holders hash keeps it. */
function slotOf(value: string): { seq: number; admittedAtMs: number } {
  const [seq, atMs] = value.split(':');
  return { seq: Number(seq), admittedAtMs: Number(atMs ?? 0) };
}

function answer([code, value]: [number, string]): Admission {
  if (code === 1) return value.includes(':') ? { kind: 'admitted', ...slotOf(value) } : { kind: 'admitted', seq: 0, admittedAtMs: 0 };
  if (code === 0) return { kind: 'holder', ...slotOf(value) };
  if (code === -1) return { kind: 'sold_out', taken: Number(value) };
  return { kind: 'no_gate' };
}

export class ClaimGate {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    // defineCommand sends EVALSHA and falls back to EVAL once after a Redis restart (NOSCRIPT).
    if (!('ulClaimAdmit' in redis)) redis.defineCommand('ulClaimAdmit', { numberOfKeys: 4, lua: ADMIT_LUA });
    if (!('ulClaimPeek' in redis)) redis.defineCommand('ulClaimPeek', { numberOfKeys: 4, lua: PEEK_LUA });
  }

  /**
   * Sets up the gate for N units (idempotent: an existing gate is left as it is). `taken` and
   * `holders` restore a gate from the log after Redis lost it: the slots already recorded.
   */
  async open(campaignId: string, units: number, restore: ReadonlyArray<{ memberId: string; seq: number; admittedAtMs: number }> = []): Promise<boolean> {
    const keys = keysOf(this.prefix, campaignId);
    const taken = restore.reduce((max, claim) => Math.max(max, claim.seq), 0);
    const multi = this.redis.multi().set(keys.units, String(units), 'NX');
    if (restore.length > 0) {
      multi.set(keys.taken, String(taken), 'NX');
      for (const claim of restore) multi.hsetnx(keys.holders, claim.memberId, `${claim.seq}:${claim.admittedAtMs}`);
    }
    const results = await multi.exec();
    return results?.[0]?.[1] === 'OK';
  }

  async admit(campaignId: string, memberId: string, nowMs: number): Promise<Admission> {
    const keys = keysOf(this.prefix, campaignId);
    return answer(await gated((this.redis as WithGate).ulClaimAdmit(keys.units, keys.taken, keys.holders, keys.pending, memberId, nowMs)));
  }

  async peek(campaignId: string, memberId: string): Promise<Admission> {
    const keys = keysOf(this.prefix, campaignId);
    return answer(await gated((this.redis as WithGate).ulClaimPeek(keys.units, keys.taken, keys.holders, keys.pending, memberId)));
  }

  /** The member's claim is in the log: no longer pending. */
  async recorded(campaignId: string, memberId: string): Promise<void> {
    await gated(this.redis.zrem(keysOf(this.prefix, campaignId).pending, memberId));
  }

  /** Admissions older than `beforeMs` not yet known to be recorded, oldest first, at most `limit`. */
  async pendingBefore(campaignId: string, beforeMs: number, limit: number): Promise<Array<{ memberId: string; seq: number; admittedAtMs: number }>> {
    const keys = keysOf(this.prefix, campaignId);
    const members = await this.redis.zrangebyscore(keys.pending, '-inf', beforeMs, 'LIMIT', 0, limit);
    if (members.length === 0) return [];
    const slots = await this.redis.hmget(keys.holders, ...members);
    return members.flatMap((memberId, index) => (slots[index] ? [{ memberId, ...slotOf(slots[index]) }] : []));
  }

  async counts(campaignId: string): Promise<{ units: number | null; taken: number; pending: number }> {
    const keys = keysOf(this.prefix, campaignId);
    const [units, taken, pending] = await Promise.all([this.redis.get(keys.units), this.redis.get(keys.taken), this.redis.zcard(keys.pending)]);
    return { units: units === null ? null : Number(units), taken: Number(taken ?? 0), pending };
  }

  /** Drops the gate (tests simulating a Redis that lost its data; never used by the service). */
  async forget(campaignId: string): Promise<void> {
    const keys = keysOf(this.prefix, campaignId);
    await this.redis.del(keys.units, keys.taken, keys.holders, keys.pending);
  }
}
