import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { createEventStore } from '../../composition-root';
import { loadConfig } from '../../config/config';
import type { EventStore } from '../../eventstore/event-store';
import { loadCheckpoint } from '../../projections';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { startPrivateRedis, type PrivateRedis } from '../../../test/fault/private-redis';
import { waitFor } from '../../../test/support/wait-for';
import { QueueSet } from '../queue-set';
import { RELAY_CHECKPOINT, redisRunId, replayOutstanding, startRelay, watchRedisRestarts, type RedisRestartWatch } from '.';

/**
 * Regression (found by the fault suite, issue 9): a Redis restarted empty under running workers
 * lost the jobs it held until some worker process started again, as only a start replayed. Now a
 * running worker notices that Redis came back as another server (its run_id) and replays then;
 * a reconnect to the same server replays nothing. On a redis-server of this test's own, killed -9
 * and started again on the same port: never the shared Redis.
 */

const GRANTS = 25;

let database: TestDatabase;
let store: EventStore;
let server: PrivateRedis;
let redis: Redis;
let queues: QueueSet;
let watch: RedisRestartWatch | undefined;
const lines: string[] = [];
let replays = 0;

beforeAll(async () => {
  database = await createTestDatabase();
  store = createEventStore(loadConfig({}), database.db);
  server = await startPrivateRedis();
  redis = new Redis(server.url, { maxRetriesPerRequest: null });
  queues = new QueueSet(redis, `ul-test-restarts-${randomBytes(4).toString('hex')}:`);
});
afterAll(async () => {
  watch?.close();
  await queues?.close();
  redis?.disconnect();
  await server?.stop();
  await store?.close();
  await database?.drop();
});

it('replays what a Redis restarted empty lost, without a worker start, and nothing on a reconnect to the same server', async () => {
  let last = -1n;
  for (let index = 0; index < GRANTS; index += 1) {
    const memberId = `m${index}`;
    const result = await store.appendToStream(`member-${memberId}`, [
      { type: 'InsuranceGrantRequested', data: { memberId, grantId: `${memberId}:activation-insurance`, product: 'accident-mutual-aid', termYears: 1 }, metadata: { occurredAt: new Date().toISOString() } },
    ]);
    last = result.events[0]!.globalPosition;
  }
  // The relay queues them and moves its checkpoint past them: from now on only the effect log knows them.
  const relay = startRelay({ store, db: database.db, queues });
  await waitFor(async () => (await loadCheckpoint(database.db, RELAY_CHECKPOINT)) >= last, { what: 'the relay to pass the requests' });
  await relay.stop();
  const waiting = async (): Promise<number> => (await queues.get('insurance').getJobCounts('waiting')).waiting ?? 0;
  expect(await waiting()).toBe(GRANTS);

  watch = await watchRedisRestarts({
    redis,
    replay: async () => {
      replays += 1;
      return replayOutstanding({ db: database.db, queues });
    },
    log: { log: (text) => lines.push(text), error: (text) => lines.push(text) },
  });
  expect(watch.initialRunId).toMatch(/^\w{40}$/);

  // A reconnect to the same server: the run_id is the same, nothing is replayed.
  redis.disconnect(true);
  await waitFor(() => redis.status === 'ready', { what: 'the client to reconnect' });
  // The watch's INFO was queued on the connection before this one, so it has been answered and judged.
  expect(await redis.ping()).toBe('PONG');
  expect(await redisRunId(redis)).toBe(watch.initialRunId);
  expect(replays).toBe(0);

  // Killed -9 and started again empty: the jobs come back by themselves.
  await server.restartEmpty();
  await waitFor(async () => (await waiting()) === GRANTS, { what: `the ${GRANTS} jobs to be re-added`, seen: () => lines.join('\n') });
  expect(await redisRunId(redis)).not.toBe(watch.initialRunId);
  expect(replays).toBe(1);
  expect(lines).toContain(`relay: Redis came back as another server; ${GRANTS} request(s) without a recorded outcome, ${GRANTS} of them re-added`);
});
