import path from 'node:path';
import Redis from 'ioredis';
import type { AppConfig } from '../config/config';
import { closeDatabase, connectDatabase, type Database } from './database';
import { probeTcp, startEmbeddedPostgres, startEmbeddedRedis, type EmbeddedServer } from './embedded';
import { migrate, type Migration, type MigrationReport } from './migrations';

/**
 * The process's connections: PostgreSQL (named or embedded, migrated) and, for the service,
 * Redis (named or embedded). The service and every CLI command start from here, so they agree on
 * where the data lives.
 */
export interface Runtime {
  db: Database;
  redis: Redis | undefined;
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
    const db = connectDatabase({ url: postgres.url, poolMax: config.databasePoolMax });
    const migrations = await migrate(db, options.migrations);

    let redis: Redis | undefined;
    let redisDescription: string | undefined;
    if (options.withRedis) {
      let redisUrl = config.redisUrl;
      redisDescription = redisUrl ? `Redis at ${redactUrl(redisUrl)}` : undefined;
      if (!redisUrl) {
        options.log('REDIS_URL is not set: starting embedded Redis (in memory)');
        const server = await startEmbeddedRedis();
        embedded.push(server);
        redisUrl = server.url;
        redisDescription = server.description;
      }
      // BullMQ needs maxRetriesPerRequest null on its connections; the health check uses the same settings.
      redis = new Redis(redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
      await redis.connect();
    }

    return {
      db,
      redis,
      postgresDescription: postgres.description,
      redisDescription,
      migrations,
      async close() {
        if (redis) await redis.quit().catch(() => redis?.disconnect());
        await closeDatabase(db);
        await stopEmbedded();
      },
    };
  } catch (error) {
    await stopEmbedded();
    throw error;
  }
}
