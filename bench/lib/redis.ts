import type Redis from 'ioredis';
import type { RedisClient } from '../../src/infra/runtime';

/** Deletes every key under the run's prefix (leaderboards, checkpoints, queues, rate-limit buckets); on a cluster, on every master. */
export async function clearRedis(client: RedisClient, prefix: string): Promise<number> {
  if (client.isCluster) {
    const cluster = client as import('ioredis').Cluster;
    let deleted = 0;
    // Keys of different slots cannot go in one UNLINK on a cluster: one each, through the cluster
    // client. The hash-tagged BullMQ keys start with '{' + the prefix.
    for (const node of cluster.nodes('master')) {
      for (const pattern of [`${prefix}*`, `{${prefix}*`]) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          for (const key of keys) deleted += await cluster.unlink(key);
          cursor = next;
        } while (cursor !== '0');
      }
    }
    return deleted;
  }
  const redis = client as Redis;
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) deleted += await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}
