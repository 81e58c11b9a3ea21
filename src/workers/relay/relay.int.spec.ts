import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { outstandingCounts } from '../../application/jobs';
import { createEventStore } from '../../composition-root';
import { loadConfig } from '../../config/config';
import { START, type EventStore } from '../../eventstore/event-store';
import { loadCheckpoint } from '../../projections';
import { runCliOn } from '../../../test/support/cli';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { waitFor } from '../../../test/support/wait-for';
import { QueueSet } from '../queue-set';
import { checkEvictionPolicy } from '../redis-policy';
import { RELAY_CHECKPOINT, replayOutstanding, startRelay } from '.';

/**
 * The relay on real PostgreSQL and Redis: one job per requesting event, whatever crashes between
 * Redis acknowledging the adds and the checkpoint moving; and after Redis lost its data, the
 * replay re-adds the requests that have no recorded outcome, and only those.
 */

let redis: Redis;
beforeAll(async () => {
  redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await redis.quit();
});

interface Setup {
  database: TestDatabase;
  store: EventStore;
  queues: QueueSet;
  prefix: string;
  close(): Promise<void>;
}

async function setUp(): Promise<Setup> {
  const database = await createTestDatabase();
  const store = createEventStore(loadConfig({}), database.db);
  const prefix = `ul-test-relay-${randomBytes(4).toString('hex')}:`;
  const queues = new QueueSet(redis, prefix);
  return {
    database,
    store,
    queues,
    prefix,
    async close() {
      await queues.close();
      await store.close();
      await flushPrefix(prefix);
      await database.drop();
    },
  };
}

/** What a Redis that lost its data looks like to this ledger: none of its keys left. */
async function flushPrefix(prefix: string): Promise<void> {
  let cursor = '0';
  for (let round = 0; round < 10_000; round += 1) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
    if (cursor === '0') return;
  }
}

/** Appends one InsuranceGrantRequested per member; returns the event ids in order and the last position. */
async function requestGrants(store: EventStore, count: number): Promise<{ eventIds: string[]; last: bigint }> {
  const eventIds: string[] = [];
  let last = START;
  for (let index = 0; index < count; index += 1) {
    const memberId = `m${index}`;
    const result = await store.appendToStream(`member-${memberId}`, [
      {
        type: 'InsuranceGrantRequested',
        data: { memberId, grantId: `${memberId}:activation-insurance`, product: 'accident-mutual-aid', termYears: 1 },
        metadata: { occurredAt: new Date().toISOString() },
      },
    ]);
    eventIds.push(result.events[0]!.eventId);
    last = result.lastPosition;
  }
  return { eventIds, last };
}

async function grant(store: EventStore, index: number): Promise<bigint> {
  const memberId = `m${index}`;
  const result = await store.appendToStream(`member-${memberId}`, [
    {
      type: 'InsuranceGranted',
      data: { memberId, grantId: `${memberId}:activation-insurance`, policyNumber: `P-${index}`, product: 'accident-mutual-aid', termYears: 1, validFrom: '2026-01-01', validUntil: '2026-12-31' },
      metadata: { occurredAt: new Date().toISOString() },
    },
  ]);
  return result.lastPosition;
}

/** The ids of every job the queue holds, in any state. */
async function jobIds(queues: QueueSet): Promise<string[]> {
  const jobs = await queues.get('insurance').getJobs(['waiting', 'active', 'delayed', 'prioritized', 'paused', 'completed', 'failed'], 0, -1);
  return jobs.map((job) => job.id!).sort();
}

const relayReached = (setup: Setup, position: bigint) => async () => (await loadCheckpoint(setup.database.db, RELAY_CHECKPOINT)) >= position;

