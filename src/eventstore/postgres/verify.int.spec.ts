import { event } from '../../../test/contract/event-store.contract';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { runCliOn } from '../../../test/support/cli';
import { chainHash, contentDigest } from '../canonical';
import { PostgresEventStore } from './postgres-event-store';
import { verifyHashChains } from './verify';

const cli = runCliOn;

describe('union-ledger verify', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;

  beforeEach(async () => {
    database = await createTestDatabase();
    store = new PostgresEventStore(database.db);
    for (let index = 0; index < 5; index += 1) {
      await store.appendToStream('member-a', [event('PointsEarned', { points: index })]);
      await store.appendToStream('member-b', [event('PointsEarned', { points: 100 + index }), event('CheckedIn', { day: '2026-11-23' })]);
    }
  });
  afterEach(async () => {
    await store.close();
    await database.drop();
  });

  it('passes an untouched ledger with exit code 0', async () => {
    const report = await verifyHashChains(database.db, { batchSize: 3 });
    expect(report).toMatchObject({ ok: true, eventsChecked: 15, streamsChecked: 2, broken: [] });
    const { code, stdout } = await cli(database, 'verify');
    expect(code).toBe(0);
    expect(stdout).toContain('OK: 15 events in 2 streams');
  });

  it('names the altered event, with stored and computed hashes, and exits 1', async () => {
    // A tamperer with owner rights switches off the append-only trigger and edits history.
    await database.db.tx(async (tx) => {
      await tx.none('ALTER TABLE ul_events DISABLE TRIGGER ul_events_no_update');
      await tx.none(`UPDATE ul_events SET data = jsonb_set(data, '{points}', '999')
                      WHERE stream_id = 'member-b' AND stream_revision = 4`);
      await tx.none('ALTER TABLE ul_events ENABLE TRIGGER ul_events_no_update');
    });
    const report = await verifyHashChains(database.db, { batchSize: 4 });
    expect(report.ok).toBe(false);
    expect(report.broken).toHaveLength(1);
    expect(report.broken[0]).toMatchObject({ streamId: 'member-b', revision: 4n, reason: 'content altered' });

    const { code, stdout } = await cli(database, 'verify');
    expect(code).toBe(1);
    expect(stdout).toContain('ALTERED: first broken link in stream member-b at revision 4');
    expect(stdout).toMatch(/stored hash: +[0-9a-f]{64}/);
  });

  it('catches a forged event whose digest and hash were recomputed, at the link after it', async () => {
    const [victim] = await store.readStream('member-a', { fromRevision: 1n, maxCount: 1 });
    const previous = await database.db.one<{ hash: Buffer }>("SELECT hash FROM ul_events WHERE stream_id = 'member-a' AND stream_revision = 0");
    const forgedData = { ...victim!.data, points: 5000 };
    const digest = contentDigest({ ...victim!, data: forgedData });
    const hash = chainHash(previous.hash, 1n, BigInt(victim!.recordedAt.getTime()), digest);
    await database.db.tx(async (tx) => {
      await tx.none('ALTER TABLE ul_events DISABLE TRIGGER ul_events_no_update');
      await tx.none(
        "UPDATE ul_events SET data = $1, content_digest = $2, hash = $3 WHERE stream_id = 'member-a' AND stream_revision = 1",
        [forgedData, digest, hash],
      );
      await tx.none('ALTER TABLE ul_events ENABLE TRIGGER ul_events_no_update');
    });
    const report = await verifyHashChains(database.db);
    expect(report.broken).toHaveLength(1);
    expect(report.broken[0]).toMatchObject({ streamId: 'member-a', revision: 2n, reason: 'hash mismatch' });
  });

  it('reports a deleted event as a revision gap', async () => {
    await database.db.tx(async (tx) => {
      await tx.none('ALTER TABLE ul_events DISABLE TRIGGER ul_events_no_update');
      await tx.none("DELETE FROM ul_events WHERE stream_id = 'member-a' AND stream_revision = 2");
      await tx.none('ALTER TABLE ul_events ENABLE TRIGGER ul_events_no_update');
    });
    const report = await verifyHashChains(database.db);
    expect(report.broken[0]).toMatchObject({ streamId: 'member-a', revision: 3n, reason: 'revision gap' });
  });
});
