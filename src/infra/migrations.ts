import type { Database } from './database';

/**
 * Versioned schema migrations. Each owner declares its own (the event store, the chassis, every
 * context's read models in projections/<context>/schema.ts); the composition root collects them
 * and `migrate` applies the pending ones in version order, all in one transaction under an
 * advisory lock, so several processes starting at once apply each migration exactly once. A
 * migration is never edited after it has shipped: changes come as a new version.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATION_LOCK_KEY = 7_312_004_001;

/** Every owner's migrations as one list in version order; a version claimed twice is a programmer error. */
export function collectMigrations(...owners: ReadonlyArray<readonly Migration[]>): Migration[] {
  const all = owners.flat().sort((a, b) => a.version - b.version);
  all.forEach((migration, index) => {
    if (!Number.isSafeInteger(migration.version) || migration.version < 1) {
      throw new Error(`invariant violated: migration '${migration.name}' has version ${migration.version}`);
    }
    if (index > 0 && all[index - 1]!.version === migration.version) {
      throw new Error(`invariant violated: migrations '${all[index - 1]!.name}' and '${migration.name}' both claim version ${migration.version}`);
    }
  });
  return all;
}

export interface MigrationReport {
  applied: Migration[];
  current: number;
}

export async function migrate(db: Database, migrations: readonly Migration[]): Promise<MigrationReport> {
  const applied: Migration[] = [];
  await db.tx('migrate', async (tx) => {
    await tx.one('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.none(`CREATE TABLE IF NOT EXISTS ul_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Set(
      (await tx.map('SELECT version FROM ul_migrations', [], (row: { version: number }) => row.version)) as number[],
    );
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await tx.none(migration.sql);
      await tx.none('INSERT INTO ul_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      applied.push(migration);
    }
  });
  const current = migrations.reduce((max, migration) => Math.max(max, migration.version), 0);
  return { applied, current };
}

export class SchemaBehindError extends Error {}

/**
 * What `migrate` would report, without writing: for a read-only connection. A database missing
 * any of the code's migrations is refused, since the code's queries assume every table.
 */
export async function checkMigrated(db: Database, migrations: readonly Migration[]): Promise<MigrationReport> {
  const table = await db.one<{ present: boolean }>("SELECT to_regclass('ul_migrations') IS NOT NULL AS present");
  const done = new Set(
    table.present ? ((await db.map('SELECT version FROM ul_migrations', [], (row: { version: number }) => row.version)) as number[]) : [],
  );
  const pending = migrations.filter((migration) => !done.has(migration.version));
  if (pending.length > 0) {
    throw new SchemaBehindError(
      `the database lacks migration(s) ${pending.map((migration) => migration.version).join(', ')}: run \`union-ledger migrate\` as the owner first (a read-only connection migrates nothing)`,
    );
  }
  const current = migrations.reduce((max, migration) => Math.max(max, migration.version), 0);
  return { applied: [], current };
}
