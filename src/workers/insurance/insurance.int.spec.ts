import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { UnionLedger } from '../../composition-root';
import { loadConfig } from '../../config/config';
import { InsurerHttpClient } from '../../infra/insurer-http';
import { startSimulators, type Simulators } from '../../infra/simulators/simulators';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { activateMembers, exactlyOnceFigures, recordedOutcomes } from '../../../test/support/insurance';
import { testTimeout, waitFor } from '../../../test/support/wait-for';
import { QueueSet } from '../queue-set';
import { startWorkerService, type WorkerService } from '../worker-service';

/**
 * Exactly-once insurance grants through an insurer that misbehaves: 200 members activate, and
 * the relay and the insurance worker (in this process) carry out their grants while the
 * simulator answers some calls late (timeouts), with errors, or applies them and drops the answer.
 * Every grant ends applied once at the insurer (its own count) and recorded once in the ledger,
 * with the policy number the insurer issued.
 */

const GRANTS = 200;

let database: TestDatabase;
let redis: Redis;
let simulators: Simulators;
let ledger: UnionLedger;
let queues: QueueSet;
let workers: WorkerService | undefined;
const prefix = `ul-test-ins-${randomBytes(4).toString('hex')}:`;
const workerLog: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
  simulators = await startSimulators();
  ledger = new UnionLedger({
    config: loadConfig({ REDIS_KEY_PREFIX: prefix }),
    db: database.db,
    piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) },
    // A short deadline: a held call is an unknown outcome after 300 ms.
    insurer: new InsurerHttpClient({ baseUrl: simulators.url, apiKey: simulators.settings.insurerApiKey, timeoutMs: 300 }),
  });
  queues = new QueueSet(redis, prefix);
});
afterAll(async () => {
  await workers?.close();
  await queues?.close();
  await ledger?.close();
  await simulators?.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis?.quit();
  await database?.drop();
});

it(
  `applies ${GRANTS} grants once at the insurer and records each once, through timeouts, errors and lost answers`,
  async () => {
    const grantIds = await activateMembers(ledger, GRANTS);
    simulators.insurer.setFaults({ latencyMs: 20, errorRate: 0.05, timeoutRate: 0.05, lostAnswerRate: 0.15 });
    const log = { log: (line: string) => workerLog.push(line), warn: (line: string) => workerLog.push(line), error: (line: string) => workerLog.push(line) };
    workers = await startWorkerService({ ledger, db: database.db, redis, redisKeyPrefix: prefix, queues, settings: { concurrency: 16, lockMs: 10_000 }, log, schedules: false });

    await waitFor(async () => (await recordedOutcomes(ledger.store)).length >= GRANTS, {
      what: `${GRANTS} insurance outcomes in the log`,
      intervalMs: 200,
      seen: () => `${workerLog.length} worker log lines; simulator ${JSON.stringify(simulators.insurer.stats())}`,
    });
    const figures = await exactlyOnceFigures(ledger.store, simulators, grantIds);
    const stats = simulators.insurer.stats();
    process.stdout.write(`insurance under faults: ${JSON.stringify({ ...figures, injected: stats.injected, enrolRequests: stats.enrolRequests, statusRequests: stats.statusRequests })}\n`);
    expect(figures).toEqual({ grants: GRANTS, applied: GRANTS, lost: 0, duplicated: 0, mismatched: 0 });
    expect((await recordedOutcomes(ledger.store)).every((outcome) => outcome.type === 'InsuranceGranted')).toBe(true);
    // The faults did happen: answers were lost after the insurer applied them, and calls went unanswered.
    expect(stats.injected.lostAnswers).toBeGreaterThan(0);
    expect(stats.injected.timeouts).toBeGreaterThan(0);
    expect(stats.injected.errors).toBeGreaterThan(0);
    // Every unknown outcome was resolved by a status inquiry before anything was sent again: the
    // insurer never had to absorb a second enrolment of a request it had applied.
    expect(stats.statusRequests).toBeGreaterThanOrEqual(stats.injected.lostAnswers);
    expect(stats.replayedEnrolments).toBe(0);
    expect(await queues.get('insurance').getFailedCount()).toBe(0);
  },
  testTimeout(),
);
