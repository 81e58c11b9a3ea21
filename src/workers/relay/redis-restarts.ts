import type { RedisClient as Redis } from '../../infra/runtime';
import type { ReplayReport } from './replay';

/**
 * Replays the outstanding requests when the Redis a running worker process uses comes back as
 * another server: restarted (empty, or from a snapshot older than its last writes) or failed over.
 *
 * Found by the fault suite (test/fault/worker-faults.ts): the replay ran only at a worker's start,
 * so a Redis restarted empty under running workers lost every job it held (waiting, delayed for a
 * retry) until some worker process happened to start again; with nothing restarting them, those
 * requests stayed without an outcome for good. The relay does not add them again: its checkpoint
 * is past them.
 *
 * A new server is recognised by `run_id` (INFO server), which redis-server draws at random at each
 * start: a reconnect to the same server (a network blip, which loses nothing) replays nothing.
 * A replay that fails (PostgreSQL away too) is tried again with back-off until it succeeds; two
 * never run at once, and a restart seen during a replay runs one more after it.
 */

export interface RedisRestartWatch {
  /** The run_id seen at start (null when the server would not say). */
  readonly initialRunId: string | null;
  close(): void;
}

export interface RedisRestartWatchOptions {
  redis: Redis;
  replay(): Promise<ReplayReport>;
  log: { log(text: string): void; error(text: string): void };
  /** First retry delay of a failed replay (default 1000 ms), doubled up to retryMaxMs (default 30000 ms). */
  retryMinMs?: number;
  retryMaxMs?: number;
}

/**
 * `run_id` from INFO server, or null when it cannot be read (the caller tries again at the next
 * reconnect). On a Redis Cluster, the masters' run_ids, sorted and joined: a failover promotes a
 * replica (another run_id), and a master restarted empty comes back with a new one, so either
 * changes the value, as a restart does on one server.
 */
export async function redisRunId(redis: Redis): Promise<string | null> {
  try {
    if (redis.isCluster) {
      const masters = (redis as import('ioredis').Cluster).nodes('master');
      if (masters.length === 0) return null;
      const ids = await Promise.all(masters.map(async (node) => /^run_id:(\w+)/m.exec(await node.info('server'))?.[1] ?? null));
      return ids.includes(null) ? null : ids.sort().join(',');
    }
    return /^run_id:(\w+)/m.exec(await redis.info('server'))?.[1] ?? null;
  } catch {
    return null;
  }
}

export async function watchRedisRestarts(options: RedisRestartWatchOptions): Promise<RedisRestartWatch> {
  const retryMinMs = options.retryMinMs ?? 1_000;
  const retryMaxMs = options.retryMaxMs ?? 30_000;
  let known = await redisRunId(options.redis);
  let closed = false;
  let running = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  const replay = async (failures: number): Promise<void> => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      const report = await options.replay();
      options.log.log(`relay: Redis came back as another server; ${report.outstanding} request(s) without a recorded outcome, ${report.readded} of them re-added`);
    } catch (error) {
      const delayMs = Math.min(retryMaxMs, retryMinMs * 2 ** Math.min(failures, 10));
      options.log.error(`relay: the replay after a Redis restart failed and will be retried in ${delayMs} ms: ${(error as Error).message}`);
      timer = setTimeout(() => void replay(failures + 1), delayMs);
      timer.unref();
    } finally {
      running = false;
    }
    if (again) {
      again = false;
      void replay(0);
    }
  };

  const onReady = (): void => {
    void (async () => {
      const runId = await redisRunId(options.redis);
      if (closed || runId === null || runId === known) return;
      known = runId;
      await replay(0);
    })();
  };
  options.redis.on('ready', onReady);
  // A cluster client stays 'ready' through a failover: it learns the new topology by refreshing
  // its slot map ('refresh', also every slotsRefreshInterval); the masters are asked again then.
  if (options.redis.isCluster) options.redis.on('refresh', onReady);
  return {
    initialRunId: known,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      options.redis.off('ready', onReady);
      options.redis.off('refresh', onReady);
    },
  };
}
