import path from 'node:path';
import Redis, { Cluster } from 'ioredis';
import type { AppConfig } from '../config/config';
import { closeDatabase, connectDatabase, type Database } from './database';
import { probeTcp, startEmbeddedPostgres, startEmbeddedRedis, type EmbeddedServer } from './embedded';
import { checkMigrated, migrate, type Migration, type MigrationReport } from './migrations';

/**
 * The process's connections: PostgreSQL (named or embedded, migrated) and, for the service,
 * Redis (named or embedded). The service and every CLI command start from here, so they agree on
 * where the data lives.
 */
export interface Runtime {
  db: Database;
  /**
   * READ_DATABASE_URL's streaming replica (read-only connections, never migrated), for the
   * read-model queries that ReadRouting sends there; undefined when none is configured.
   */
  readDb?: Database | undefined;
  /** For projection writes, BullMQ, the rate limit and the health check: waits and retries through an outage. */
  redis: RedisClient | undefined;
  /** For reads that answer a request (leaderboards, ranks): fails at once while Redis is down. */
  redisQueries: RedisClient | undefined;
  postgresDescription: string;
  redisDescription: string | undefined;
  migrations: MigrationReport;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  withRedis: boolean;
  /** Every owner's migrations (the composition root collects them: MIGRATIONS). */
  migrations: readonly Migration[];
  log: (line: string) => void;
  /**
   * For auditors: connections are read-only and nothing is migrated (a role with SELECT only
   * could not); a schema behind the code's migrations is refused instead of upgraded.
   */
  readOnly?: boolean;
}

