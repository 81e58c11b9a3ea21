import fs from 'node:fs';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { waitForFeedEnd } from '../../../test/support/feed';
import { testTimeout } from '../../../test/support/wait-for';
import { MIGRATIONS, readModels, UnionLedger } from '../../composition-root';
import { loadConfig } from '../../config/config';
import { verifyHashChains } from '../../eventstore/postgres/verify';
import type { Database } from '../../infra/database';
import { migrate } from '../../infra/migrations';
import { listCheckpoints } from '../runner';
import { checkTrialBalance } from './trial-balance';


// Each test waits for the feed at most a few times (a transaction open elsewhere in the cluster hides new events).
jest.setTimeout(testTimeout(3));
/**
 * Events stored before postings had an asset (schema version 1, `{ debit, credit, points }`),
 * exactly as the code before the change wrote them, must still verify and project to exactly the
 * tables that code projected. The fixture was captured from that code (test/fixtures/README.md):
 * the rows of ul_events byte for byte (data, hashes, digests, recorded_at) and the read models it
 * built from them.
 */

interface FixtureEvent {
  global_position: string;
  transaction_id: string;
  stream_id: string;
  stream_revision: string;
  event_id: string;
  event_type: string;
  schema_version: number;
  data: unknown;
  metadata: unknown;
  recorded_at: string;
  content_digest: string;
  hash: string;
}

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../test/fixtures/ledger-v1-events.json'), 'utf8')) as {
  events: FixtureEvent[];
  tables: Record<string, string>;
};
/** The read models the code before the change built, as the fixture holds them. */
const TABLES = Object.keys(fixture.tables);
/** Read models added since (benefits): these points-only events give them no rows. */
const LATER_TABLES = readModels()
  .flatMap((projection) => projection.tables)
  // The campaigns projection keeps every member's unit from MemberEnrolled, whether or not a campaign counts yet (checked below).
  .filter((table) => !TABLES.includes(table) && table !== 'ul_campaign_member_units');
const ENROLMENTS = fixture.events.filter((event) => event.event_type === 'MemberEnrolled').length;

let database: TestDatabase;
let ledger: UnionLedger;

/** Every read-model table as sorted row text, timestamps in UTC as when the fixture was captured. */
async function dump(db: Database = database.db): Promise<Record<string, string[]>> {
  return db.tx(async (tx) => {
    await tx.none("SET LOCAL TIME ZONE 'UTC'");
    const tables: Record<string, string[]> = {};
    for (const table of TABLES) {
      tables[table] = (await tx.map(`SELECT t::text AS line FROM ${table} t`, [], (row: { line: string }) => row.line)).sort();
    }
    return tables;
  });
}

/**
 * The stored rows as they were, positions included. Only transaction_id (the feed's sort key,
 * outside the hash) is renumbered from 3 up in the same order, so it lies below the oldest
 * running transaction of whatever cluster runs this test.
 */
