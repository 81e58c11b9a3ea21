import { Inject, Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RedisClient as Redis } from '../../infra/runtime';
import type { Runtime } from '../../infra/runtime';
import { RUNTIME } from '../tokens';
import { principalOf } from './auth';
import { AppError } from './errors';

/**
 * Per-subject rate limit: a token bucket in Redis, so every instance of the service shares one
 * budget per member. The bucket refills at `perSecond` tokens a second up to `burst`; a request
 * takes one token or gets 429 RATE_LIMITED with Retry-After.
 *
 * The whole read-refill-take step is one Lua script, so two instances cannot both take the last
 * token. Time comes from the Redis server (TIME), not from each instance's clock, so instances
 * whose clocks differ do not refill a bucket twice.
 *
 * KEYS[1] bucket; ARGV[1] tokens per second; ARGV[2] burst.
 * Returns { allowed (0|1), retryAfterMs, tokensLeft }.
 */
export const TOKEN_BUCKET_LUA = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at_ms')
local tokens = tonumber(state[1])
local at_ms = tonumber(state[2])
if tokens == nil or at_ms == nil then
  tokens = burst
  at_ms = now_ms
end
tokens = math.min(burst, tokens + math.max(0, now_ms - at_ms) * rate / 1000)
local allowed = 0
local retry_after_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry_after_ms = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at_ms', tostring(now_ms))
-- A bucket that has refilled completely is the same as no bucket: let Redis drop it.
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return { allowed, retry_after_ms, math.floor(tokens) }
`;

export const RATE_LIMIT_SETTINGS = Symbol('RATE_LIMIT_SETTINGS');
export interface RateLimitSettings {
  perSecond: number;
  burst: number;
  /** Prefix of the bucket keys, so tests (and several deployments on one Redis) stay apart. */
  keyPrefix: string;
  /** How long a request waits for Redis before it is let through without a check. */
  redisTimeoutMs?: number;
}

export interface BucketResult {
  allowed: boolean;
  retryAfterMs: number;
  tokensLeft: number;
}

type WithTokenBucket = Redis & {
  ulTokenBucket(key: string, perSecond: number, burst: number): Promise<[number, number, number]>;
};

/** Takes one token from the subject's bucket. Exported for tests and for non-HTTP callers. */
export async function takeToken(redis: Redis, key: string, perSecond: number, burst: number): Promise<BucketResult> {
  // defineCommand sends EVALSHA and falls back to EVAL once after a Redis restart (NOSCRIPT).
  if (!('ulTokenBucket' in redis)) redis.defineCommand('ulTokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
  const [allowed, retryAfterMs, tokensLeft] = await (redis as WithTokenBucket).ulTokenBucket(key, perSecond, burst);
  return { allowed: allowed === 1, retryAfterMs, tokensLeft };
}

const WARN_INTERVAL_MS = 60_000;

/**
 * Global guard, registered after AuthGuard so that the subject is known. Public routes (health)
 * have no subject and are not limited here. When Redis is down or slow the request goes through:
 * a rate limit protects the service, and refusing every request would be the bigger outage.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly logger = new Logger('rate-limit');
  private lastWarningAtMs = Number.NEGATIVE_INFINITY;

  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    @Inject(RATE_LIMIT_SETTINGS) private readonly settings: RateLimitSettings,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const subject = principalOf(request)?.sub;
    if (subject === undefined) return true;
    const result = await this.check(subject);
    if (!result || result.allowed) return true;
    const retryAfterSeconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
    void context.switchToHttp().getResponse<FastifyReply>().header('retry-after', String(retryAfterSeconds));
    throw new AppError('RATE_LIMITED', `too many requests: retry after ${retryAfterSeconds} s`, 429, {
      retryAfterSeconds,
      limitPerSecond: this.settings.perSecond,
      burst: this.settings.burst,
    });
  }

  /** The bucket's answer, or undefined when Redis could not give one in time (fail open). */
  private async check(subject: string): Promise<BucketResult | undefined> {
    // The fail-fast, auto-pipelined connection (Runtime.redisQueries) when there is one. Whichever
    // it is, a request must not wait for a reconnect, so an unready client is skipped at once.
    const redis = this.runtime.redisQueries ?? this.runtime.redis;
    if (!redis || redis.status !== 'ready') {
      this.warn(redis ? `Redis is ${redis.status}` : 'no Redis configured');
      return undefined;
    }
    const timeoutMs = this.settings.redisTimeoutMs ?? 250;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        takeToken(redis, `${this.settings.keyPrefix}ratelimit:${subject}`, this.settings.perSecond, this.settings.burst),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (error) {
      this.warn((error as Error).message);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** At most one warning a minute: an outage must not turn into a flood of identical log lines. */
  private warn(reason: string): void {
    const nowMs = Date.now();
    if (nowMs - this.lastWarningAtMs < WARN_INTERVAL_MS) return;
    this.lastWarningAtMs = nowMs;
    this.logger.warn(`rate limit not enforced (failing open): ${reason}`);
  }
}
