import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { probeTcp, startEmbeddedPostgres, startEmbeddedRedis, type EmbeddedServer } from '../../src/infra/embedded';

/**
 * Picks the servers a test run (or benchmark) uses: the ones named by DATABASE_URL / REDIS_URL,
 * else PostgreSQL and Redis on their default local ports when they answer, else embedded ones.
 */
export interface TestServers {
  postgresUrl: string;
  redisUrl: string;
  started: EmbeddedServer[];
  describe: string[];
}

export async function resolveTestServers(log: (line: string) => void = () => undefined): Promise<TestServers> {
  const started: EmbeddedServer[] = [];
  const describe: string[] = [];
  // UL_TEST_SERVERS=embedded skips the local ports, to prove the path a machine without servers takes.
  const localAllowed = process.env.UL_TEST_SERVERS !== 'embedded';
  let postgresUrl = process.env.DATABASE_URL;
  if (postgresUrl) {
    describe.push('PostgreSQL from DATABASE_URL');
  } else if (localAllowed && (await probeTcp('127.0.0.1', 5432))) {
    postgresUrl = 'postgres://postgres@127.0.0.1:5432/postgres';
    describe.push('PostgreSQL on 127.0.0.1:5432');
  } else {
    const dataDir = path.join(os.tmpdir(), `union-ledger-test-pg-${process.pid}`);
    const server = await startEmbeddedPostgres({ dataDir, log });
    // A test cluster is thrown away with its files when the run ends.
    started.push({ ...server, stop: async () => {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    } });
    postgresUrl = server.url;
    describe.push(server.description);
  }
  let redisUrl = process.env.REDIS_URL;
  if (redisUrl) {
    describe.push('Redis from REDIS_URL');
  } else if (localAllowed && (await probeTcp('127.0.0.1', 6379))) {
    redisUrl = 'redis://127.0.0.1:6379';
    describe.push('Redis on 127.0.0.1:6379');
  } else {
    const server = await startEmbeddedRedis();
    started.push(server);
    redisUrl = server.url;
    describe.push(server.description);
  }
  return { postgresUrl, redisUrl, started, describe };
}
