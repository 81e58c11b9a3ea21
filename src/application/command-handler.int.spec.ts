import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../test/support/database';
import { DomainError } from '../domain/shared';
import type { ReadStreamOptions, RecordedEvent } from '../eventstore/event-store';
import { PostgresEventStore } from '../eventstore/postgres/postgres-event-store';
import { CommandHandler, type Aggregate } from './command-handler';

/**
 * The handler decides on its cached state without reading the stream first; the store's revision
 * check is what keeps that right. Two handlers over one store play two service instances.
 */

interface Added {
  type: 'Added';
  data: { n: number };
}
const CAP = 10;
const counter: Aggregate<number, Added> = { name: 'counter', initialState: 0, evolve: (total, event) => total + event.data.n };
const add =
  (n: number) =>
  (total: number): Added[] => {
    if (total + n > CAP) throw new DomainError('COUNTER.FULL', `${total} + ${n} is over ${CAP}`, 409);
    return [{ type: 'Added', data: { n } }];
  };
const meta = (commandId: string = randomUUID()) => ({ commandId, actor: { type: 'system', id: 'test' } });

/** The PostgreSQL store, counting the stream reads that reach it. */
class CountingStore extends PostgresEventStore {
  reads = 0;
  override readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    this.reads += 1;
    return super.readStream(streamId, options);
  }
}

let database: TestDatabase;
let store: CountingStore;

beforeAll(async () => {
  database = await createTestDatabase();
  store = new CountingStore(database.db, { listen: false, groupCommit: {} });
});
afterAll(async () => {
  await store.close();
  await database.drop();
});

describe('CommandHandler on a cached stream', () => {
  it('appends an accepted command without reading the stream first', async () => {
    const handler = new CommandHandler(store, counter);
    await handler.handle('counter-a', add(1), meta()); // the first command reads the (empty) stream
    const before = store.reads;
    const result = await handler.handle('counter-a', add(2), meta());
    expect(store.reads).toBe(before);
    expect(result).toMatchObject({ state: 3, revision: 1n, replayed: false });
    expect((await store.readStream('counter-a')).map((event) => event.data)).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('decides again on the stream when another instance appended since its cache was filled (the revision check fails)', async () => {
    const one = new CommandHandler(store, counter);
    const other = new CommandHandler(store, counter);
    await one.handle('counter-b', add(4), meta());
    await other.handle('counter-b', add(5), meta()); // `one` still holds 4 at revision 0
    // On its cache (4) `one` would accept 3; on the stream (9) it must refuse.
    await expect(one.handle('counter-b', add(3), meta())).rejects.toMatchObject({ code: 'COUNTER.FULL' });
    const accepted = await one.handle('counter-b', add(1), meta());
    expect(accepted).toMatchObject({ state: 10, revision: 2n });
    expect((await store.readStream('counter-b')).map((event) => event.data.n)).toEqual([4, 5, 1]);
  });

  it('answers an empty decision with the stream\'s state, not the cache\'s', async () => {
    const one = new CommandHandler(store, counter);
    const other = new CommandHandler(store, counter);
    await one.handle('counter-c', add(9), meta());
    await other.handle('counter-c', add(1), meta());
    expect(await one.handle('counter-c', () => [], meta())).toMatchObject({ state: 10, revision: 1n, events: [] });
  });

  it('reads the stream before refusing: accepts what its stale cache would have refused', async () => {
    const one = new CommandHandler(store, counter);
    const other = new CommandHandler(store, counter);
    await one.handle('counter-d', add(10), meta());
    await other.handle('counter-d', () => [{ type: 'Added', data: { n: -6 } }], meta());
    const result = await one.handle('counter-d', add(5), meta());
    expect(result).toMatchObject({ state: 9, revision: 2n, replayed: false });
  });

  it('answers a command another instance already stored from the stream, without appending it again', async () => {
    const one = new CommandHandler(store, counter);
    const other = new CommandHandler(store, counter);
    await one.handle('counter-e', add(1), meta());
    const commandId = randomUUID();
    const original = await other.handle('counter-e', add(2), meta(commandId));
    const retried = await one.handle('counter-e', add(2), meta(commandId));
    expect(retried.replayed).toBe(true);
    expect(retried.events.map((event) => event.eventId)).toEqual(original.events.map((event) => event.eventId));
    expect((await store.readStream('counter-e')).map((event) => event.data.n)).toEqual([1, 2]);
  });
});
