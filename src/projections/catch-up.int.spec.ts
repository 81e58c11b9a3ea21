import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../test/support/database';
import { testTimeout } from '../../test/support/wait-for';
import type { DbTask } from '../infra/database';
import type { RecordedEvent } from '../eventstore/event-store';
import { PostgresEventStore } from '../eventstore/postgres/postgres-event-store';
import { catchUpProjection, loadCheckpoint, saveCheckpoint, type Projection } from '.';

/**
 * A catch-up (`union-ledger demo` and other one-shot commands) runs beside the service's live
 * runner of the same projection. When the other runner commits a batch between the catch-up's
 * read of the checkpoint and its own commit, the catch-up's batch is refused by the checkpoint's
 * compare-and-set: it must roll back and carry on from the new checkpoint, not fail the command.
 */

jest.setTimeout(testTimeout(2));

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database.drop();
});

it('carries on from the checkpoint another runner moved meanwhile, applying each event once', async () => {
  const store = new PostgresEventStore(database.db, { listen: false });
  const run = randomUUID().slice(0, 8);
  const table = `catch_up_race_${run}`;
  // No unique key: the two runners' uncommitted inserts of the same events must not wait on each other.
  await database.db.none(`CREATE TABLE ${table} (global_position bigint NOT NULL)`);
  try {
    for (let index = 0; index < 25; index += 1) {
      await store.appendToStream(`race-${run}-${index % 5}`, [{ eventId: randomUUID(), type: 'RaceEvent', data: { index }, metadata: { occurredAt: new Date().toISOString() } }]);
    }
    const record = async (tx: DbTask, events: RecordedEvent[]): Promise<void> => {
      for (const event of events) await tx.none(`INSERT INTO ${table} (global_position) VALUES ($1)`, [event.globalPosition.toString()]);
    };
    const base = { name: `race-${run}`, tables: [table], streamPrefixes: [`race-${run}-`], catchUpBatchSize: 10 };
    // One batch of the live runner, committed on another connection.
    const otherBatch = async (): Promise<void> => {
      const from = await loadCheckpoint(database.db, base.name);
      const page = await store.readAll({ after: from, limit: base.catchUpBatchSize, streamPrefixes: base.streamPrefixes });
      await database.db.tx(async (tx) => {
        await record(tx, page.events);
        await saveCheckpoint(tx, base.name, from, page.nextAfter);
      });
    };
    let raced = 0;
    const racing: Projection = {
      ...base,
      async apply(tx, events) {
        await record(tx, events);
        // The first two batches lose the race: the live runner commits a batch ahead of this
        // still-open transaction, moving the checkpoint under it.
        if (raced < 2) {
          raced += 1;
          await otherBatch();
        }
      },
    };

    await catchUpProjection(store, database.db, racing);

    expect(raced).toBe(2);
    const feed = (await store.readAll({ limit: 1000, streamPrefixes: [`race-${run}-`] })).events;
    expect(feed).toHaveLength(25);
    expect(await loadCheckpoint(database.db, base.name)).toBe(feed[feed.length - 1]!.globalPosition);
    const positions = await database.db.map(`SELECT global_position FROM ${table} ORDER BY global_position`, [], (row: { global_position: string }) => BigInt(row.global_position));
    expect(positions).toEqual(feed.map((event) => event.globalPosition));
  } finally {
    await store.close();
    await database.db.none(`DROP TABLE ${table}`);
  }
});
