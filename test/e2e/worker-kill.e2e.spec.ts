import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { UnionLedger } from '../../src/composition-root';
import { loadConfig } from '../../src/config/config';
import { startSimulators, type Simulators } from '../../src/infra/simulators/simulators';
import { QueueSet } from '../../src/workers/queue-set';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { activateMembers, exactlyOnceFigures, recordedOutcomes } from '../support/insurance';
import { testTimeout, waitFor } from '../support/wait-for';

/**
 * kill -9 during a run: `union-ledger worker` (the built CLI) in a child process carries out 200
 * insurance grants against the insurer simulator (in this process, so its count survives), which
 * also loses answers and holds calls. The worker is killed with SIGKILL at random points, five
 * times: right after it started (the relay may be between Redis' acknowledgement and its
 * checkpoint) or once the insurer has applied a random number more enrolments (jobs in flight,
 * some applied and not yet recorded). Then a last worker finishes the run and stops on SIGTERM.
 * Every grant must end applied once at the insurer and recorded once in the ledger: 0 lost,
 * 0 duplicated.
 */

const GRANTS = 200;
const KILLS = 5;
/** Short locks so that the jobs a killed worker held are found stalled and run again within seconds. */
const LOCK_MS = 1_500;
const bin = path.join(__dirname, '..', '..', 'bin', 'union-ledger.js');
const compiled = path.join(__dirname, '..', '..', 'dist', 'src', 'cli', 'main.js');

interface WorkerProcess {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWorker(env: NodeJS.ProcessEnv): WorkerProcess {
  const child = spawn(process.execPath, [bin, 'worker'], { env });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => output, exited };
}

let database: TestDatabase;
let simulators: Simulators;
let ledger: UnionLedger;
let redis: Redis;
let dataDir: string;
const prefix = `ul-test-kill-${randomBytes(4).toString('hex')}:`;
const keys = { masterKey: randomBytes(32), hmacKey: randomBytes(32) };

beforeAll(async () => {
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run the tests with npm test (it builds first)`);
  database = await createTestDatabase();
  simulators = await startSimulators({ insurerFaults: { latencyMs: 40, lostAnswerRate: 0.1, timeoutRate: 0.03, errorRate: 0.03 } });
  ledger = new UnionLedger({ config: loadConfig({}), db: database.db, piiKeys: keys, listen: false });
  redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'union-ledger-kill-'));
}, testTimeout());
afterAll(async () => {
  await ledger?.close();
  await simulators?.close();
  const stale = await redis?.keys(`${prefix}*`);
  if (stale && stale.length > 0) await redis.del(...stale);
  await redis?.quit();
  await database?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it(
  `loses and duplicates nothing when the worker is killed -9 ${KILLS} times during ${GRANTS} grants`,
  async () => {
    const grantIds = await activateMembers(ledger, GRANTS);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: database.url,
      REDIS_URL: process.env.TEST_REDIS_URL!,
      REDIS_KEY_PREFIX: prefix,
      DATA_DIR: dataDir,
      PII_MASTER_KEY: keys.masterKey.toString('base64'),
      PII_HMAC_KEY: keys.hmacKey.toString('base64'),
      INSURER_API_URL: simulators.url,
      INSURER_API_KEY: simulators.settings.insurerApiKey,
      INSURER_TIMEOUT_MS: '300',
      WORKER_LOCK_MS: String(LOCK_MS),
      WORKER_CONCURRENCY: '16',
    };
    const plan: string[] = [];
    for (let kill = 1; kill <= KILLS; kill += 1) {
      const worker = startWorker(env);
      try {
        await waitFor(() => worker.output().includes('worker started') || worker.child.exitCode !== null, { what: `worker ${kill} to start`, seen: worker.output });
        expect(worker.output()).toContain('worker started');
        const appliedAtStart = simulators.insurer.stats().applied;
        if (kill % 2 === 1) {
          // Early: while the relay adds its first batches and the workers take their first jobs.
          const delayMs = Math.floor(Math.random() * 400);
          plan.push(`kill ${kill}: ${delayMs} ms after start`);
          // A pause chosen at random is the point of this test: where the kill lands.
          await new Promise((resolve) => setTimeout(resolve, delayMs));
        } else {
          // In the middle of the run: after a random number of further enrolments.
          const more = 10 + Math.floor(Math.random() * 40);
          const target = Math.min(GRANTS, appliedAtStart + more);
          plan.push(`kill ${kill}: after the insurer applied ${target} (${more} more)`);
          await waitFor(() => simulators.insurer.stats().applied >= target, { what: `the insurer to apply ${target} enrolments`, seen: worker.output });
        }
      } finally {
        worker.child.kill('SIGKILL');
      }
      expect((await worker.exited).signal).toBe('SIGKILL');
    }

    // The last worker finishes the run, then stops gracefully.
    const last = startWorker(env);
    try {
      // The killed workers may have finished every grant already; SIGTERM before the worker has
      // started (and installed its handler) would kill it instead of stopping it.
      await waitFor(() => last.output().includes('worker started') || last.child.exitCode !== null, { what: 'the last worker to start', seen: last.output });
      await waitFor(async () => (await recordedOutcomes(ledger.store)).length >= GRANTS, {
        what: `${GRANTS} insurance outcomes in the log`,
        intervalMs: 200,
        seen: () => `${JSON.stringify(simulators.insurer.stats())}\n${last.output()}`,
      });
    } finally {
      last.child.kill('SIGTERM');
    }
    const exit = await last.exited;
    expect({ exit, stopped: last.output().includes('stopped') }).toEqual({ exit: { code: 0, signal: null }, stopped: true });

    const figures = await exactlyOnceFigures(ledger.store, simulators, grantIds);
    const stats = simulators.insurer.stats();
    const queues = new QueueSet(redis, prefix);
    const failed = await queues.get('insurance').getFailedCount();
    await queues.close();
    process.stdout.write(
      `kill -9 run: ${JSON.stringify({ ...figures, kills: KILLS, failedJobs: failed, injected: stats.injected, enrolRequests: stats.enrolRequests, replayedEnrolments: stats.replayedEnrolments })}\n` +
        `  ${plan.join('\n  ')}\n`,
    );
    expect({ ...figures, failedJobs: failed }).toEqual({ grants: GRANTS, applied: GRANTS, lost: 0, duplicated: 0, mismatched: 0, failedJobs: 0 });
  },
  testTimeout(3),
);
