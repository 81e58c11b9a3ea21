import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCliOn } from '../../../test/support/cli';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { waitForFeedEnd } from '../../../test/support/feed';
import { testTimeout } from '../../../test/support/wait-for';
import { createEventStore } from '../../composition-root';
import { loadConfig } from '../../config/config';
import { posting, POSTINGS_SCHEMA_VERSION } from '../../domain/shared';
import type { EventStore, JsonObject } from '../../eventstore/event-store';
import { closeDatabase, connectDatabase, pgp } from '../../infra/database';
import { catchUpProjection } from '../../projections';
import { ledgerProjection } from '../../projections/ledger';

jest.setTimeout(testTimeout(3));

/**
 * The auditor's database role as docs/audit/auditor-role.sql grants it (SELECT only, every
 * transaction read-only) runs `verify` and the audit commands; the role cannot write, so a
 * passing run is one that wrote nothing. Roles are cluster-wide: each run makes its own and drops it.
 */

let database: TestDatabase;
let store: EventStore;
let role: string;
let auditor: TestDatabase;
let directory: string;

async function asAdmin(sql: string): Promise<void> {
  const admin = connectDatabase({ url: database.url, poolMax: 1, applicationName: `ul-test-role-${randomBytes(4).toString('hex')}` });
  try {
    await admin.none(sql);
  } finally {
    await closeDatabase(admin);
  }
}

beforeAll(async () => {
  database = await createTestDatabase();
  store = createEventStore(loadConfig({}), database.db, { listen: false });
  await store.appendToStream('member-a', [
    {
      eventId: randomUUID(),
      type: 'ValueMoved',
      schemaVersion: POSTINGS_SCHEMA_VERSION,
      data: { postings: [posting('issuer:checkin', 'member:a:available', 5, 'POINTS')] } as unknown as JsonObject,
      metadata: { occurredAt: new Date().toISOString() },
    },
  ]);
  await waitForFeedEnd(database.db);
  directory = await mkdtemp(path.join(tmpdir(), 'ul-auditor-'));
  // The owner seals and projects; the auditor only reads.
  expect((await runCliOn(database, 'audit', 'seal', '--out', path.join(directory, 'seal.ndjson'))).code).toBe(0);
  await waitForFeedEnd(database.db);
  await catchUpProjection(store, database.db, ledgerProjection());

  role = `ul_auditor_${randomBytes(6).toString('hex')}`;
  const grants = (await readFile(path.join(__dirname, '../../../docs/audit/auditor-role.sql'), 'utf8'))
    .replace(/\bul_auditor\b/g, role)
    .replace(/\bunion_ledger\b/g, database.name);
  await asAdmin(grants);
  const url = new URL(database.url);
  url.username = role;
  url.password = '';
  auditor = { ...database, url: url.toString() };
});

afterAll(async () => {
  await store.close();
  await database.drop();
  // The database held the role's grants; with it gone the role owns nothing and can go.
  const admin = connectDatabase({ url: process.env.TEST_POSTGRES_URL!, poolMax: 1, applicationName: `ul-test-role-drop-${randomBytes(4).toString('hex')}` });
  await admin.none(`DROP ROLE IF EXISTS ${role}`).finally(() => closeDatabase(admin));
  await rm(directory, { recursive: true, force: true });
});

describe('an auditor role with SELECT only', () => {
  it('cannot write: the grants are what the docs say', async () => {
    const db = connectDatabase({ url: auditor.url, poolMax: 1, applicationName: `ul-test-auditor-${randomBytes(4).toString('hex')}` });
    try {
      expect(await db.one('SELECT count(*)::int AS events FROM ul_events')).toEqual({ events: 2 });
      await expect(db.none("UPDATE ul_checkpoints SET position = position WHERE name = 'ledger'")).rejects.toThrow(/read-only transaction|permission denied/);
      // Asking for a read-write transaction does not help: the role has no write grant.
      const readWrite = new pgp.txMode.TransactionMode({ readOnly: false });
      await expect(db.tx({ mode: readWrite }, (tx) => tx.none('DELETE FROM ul_journal'))).rejects.toThrow(/permission denied/);
      await expect(db.one('SELECT count(*) FROM ul_accounts')).rejects.toThrow(/permission denied/);
    } finally {
      await closeDatabase(db);
    }
  });

  it('runs verify, which reads the journal as it stands and writes nothing', async () => {
    const before = await database.db.any('SELECT name, position, updated_at FROM ul_checkpoints ORDER BY name');
    const { code, stdout } = await runCliOn(auditor, 'verify');
    expect(code).toBe(0);
    expect(stdout).toContain('OK: 2 events in 2 streams, every hash chain intact');
    expect(stdout).toContain('OK: trial balance zero per asset (POINTS 0 over 1 postings)');
    expect(stdout).toContain('every event folded');
    expect(await database.db.any('SELECT name, position, updated_at FROM ul_checkpoints ORDER BY name')).toEqual(before);
  });

  it('runs audit heads --compare', async () => {
    const { code, stdout } = await runCliOn(auditor, 'audit', 'heads', '--compare', path.join(directory, 'seal.ndjson'));
    expect(code).toBe(0);
    expect(stdout).toContain('OK: 1 sealed stream heads of seal #1');
  });

  it('runs audit balances, audit grants and audit export', async () => {
    expect(await runCliOn(auditor, 'audit', 'balances', '--as-of', new Date().toISOString())).toMatchObject({ code: 0, stdout: expect.stringContaining('member:a:available\tPOINTS\t5') });
    expect(await runCliOn(auditor, 'audit', 'grants')).toMatchObject({ code: 0, stdout: expect.stringContaining('OK: 0 points grants') });
    const exported = await runCliOn(auditor, 'audit', 'export', '--to', path.join(directory, 'export'));
    expect(exported).toMatchObject({ code: 0, stdout: expect.stringContaining('exported 2 events') });
  });

  it('is told to have the owner migrate first, rather than failing on a missing table', async () => {
    await asAdmin(`CREATE TABLE ul_migrations_saved AS SELECT * FROM ul_migrations; DELETE FROM ul_migrations WHERE version = (SELECT max(version) FROM ul_migrations)`);
    try {
      const { code } = await runCliOn(auditor, 'verify');
      expect(code).toBe(2);
    } finally {
      await asAdmin('DELETE FROM ul_migrations; INSERT INTO ul_migrations SELECT * FROM ul_migrations_saved; DROP TABLE ul_migrations_saved');
    }
  });
});
