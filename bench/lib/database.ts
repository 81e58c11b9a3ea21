import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { closeDatabase, connectDatabase, type Database } from '../../src/infra/database';
import { probeTcp, startEmbeddedPostgres, type EmbeddedServer } from '../../src/infra/embedded';
import { MIGRATIONS } from '../../src/composition-root';
import { migrate } from '../../src/infra/migrations';

/**
 * The benchmark's own PostgreSQL plumbing (no Jest): the server is chosen the way
 * test/support/servers.ts chooses it (DATABASE_URL, else 127.0.0.1:5432, else an embedded
 * server), but only PostgreSQL is resolved, and every run gets a fresh ul_bench_<random> database.
 */
export interface BenchServer {
  adminUrl: string;
  description: string;
  stop(): Promise<void>;
}

export async function resolvePostgres(log: (line: string) => void = () => undefined): Promise<BenchServer> {
  if (process.env.DATABASE_URL) {
    return { adminUrl: process.env.DATABASE_URL, description: 'PostgreSQL from DATABASE_URL', stop: async () => undefined };
  }
  if (await probeTcp('127.0.0.1', 5432)) {
    return {
      adminUrl: 'postgres://postgres@127.0.0.1:5432/postgres',
      description: 'PostgreSQL on 127.0.0.1:5432',
      stop: async () => undefined,
    };
  }
  const dataDir = path.join(os.tmpdir(), 'union-ledger-bench-pg');
  const server: EmbeddedServer = await startEmbeddedPostgres({ dataDir, log });
  return { adminUrl: server.url, description: server.description, stop: () => server.stop() };
}

/** One statement on a short-lived pool; a distinct application name avoids pg-promise's duplicate warning. */
export async function adminQuery<T = unknown>(adminUrl: string, sql: string): Promise<T[]> {
  const admin = connectDatabase({ url: adminUrl, poolMax: 1, applicationName: `ul-bench-admin-${randomBytes(4).toString('hex')}` });
  try {
    return await admin.any<T>(sql);
  } finally {
    await closeDatabase(admin);
  }
}

export interface BenchDatabase {
  db: Database;
  name: string;
  url: string;
  /** Closes the pool and drops the database (unless kept). */
  close(options: { keep: boolean }): Promise<void>;
}

export async function createBenchDatabase(adminUrl: string, poolMax: number): Promise<BenchDatabase> {
  const name = `ul_bench_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = connectDatabase({ url: url.toString(), poolMax, applicationName: `ul-bench-${name}` });
  try {
    await migrate(db, MIGRATIONS);
  } catch (error) {
    await closeDatabase(db);
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    throw error;
  }
  return {
    db,
    name,
    url: url.toString(),
    async close({ keep }) {
      await closeDatabase(db);
      if (!keep) await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
