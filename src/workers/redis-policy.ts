import type { RedisClient as Redis } from '../infra/runtime';

/**
 * BullMQ keeps jobs in Redis keys. Under any maxmemory-policy but noeviction, a Redis that fills
 * up deletes keys to make room: jobs, locks and the queues' bookkeeping vanish without a trace.
 * The relay's replay (src/workers/relay) recovers requests without an outcome, but nothing should
 * rely on that as a matter of course. Checked at start; a wrong policy is reported loudly, not
 * refused, because some managed services fix it outside the operator's reach.
 */

export interface EvictionPolicyCheck {
  /** The policy, or null when the server would not say. */
  policy: string | null;
  ok: boolean;
  /** What to log: one line when ok, a loud warning otherwise. */
  message: string;
}

/** Reads the policy with CONFIG GET, or from INFO memory when CONFIG is refused (managed Redis often renames or forbids it). */
export async function checkEvictionPolicy(redis: Redis): Promise<EvictionPolicyCheck> {
  let policy: string | null = null;
  try {
    const answer = (await redis.call('CONFIG', 'GET', 'maxmemory-policy')) as unknown;
    if (Array.isArray(answer) && typeof answer[1] === 'string') policy = answer[1];
  } catch {
    // Refused (unknown command, NOPERM): fall back to INFO below.
  }
  if (policy === null) {
    try {
      const info = await redis.info('memory');
      policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? null;
    } catch {
      policy = null;
    }
  }
  if (policy === 'noeviction') return { policy, ok: true, message: 'Redis maxmemory-policy is noeviction' };
  const banner = '!'.repeat(96);
  const why =
    policy === null
      ? 'could not read Redis maxmemory-policy (CONFIG GET and INFO were refused)'
      : `Redis maxmemory-policy is '${policy}', not 'noeviction'`;
  return {
    policy,
    ok: false,
    message:
      `\n${banner}\n  WARNING: ${why}.\n` +
      '  When Redis runs out of memory it may evict queued jobs, their locks and the queues\' bookkeeping.\n' +
      '  Set `maxmemory-policy noeviction` on this Redis; until then `union-ledger relay replay` re-adds\n' +
      `  requests that have no recorded outcome.\n${banner}`,
  };
}
