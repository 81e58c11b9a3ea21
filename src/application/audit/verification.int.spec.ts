import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { waitForFeedEnd } from '../../../test/support/feed';
import { testTimeout } from '../../../test/support/wait-for';
import { createEventStore } from '../../composition-root';
import { loadConfig } from '../../config/config';
import { posting, POSTINGS_SCHEMA_VERSION } from '../../domain/shared';
import type { EventStore, JsonObject } from '../../eventstore/event-store';
import { Verifications } from './verification';

jest.setTimeout(testTimeout(3));

/**
 * The cached verification behind GET /v1/audit/verification: a read never waits for a run, a run
 * covers the feed up to the position it reports, a result older than the maximum age is run again,
 * and an event altered in place is reported by the next run (not by the cached one).
 */

let database: TestDatabase;
let store: EventStore;
let nowMs = Date.parse('2026-11-30T10:00:00Z');

beforeAll(async () => {
  database = await createTestDatabase();
  store = createEventStore(loadConfig({}), database.db, { listen: false });
});

afterAll(async () => {
  await store.close();
  await database.drop();
});

it('answers the last run at once, reruns it once stale, and reports a tampered event on the next run', async () => {
  const { lastPosition } = await store.appendToStream('budget-v', [
    {
      eventId: randomUUID(),
      type: 'ValueMoved',
      schemaVersion: POSTINGS_SCHEMA_VERSION,
      data: { postings: [posting('fund:dues', 'budget:v', 100, 'CNY_FEN')] } as unknown as JsonObject,
      metadata: { occurredAt: new Date(nowMs).toISOString() },
    },
  ]);
  await waitForFeedEnd(database.db);
  const verifications = new Verifications(database.db, () => new Date(nowMs), 60_000);

  const first = verifications.status();
  expect(first).toMatchObject({ last: null, runningSince: new Date(nowMs).toISOString(), lastError: null });
  await verifications.settled();
  const done = verifications.status();
  expect(done).toMatchObject({ runningSince: null, last: { ok: true, feedPosition: lastPosition.toString(), hashChains: { ok: true, eventsChecked: 1 } } });

  await database.db.tx(async (tx) => {
    await tx.none('ALTER TABLE ul_events DISABLE TRIGGER ul_events_no_update');
    await tx.none(`UPDATE ul_events SET data = jsonb_set(data, '{postings,0,amount}', '1000') WHERE stream_id = 'budget-v'`);
    await tx.none('ALTER TABLE ul_events ENABLE TRIGGER ul_events_no_update');
  });
  // Fresh: the cached result is answered and no run starts.
  nowMs += 30_000;
  expect(verifications.status()).toMatchObject({ runningSince: null, last: { ok: true } });
  // Stale: the old result is answered while a new run starts; the new run names the altered event.
  nowMs += 31_000;
  expect(verifications.status()).toMatchObject({ runningSince: new Date(nowMs).toISOString(), last: { ok: true } });
  await verifications.settled();
  expect(verifications.status().last).toMatchObject({
    ok: false,
    hashChains: { ok: false, broken: [{ streamId: 'budget-v', revision: '0', globalPosition: lastPosition.toString(), reason: 'content altered' }] },
  });
});