describe('the relay', () => {
  it('adds exactly one job per requesting event across a crash between the adds and the checkpoint', async () => {
    const setup = await setUp();
    try {
      const { eventIds, last } = await requestGrants(setup.store, 100);
      let crashes = 0;
      // Dies every time right after Redis acknowledged its first batch (and before the checkpoint moved).
      const crashing = startRelay({
        store: setup.store,
        db: setup.database.db,
        queues: setup.queues,
        batchSize: 40,
        beforeCheckpoint: async () => {
          crashes += 1;
          throw new Error('killed before the checkpoint');
        },
      });
      await waitFor(() => crashes >= 3, { what: 'the relay to add its first batch three times' });
      await crashing.stop();
      expect(await loadCheckpoint(setup.database.db, RELAY_CHECKPOINT)).toBe(START);
      // Three adds of the same batch: one job per event.
      expect(await jobIds(setup.queues)).toEqual([...eventIds.slice(0, 40)].sort());

      const restarted = startRelay({ store: setup.store, db: setup.database.db, queues: setup.queues, batchSize: 40 });
      await waitFor(relayReached(setup, last), { what: 'the restarted relay to pass every request' });
      await restarted.stop();

      expect(await jobIds(setup.queues)).toEqual([...eventIds].sort());
      const job = await setup.queues.get('insurance').getJob(eventIds[7]!);
      // Ids only, every limit explicit.
      expect(job!.data).toEqual({ eventId: eventIds[7], streamId: 'member-m7', revision: '0' });
      expect(job!.name).toBe('InsuranceGrantRequested');
      expect(job!.opts).toMatchObject({ attempts: 8, backoff: { type: 'exponential', delay: 1_000 }, jobId: eventIds[7] });
      expect(await outstandingCounts(setup.database.db)).toEqual({ insurance: 100 });
    } finally {
      await setup.close();
    }
  });

  it('after Redis lost its data, re-adds the requests without a recorded outcome, and only those', async () => {
    const setup = await setUp();
    try {
      const { eventIds } = await requestGrants(setup.store, 60);
      let last = START;
      for (let index = 0; index < 60; index += 2) last = await grant(setup.store, index);
      const outcomeLess = eventIds.filter((_id, index) => index % 2 === 1).sort();

      const relay = startRelay({ store: setup.store, db: setup.database.db, queues: setup.queues });
      await waitFor(relayReached(setup, last), { what: 'the relay to pass every request and outcome' });
      await relay.stop();
      expect(await jobIds(setup.queues)).toEqual([...eventIds].sort());
      expect(await outstandingCounts(setup.database.db)).toEqual({ insurance: 30 });

      await flushPrefix(setup.prefix);
      expect(await jobIds(setup.queues)).toEqual([]);
      const replayed = await replayOutstanding({ db: setup.database.db, queues: setup.queues, pageSize: 7 });
      expect(replayed).toMatchObject({ outstanding: 30, readded: 30, complete: true });
      expect(await jobIds(setup.queues)).toEqual(outcomeLess);

      // Redis holds them now: a second replay adds nothing.
      expect(await replayOutstanding({ db: setup.database.db, queues: setup.queues })).toMatchObject({ outstanding: 30, readded: 0, complete: true });

      // A replay that runs out of pages says where to continue, and continuing finishes it.
      await flushPrefix(setup.prefix);
      const partial = await replayOutstanding({ db: setup.database.db, queues: setup.queues, pageSize: 10, maxPages: 2 });
      expect(partial).toMatchObject({ outstanding: 20, readded: 20, complete: false });
      const rest = await replayOutstanding({ db: setup.database.db, queues: setup.queues, pageSize: 10, afterPosition: partial.lastPosition });
      expect(rest).toMatchObject({ outstanding: 10, readded: 10, complete: true });
      expect(await jobIds(setup.queues)).toEqual(outcomeLess);

      // The operators' command does the same.
      await flushPrefix(setup.prefix);
      const saved = { REDIS_URL: process.env.REDIS_URL, REDIS_KEY_PREFIX: process.env.REDIS_KEY_PREFIX };
      process.env.REDIS_URL = process.env.TEST_REDIS_URL;
      process.env.REDIS_KEY_PREFIX = setup.prefix;
      try {
        const { code, stdout } = await runCliOn(setup.database, 'relay', 'replay');
        expect({ code, stdout }).toEqual({ code: 0, stdout: '30 request(s) without a recorded outcome; 30 re-added (Redis no longer held them)\n' });
      } finally {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      }
      expect(await jobIds(setup.queues)).toEqual(outcomeLess);
    } finally {
      await setup.close();
    }
  });
});

describe('the Redis eviction-policy check', () => {
  it('passes on a Redis with maxmemory-policy noeviction (the test Redis)', async () => {
    expect(await checkEvictionPolicy(redis)).toMatchObject({ policy: 'noeviction', ok: true });
  });

  it('warns loudly about another policy, reading it from INFO when CONFIG is refused, and says so when neither answers', async () => {
    // A managed Redis: CONFIG is renamed away, INFO still answers.
    const refused = new Error("ERR unknown command 'CONFIG'");
    const managed = { call: () => Promise.reject(refused), info: () => Promise.resolve('# Memory\r\nmaxmemory_policy:allkeys-lru\r\n') } as unknown as Redis;
    const evicting = await checkEvictionPolicy(managed);
    expect(evicting).toMatchObject({ policy: 'allkeys-lru', ok: false });
    expect(evicting.message).toContain("WARNING: Redis maxmemory-policy is 'allkeys-lru', not 'noeviction'");
    const silent = { call: () => Promise.reject(refused), info: () => Promise.reject(new Error('NOPERM')) } as unknown as Redis;
    expect(await checkEvictionPolicy(silent)).toMatchObject({ policy: null, ok: false, message: expect.stringContaining('could not read Redis maxmemory-policy') });
  });
});