/** Redacts the password from a connection URL before it is logged. */
export function redactUrl(raw: string): string {
  try {
    const parsed = new URL(raw);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** How long a read that answers a request waits for Redis before the request is answered 503. */
export const REDIS_QUERY_TIMEOUT_MS = 500;

/**
 * A single Redis server or a Redis Cluster (REDIS_CLUSTER_NODES). Both are ioredis clients with
 * the same commands; on a cluster every multi-key command (MULTI/EXEC, a Lua script, BullMQ's
 * scripts) must keep its keys in one hash slot, which the key layouts do with `{...}` hash tags.
 */
export type RedisClient = Redis | Cluster;

export interface RedisClients {
  commands: RedisClient;
  queries: RedisClient;
}

/** Where Redis is: one server's URL, or some nodes of a cluster (the client discovers the others). */
export type RedisTarget = string | { clusterNodes: ReadonlyArray<{ host: string; port: number }> };

/**
 * The process's two Redis connections. `commands` keeps BullMQ's settings (maxRetriesPerRequest
 * null: a command waits in the offline queue and is retried until Redis is back), which is right
 * for projection writes, which must not be lost. `queries` is for reads on a request's path:
 * without an offline queue a command fails at once while the connection is down, and
 * commandTimeout bounds one that gets no answer (a hung server), so the request answers 503
 * instead of hanging for as long as the outage lasts. Both reconnect by themselves. `queries` also
 * carries the rate limit's token bucket, every request's one Redis call, and pipelines
 * automatically: the commands issued in one turn of the event loop go out in one write (the
 * service's socket writes are its largest CPU cost, bench:checkin). `commands` does not, as
 * BullMQ's connections are reported to lose jobs with it (taskforcesh/bullmq#457, OptimalBits/bull#2276).
 */
export function createRedisClients(target: RedisTarget): RedisClients {
  if (typeof target !== 'string') return createClusterClients(target.clusterNodes);
  const url = target;
  const commands = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
  const queries = new Redis(url, {
    lazyConnect: true,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    commandTimeout: REDIS_QUERY_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  });
  // Every failed reconnect is an 'error' event; the reads that fail meanwhile are answered 503 and
  // the health check reports the outage, so these need no log line of their own.
  queries.on('error', () => undefined);
  return { commands, queries };
}

/**
 * The same two clients over a Redis Cluster. `commands` keeps BullMQ's requirement
 * (maxRetriesPerRequest null on every node's connection) and waits through a failover: while a
 * master is down and its replica not yet promoted, commands on its slots wait in the offline queue
 * and are sent once the client has refreshed the slot map (MOVED / CLUSTERDOWN are retried).
 * `queries` fails fast, as on a single server.
 */
function createClusterClients(nodes: ReadonlyArray<{ host: string; port: number }>): RedisClients {
  if (nodes.length === 0) throw new Error('invariant violated: a Redis Cluster needs at least one node');
  const seeds = nodes.map((node) => ({ host: node.host, port: node.port }));
  const commands = new Cluster(seeds, {
    lazyConnect: true,
    redisOptions: { maxRetriesPerRequest: null },
    // A failover takes a few seconds (cluster-node-timeout plus the election): keep retrying
    // CLUSTERDOWN and refreshing the slots for longer than that, never giving up for good.
    retryDelayOnClusterDown: 200,
    retryDelayOnFailover: 200,
    retryDelayOnTryAgain: 200,
    maxRedirections: 64,
    clusterRetryStrategy: (attempt) => Math.min(100 + attempt * 100, 2_000),
  });
  const queries = new Cluster(seeds, {
    lazyConnect: true,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRedirections: 16,
    redisOptions: { commandTimeout: REDIS_QUERY_TIMEOUT_MS, maxRetriesPerRequest: 0, connectTimeout: 2_000 },
    clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  });
  queries.on('error', () => undefined);
  return { commands, queries };
}

async function resolvePostgres(config: AppConfig, log: (line: string) => void): Promise<{ url: string; description: string; server?: EmbeddedServer }> {
  if (config.databaseUrl) return { url: config.databaseUrl, description: `PostgreSQL at ${redactUrl(config.databaseUrl)}` };
  const dataDir = path.join(config.dataDir, 'postgres');
  const embeddedUrl = `postgres://postgres:union-ledger@127.0.0.1:${config.embeddedPostgresPort}/postgres`;
  // Another union-ledger process (the service, or a CLI command) may already run the embedded server.
  if (await probeTcp('127.0.0.1', config.embeddedPostgresPort)) {
    return { url: embeddedUrl, description: `embedded PostgreSQL already running on port ${config.embeddedPostgresPort} (data in ${dataDir})` };
  }
  log(`DATABASE_URL is not set: starting embedded PostgreSQL with data in ${dataDir}`);
  const server = await startEmbeddedPostgres({ dataDir, port: config.embeddedPostgresPort });
  return { url: server.url, description: server.description, server };
}

export async function startRuntime(config: AppConfig, options: RuntimeOptions): Promise<Runtime> {
  const embedded: EmbeddedServer[] = [];
  const stopEmbedded = async (): Promise<void> => {
    for (const server of embedded.reverse()) await server.stop().catch(() => undefined);
  };
  try {
    const postgres = await resolvePostgres(config, options.log);
    if (postgres.server) embedded.push(postgres.server);
    const db = connectDatabase({ url: postgres.url, poolMax: config.databasePoolMax, readOnly: options.readOnly });
    const migrations = options.readOnly ? await checkMigrated(db, options.migrations) : await migrate(db, options.migrations);

    // The replica is read-only by nature; default_transaction_read_only makes a write there fail
    // in our own code first, with a clear error, rather than in the server's recovery check.
    const readDb = config.readDatabaseUrl
      ? connectDatabase({ url: config.readDatabaseUrl, poolMax: config.databasePoolMax, readOnly: true, applicationName: 'union-ledger-reads' })
      : undefined;

    let redis: RedisClient | undefined;
    let redisQueries: RedisClient | undefined;
    let redisDescription: string | undefined;
    if (options.withRedis && config.redisClusterNodes) {
      const clients = createRedisClients({ clusterNodes: config.redisClusterNodes });
      redis = clients.commands;
      redisQueries = clients.queries;
      redisDescription = `Redis Cluster at ${config.redisClusterNodes.map((node) => `${node.host}:${node.port}`).join(',')}`;
      await Promise.all([redis.connect(), redisQueries.connect()]);
    } else if (options.withRedis) {
      let redisUrl = config.redisUrl;
      redisDescription = redisUrl ? `Redis at ${redactUrl(redisUrl)}` : undefined;
      if (!redisUrl) {
        options.log('REDIS_URL is not set: starting embedded Redis (in memory)');
        const server = await startEmbeddedRedis();
        embedded.push(server);
        redisUrl = server.url;
        redisDescription = server.description;
      }
      const clients = createRedisClients(redisUrl);
      redis = clients.commands;
      redisQueries = clients.queries;
      await Promise.all([redis.connect(), redisQueries.connect()]);
    }

    return {
      db,
      readDb,
      redis,
      redisQueries,
      postgresDescription: postgres.description,
      redisDescription,
      migrations,
      async close() {
        if (redis) await redis.quit().catch(() => redis?.disconnect());
        if (redisQueries) await redisQueries.quit().catch(() => redisQueries?.disconnect());
        await closeDatabase(db);
        if (readDb) await closeDatabase(readDb);
        await stopEmbedded();
      },
    };
  } catch (error) {
    await stopEmbedded();
    throw error;
  }
}
