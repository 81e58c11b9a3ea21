import { randomBytes } from 'node:crypto';
import { closeDatabase, connectDatabase, type Database } from '../../src/infra/database';
import { MIGRATIONS } from '../../src/composition-root';
import { migrate } from '../../src/infra/migrations';

export interface TestDatabase {
  db: Database;
  url: string;
  name: string;
  /** Closes every pool opened on this database and drops it. */
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.TEST_POSTGRES_URL;
  if (!url) throw new Error('TEST_POSTGRES_URL is not set: run the tests through Jest (globalSetup sets it)');
  return url;
}

/** One statement on a short-lived pool of its own; a distinct application name avoids pg-promise's duplicate warning. */
async function adminQuery(sql: string): Promise<void> {
  const admin = connectDatabase({ url: adminUrl(), poolMax: 1, applicationName: `ul-test-admin-${randomBytes(4).toString('hex')}` });
  try {
    await admin.none(sql);
  } finally {
    await closeDatabase(admin);
  }
}

/** A fresh, migrated database of its own, so that test files and runs never collide. */
export async function createTestDatabase(options: { migrate?: boolean; poolMax?: number } = {}): Promise<TestDatabase> {
  const name = `ul_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  const db = connectDatabase({ url: url.toString(), poolMax: options.poolMax ?? 10, applicationName: `ul-test-${name}` });
  if (options.migrate !== false) await migrate(db, MIGRATIONS);
  return {
    db,
    url: url.toString(),
    name,
    async drop() {
      await closeDatabase(db);
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
