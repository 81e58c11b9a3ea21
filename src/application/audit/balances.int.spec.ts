import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { runCliOn } from '../../../test/support/cli';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { waitForFeedEnd } from '../../../test/support/feed';
import { testTimeout } from '../../../test/support/wait-for';
import { createEventStore } from '../../composition-root';
import { loadConfig } from '../../config/config';
import { posting, POSTINGS_SCHEMA_VERSION, type Asset } from '../../domain/shared';
import type { EventStore, JsonObject, RecordedEvent } from '../../eventstore/event-store';
import { balancesAsOf } from './balances';

jest.setTimeout(testTimeout(3));

/**
 * Balances as of a position equal a plain fold of the events up to it, at random positions of a
 * random ledger (several streams and writers, both assets): the model is the simplest fold there
 * is, over the events as the store's feed returns them.
 */

let database: TestDatabase;
let store: EventStore;
let feed: RecordedEvent[];

const ACCOUNTS = ['fund:dues', 'budget:x', 'wallet:m1', 'member:m1:available', 'member:m2:available', 'issuer:checkin'];

beforeAll(async () => {
  database = await createTestDatabase();
  store = createEventStore(loadConfig({}), database.db, { listen: false });
  const moves = fc.sample(
    fc.record({
      stream: fc.constantFrom('member-m1', 'member-m2', 'budget-x', 'wallet-m1'),
      postings: fc.array(
        fc.record({ from: fc.constantFrom(...ACCOUNTS), to: fc.constantFrom(...ACCOUNTS), amount: fc.integer({ min: 1, max: 1_000_000 }), asset: fc.constantFrom<Asset>('POINTS', 'CNY_FEN') }),
        { minLength: 0, maxLength: 3 },
      ),
    }),
    { numRuns: 60, seed: 42 },
  );
  // Appends race from four writers, so the feed order is not the order the test issued them in.
  const writers = [0, 1, 2, 3].map(async (writer) => {
    for (const [index, move] of moves.entries()) {
      if (index % 4 !== writer) continue;
      const postings = move.postings.filter((item) => item.from !== item.to).map((item) => posting(item.from, item.to, item.amount, item.asset));
      await store.appendToStream(move.stream, [
        {
          eventId: randomUUID(),
          type: postings.length > 0 ? 'ValueMoved' : 'Noted',
          schemaVersion: POSTINGS_SCHEMA_VERSION,
          data: { postings } as unknown as JsonObject,
          metadata: { occurredAt: new Date().toISOString() },
        },
      ]);
    }
  });
  await Promise.all(writers);
  await waitForFeedEnd(database.db);
  feed = (await store.readAll({ limit: 1_000 })).events;
  expect(feed).toHaveLength(60);
});

afterAll(async () => {
  await store.close();
  await database.drop();
});

/** The model: fold the first `count` events of the feed. */
function fold(count: number): Map<string, bigint> {
  const balances = new Map<string, bigint>();
  for (const event of feed.slice(0, count)) {
    for (const item of (event.data as unknown as { postings: Array<{ debit: string; credit: string; amount: number; asset: string }> }).postings) {
      balances.set(`${item.debit}|${item.asset}`, (balances.get(`${item.debit}|${item.asset}`) ?? 0n) - BigInt(item.amount));
      balances.set(`${item.credit}|${item.asset}`, (balances.get(`${item.credit}|${item.asset}`) ?? 0n) + BigInt(item.amount));
    }
  }
  return balances;
}

describe('balances as of a position', () => {
  it('equal the fold of the feed up to that event, at random positions', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 60 }), async (count) => {
        const report = await balancesAsOf(database.db, { position: feed[count - 1]!.globalPosition });
        expect(report.events).toBe(count);
        const model = fold(count);
        expect(new Map(report.accounts.map((line) => [`${line.account}|${line.asset}`, BigInt(line.balance)]))).toEqual(model);
        for (const asset of report.trialBalance) expect(asset.total).toBe('0');
      }),
      { numRuns: 25, seed: 7 },
    );
  });

  it('as of a time fold every event recorded by then, and the CLI says so', async () => {
    const middle = feed[29]!;
    const time = middle.recordedAt;
    const recordedBy = feed.filter((event) => event.recordedAt.getTime() <= time.getTime()).length;
    const report = await balancesAsOf(database.db, { time });
    expect(report.events).toBe(recordedBy);
    const { code, stdout } = await runCliOn(database, 'audit', 'balances', '--as-of', middle.globalPosition.toString(), '--account', 'member:m1:available');
    expect(code).toBe(0);
    const model = fold(30).get('member:m1:available|POINTS') ?? 0n;
    expect(stdout).toContain(`as of position ${middle.globalPosition}: 30 events; trial balance`);
    if (fold(30).has('member:m1:available|POINTS')) expect(stdout).toContain(`member:m1:available\tPOINTS\t${model}\n`);
    expect(await runCliOn(database, 'audit', 'balances', '--as-of', '999999999')).toMatchObject({ code: 2 });
  });
});
