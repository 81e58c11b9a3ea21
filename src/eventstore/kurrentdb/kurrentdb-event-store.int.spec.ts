import { describeEventStoreContract, event, uniquePrefix } from '../../../test/contract/event-store.contract';
import { EventIdConflictError } from '../errors';
import { START, type RecordedEvent } from '../event-store';
import { KurrentDbEventStore } from './kurrentdb-event-store';

/**
 * Runs the EventStore contract against a real KurrentDB. There is no embedded KurrentDB, so the
 * suite needs a server named by KURRENTDB_URL; every test uses stream names with a prefix of its
 * own, so a shared server works and needs no cleanup.
 */
const kurrentDbUrl = process.env.KURRENTDB_URL;
const SKIP_REASON =
  'KurrentDB contract skipped: set KURRENTDB_URL (e.g. kurrentdb://127.0.0.1:2113?tls=false) to run it';

if (!kurrentDbUrl) {
  // Said once per run, so a green test run does not hide that KurrentDB was never exercised.
  // eslint-disable-next-line no-console -- a test-run notice, not service logging
  console.log(SKIP_REASON);
  describe.skip(SKIP_REASON, () => {
    it('runs the EventStore contract and the KurrentDB-specific tests', () => undefined);
  });
} else {
  const url = kurrentDbUrl;

  describeEventStoreContract('kurrentdb', async () => {
    const store = new KurrentDbEventStore(url);
    return { store, cleanup: () => store.close() };
  });

  describe('KurrentDbEventStore: what KurrentDB does not do by itself', () => {
    let store: KurrentDbEventStore;
    let prefix: string;

    beforeAll(() => {
      store = new KurrentDbEventStore(url);
    });
    afterAll(async () => {
      await store.close();
    });
    beforeEach(() => {
      prefix = uniquePrefix();
    });

    it('refuses the same id with different content even at the same expected revision, where the server would deduplicate by id', async () => {
      const stream = `${prefix}-dedup`;
      const original = event('PointsEarned', { points: 10 });
      await store.appendToStream(stream, [original], { expectedRevision: 'no_stream' });
      const changed = store.appendToStream(stream, [{ ...original, data: { points: 11 } }], { expectedRevision: 'no_stream' });
      await expect(changed).rejects.toBeInstanceOf(EventIdConflictError);
      expect(await store.readStream(stream)).toHaveLength(1);
    });

    it("recognises a retry with 'any' after other events were appended", async () => {
      const stream = `${prefix}-late-retry`;
      const batch = [event(), event()];
      const first = await store.appendToStream(stream, batch);
      await store.appendToStream(stream, [event(), event(), event()]);
      const again = await store.appendToStream(stream, batch);
      expect(again.idempotentReplay).toBe(true);
      expect(again.events).toEqual(first.events);
      expect(await store.readStream(stream)).toHaveLength(5);
    });

    it('reports each event of a batch at its own global position, the one readAll shows', async () => {
      const stream = `${prefix}-positions`;
      const result = await store.appendToStream(stream, [event('P1'), event('P2'), event('P3')]);
      const positions = result.events.map((item) => item.globalPosition);
      expect(new Set(positions).size).toBe(3);
      expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
      expect(result.lastPosition).toBe(positions[2]);
      const feed = await store.readAll({ streamPrefixes: [prefix] });
      expect(feed.events.map((item) => item.globalPosition)).toEqual(positions);
      expect(feed.nextAfter).toBe(positions[2]);
    });

    it('pages through a batch one event at a time without skipping any', async () => {
      const stream = `${prefix}-one-by-one`;
      await store.appendToStream(stream, [event('B0'), event('B1'), event('B2'), event('B3')]);
      const seen: RecordedEvent[] = [];
      let after = START;
      for (let page = 0; page < 20; page += 1) {
        const result = await store.readAll({ after, limit: 1, streamPrefixes: [prefix] });
        seen.push(...result.events);
        after = result.nextAfter;
        if (result.isEnd && result.events.length === 0) break;
      }
      expect(seen.map((item) => item.type)).toEqual(['B0', 'B1', 'B2', 'B3']);
    });

    it("round-trips a caller's metadata keys that start with '$' and stores the schema version", async () => {
      const stream = `${prefix}-meta`;
      const written = { ...event('Versioned'), schemaVersion: 3 };
      written.metadata = { ...written.metadata, $schemaVersion: 'mine', $digest: 'also mine' };
      await store.appendToStream(stream, [written]);
      const [read] = await store.readStream(stream);
      expect(read?.schemaVersion).toBe(3);
      expect(read?.metadata).toEqual(written.metadata);
    });

    it('reads back what a multi-stream append wrote (metadata packed into one string) exactly as a single append stores it', async () => {
      const written = { ...event('Versioned'), schemaVersion: 2 };
      written.metadata = { ...written.metadata, $packed: 'mine', nested: { n: 1 } };
      const results = await store.appendToStreams([
        { streamId: `${prefix}-multi-a`, events: [written] },
        { streamId: `${prefix}-multi-b`, events: [event('Other'), event('Other')], expectedRevision: 'no_stream' },
      ]);
      const [read] = await store.readStream(`${prefix}-multi-a`);
      expect(read?.schemaVersion).toBe(2);
      expect(read?.metadata).toEqual(written.metadata);
      expect(read?.globalPosition).toBe(results[0]!.events[0]!.globalPosition);
      const feed = await store.readAll({ streamPrefixes: [prefix] });
      expect(feed.events.map((item) => item.eventId).sort()).toEqual([...results[0]!.events, ...results[1]!.events].map((item) => item.eventId).sort());
    });

    it("recognises a retried multi-stream append with 'any' after other events were appended to its streams", async () => {
      const appends = [
        { streamId: `${prefix}-w1`, events: [event()] },
        { streamId: `${prefix}-w2`, events: [event(), event()] },
      ];
      const first = await store.appendToStreams(appends);
      await store.appendToStream(`${prefix}-w1`, [event(), event()]);
      const again = await store.appendToStreams(appends);
      expect(again.map((result) => result.idempotentReplay)).toEqual([true, true]);
      expect(again.map((result) => result.events)).toEqual(first.map((result) => result.events));
      expect(await store.readStream(`${prefix}-w1`)).toHaveLength(3);
    });

    it('wakes a subscription for an append made through another client (another process)', async () => {
      const other = new KurrentDbEventStore(url);
      const received: string[] = [];
      let resolveDone: () => void = () => undefined;
      const done = new Promise<void>((resolve) => {
        resolveDone = resolve;
      });
      let checkpoint = START;
      const handle = store.subscribe({
        name: `${prefix}-remote`,
        streamPrefixes: [prefix],
        pollIntervalMs: 60_000, // Only the live subscribeToAll can deliver a wake-up in time.
        loadCheckpoint: async () => checkpoint,
        handle: async (events, nextAfter) => {
          received.push(...events.map((item) => item.type));
          checkpoint = nextAfter;
          if (received.includes('Remote')) resolveDone();
        },
      });
      try {
        await new Promise((resolve) => setTimeout(resolve, 500));
        await other.appendToStream(`${prefix}-remote`, [event('Remote')]);
        await done;
        expect(received).toEqual(['Remote']);
      } finally {
        await handle.stop();
        await other.close();
      }
    });
  });
}