async function insertFixtureEvents(db: Database): Promise<void> {
  const xids = [...new Set(fixture.events.map((event) => BigInt(event.transaction_id)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const event of fixture.events) {
    await db.none(
      `INSERT INTO ul_events (global_position, transaction_id, stream_id, stream_revision, event_id, event_type, schema_version,
                              data, metadata, recorded_at, content_digest, hash)
       OVERRIDING SYSTEM VALUE
       VALUES ($1, $2::text::xid8, $3, $4, $5, $6, $7, $8, $9, $10, decode($11, 'hex'), decode($12, 'hex'))`,
      [
        event.global_position,
        (3n + BigInt(xids.indexOf(BigInt(event.transaction_id)))).toString(),
        event.stream_id,
        event.stream_revision,
        event.event_id,
        event.event_type,
        event.schema_version,
        JSON.stringify(event.data),
        JSON.stringify(event.metadata),
        event.recorded_at,
        event.content_digest,
        event.hash,
      ],
    );
  }
  await db.one("SELECT setval(pg_get_serial_sequence('ul_events', 'global_position'), (SELECT max(global_position) FROM ul_events))");
}

/** The tables are the ones the old code built, but for the journal's new asset column, POINTS on every line. */
function expectTheFixturesTables(tables: Record<string, string[]>): void {
  for (const table of TABLES) {
    const before = fixture.tables[table]!.split('\n').sort();
    const now = table === 'ul_journal' ? tables[table]!.map((line) => line.replace(/,POINTS\)$/, ')')) : tables[table]!;
    expect({ table, rows: now }).toEqual({ table, rows: before });
  }
  expect(tables.ul_journal!.every((line) => line.endsWith(',POINTS)'))).toBe(true);
}

async function expectLaterTablesEmpty(db: Database = database.db): Promise<void> {
  expect(LATER_TABLES.length).toBeGreaterThan(0);
  for (const table of LATER_TABLES) expect({ table, rows: (await db.one<{ rows: number }>(`SELECT count(*)::int AS rows FROM ${table}`)).rows }).toEqual({ table, rows: 0 });
  expect((await db.one<{ rows: number }>('SELECT count(*)::int AS rows FROM ul_campaign_member_units')).rows).toBe(ENROLMENTS);
}

beforeAll(async () => {
  database = await createTestDatabase();
  await insertFixtureEvents(database.db);
  ledger = new UnionLedger({ config: loadConfig({}), db: database.db, listen: false });
});

afterAll(async () => {
  await ledger?.close();
  await database?.drop();
});

describe('events stored before postings named their asset', () => {
  it('are the version-1 shape the upcaster reads', () => {
    const withPostings = fixture.events.filter((event) => Array.isArray((event.data as { postings?: unknown }).postings));
    expect(withPostings.length).toBeGreaterThan(20);
    for (const event of withPostings) {
      expect(event.schema_version).toBe(1);
      for (const posting of (event.data as { postings: object[] }).postings) expect(Object.keys(posting).sort()).toEqual(['credit', 'debit', 'points']);
    }
  });

  it('still verify: every hash chain intact, the trial balance zero in POINTS', async () => {
    const chains = await verifyHashChains(database.db);
    expect(chains).toMatchObject({ ok: true, eventsChecked: fixture.events.length, broken: [] });
    await waitForFeedEnd(database.db);
    await ledger.catchUpReadModels();
    const balance = await checkTrialBalance(database.db);
    expect(balance).toMatchObject({ ok: true, badPostings: [], mixedAssetAccounts: [], journalMismatches: [], balanceMismatches: [] });
    expect(balance.assets).toEqual([expect.objectContaining({ asset: 'POINTS', eventsTotal: '0', journalTotal: '0' })]);
  });

  it('project into exactly the rows the code before the change built, each journal line now naming POINTS', async () => {
    await waitForFeedEnd(database.db);
    await ledger.catchUpReadModels();
    expectTheFixturesTables(await dump());
    await expectLaterTablesEmpty();
  });

  it('fold into the state the command handler decides on, and take new commands that post the new shape', async () => {
    await waitForFeedEnd(database.db);
    await ledger.catchUpReadModels();
    const before = await database.db.one<{ available: string; held: string }>("SELECT available, held FROM ul_balances WHERE member_id = 'm1'");
    const { state } = await ledger.members.load('m1');
    expect({ available: state.available, held: state.held }).toEqual({ available: Number(before.available), held: Number(before.held) });

    const result = await ledger.members.execute('m1', { type: 'SpendPoints', spendId: 'after-upgrade', points: 3, purpose: 'lottery' }, {
      commandId: 'm1:after-upgrade',
      actor: { type: 'member', id: 'm1' },
    });
    expect(result.events.map((event) => event.data.postings)).toEqual([[{ debit: 'member:m1:available', credit: 'spent:lottery', amount: 3, asset: 'POINTS' }]]);
    const stored = await database.db.one<{ schema_version: number }>("SELECT schema_version FROM ul_events WHERE stream_id = 'member-m1' ORDER BY stream_revision DESC LIMIT 1");
    expect(stored.schema_version).toBe(2);

    await waitForFeedEnd(database.db);
    await ledger.catchUpReadModels();
    expect(await verifyHashChains(database.db)).toMatchObject({ ok: true, broken: [] });
    const balance = await checkTrialBalance(database.db);
    expect(balance.ok).toBe(true);
    const after = await database.db.one<{ available: string }>("SELECT available FROM ul_balances WHERE member_id = 'm1'");
    expect(Number(after.available)).toBe(Number(before.available) - 3);
  });
});

describe('a database from before the change, upgraded', () => {
  it('gives the orgs and members read models their own checkpoints where the shared one was, tags the journal POINTS, and carries on', async () => {
    const old = await createTestDatabase({ migrate: false });
    const upgraded = new UnionLedger({ config: loadConfig({}), db: old.db, listen: false });
    try {
      // Schema version 5 with the events and the read models exactly as the old code left them.
      await migrate(old.db, MIGRATIONS.filter((migration) => migration.version <= 5));
      await insertFixtureEvents(old.db);
      for (const table of TABLES) {
        for (const line of fixture.tables[table]!.split('\n')) await old.db.none(`INSERT INTO ${table} SELECT ($1::${table}).*`, [line]);
      }
      const last = fixture.events.reduce((max, event) => (BigInt(event.global_position) > max ? BigInt(event.global_position) : max), 0n);
      await old.db.none("INSERT INTO ul_checkpoints (name, position) VALUES ('ledger', $1)", [last.toString()]);

      const report = await migrate(old.db, MIGRATIONS);
      expect(report.applied.map((migration) => migration.version)).toEqual(MIGRATIONS.filter((migration) => migration.version > 5).map((migration) => migration.version));
      expect(await listCheckpoints(old.db)).toEqual({ ledger: last.toString(), members: last.toString(), orgs: last.toString() });

      await waitForFeedEnd(old.db);
      await upgraded.catchUpReadModels(); // Nothing to apply: every read model is at the end of the log.
      expectTheFixturesTables(await dump(old.db));
      await expectLaterTablesEmpty(old.db);

      await upgraded.members.execute('m2', { type: 'SpendPoints', spendId: 'after-upgrade', points: 2, purpose: 'lottery' }, {
        commandId: 'm2:after-upgrade',
        actor: { type: 'member', id: 'm2' },
      });
      await waitForFeedEnd(old.db);
      await upgraded.catchUpReadModels();
      expect(await checkTrialBalance(old.db)).toMatchObject({ ok: true });
    } finally {
      await upgraded.close();
      await old.drop();
    }
  });
});
