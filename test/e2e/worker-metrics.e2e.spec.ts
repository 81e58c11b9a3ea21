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
import { activateMembers, recordedOutcomes } from '../support/insurance';
import { testNationalId } from '../support/ledger-app';
import { testTimeout, waitFor } from '../support/wait-for';

/**
 * `union-ledger worker` (the built CLI, in a child process) with WORKER_METRICS_PORT: its own
 * GET /metrics for METRICS_TOKEN only, with job outcomes, durations, queue waits, failures by
 * queue and Node's process figures; and its log, pino JSON lines without personal data.
 */

const bin = path.join(__dirname, '..', '..', 'bin', 'union-ledger.js');
const compiled = path.join(__dirname, '..', '..', 'dist', 'src', 'cli', 'main.js');
const METRICS_TOKEN = randomBytes(24).toString('hex');
const GRANTS = 3;

/** The value of one series, or undefined when it is absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    if (wanted.every((pair) => labelText.split(',').includes(pair))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

let database: TestDatabase;
let simulators: Simulators;
let ledger: UnionLedger;
let redis: Redis;
let dataDir: string;
let child: ChildProcessWithoutNullStreams | undefined;
const prefix = `ul-test-wmetrics-${randomBytes(4).toString('hex')}:`;
const keys = { masterKey: randomBytes(32), hmacKey: randomBytes(32) };

beforeAll(async () => {
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run the tests with npm test (it builds first)`);
  database = await createTestDatabase();
  simulators = await startSimulators();
  ledger = new UnionLedger({ config: loadConfig({}), db: database.db, piiKeys: keys, listen: false });
  redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'union-ledger-wmetrics-'));
}, testTimeout());
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await ledger?.close();
  await simulators?.close();
  const stale = await redis?.keys(`${prefix}*`);
  if (stale && stale.length > 0) await redis.del(...stale);
  await redis?.quit();
  await database?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it(
  'serves the worker process metrics to METRICS_TOKEN only, and logs JSON lines without personal data',
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
      WORKER_METRICS_PORT: '0',
      METRICS_TOKEN,
      LOG_LEVEL: 'info',
    };
    child = spawn(process.execPath, [bin, 'worker'], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child!.once('exit', (code, signal) => resolve({ code, signal })));
    const output = () => `${stdout}\n--- stderr ---\n${stderr}`;

    const listening = /metrics listening on (http:\/\/[^ ]+\/metrics)/;
    await waitFor(() => listening.test(stdout) || child!.exitCode !== null, { what: 'the worker to serve its metrics', seen: output });
    const url = listening.exec(stdout)![1]!;
    const scrape = async (token?: string) => {
      const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
      return { status: response.status, text: await response.text() };
    };

    // Only METRICS_TOKEN: nothing without it, with another one, or anywhere but /metrics.
    expect((await scrape()).status).toBe(401);
    expect((await scrape(`${METRICS_TOKEN.slice(0, -1)}x`)).status).toBe(401);
    expect((await fetch(url.replace('/metrics', '/'), { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(404);

    // The grants the relay queued are carried out; one job with no request fails for good.
    await waitFor(async () => (await recordedOutcomes(ledger.store)).length >= GRANTS, { what: `${GRANTS} insurance outcomes`, seen: output });
    const queues = new QueueSet(redis, prefix);
    await queues.get('insurance').add('probe', {} as never, { jobId: 'worker-metrics-broken' });
    await waitFor(async () => sample((await scrape(METRICS_TOKEN)).text, 'ul_jobs_dead_lettered_total', { queue: 'insurance' }) === 1, {
      what: 'the broken job to be counted as a dead letter',
      seen: output,
    });
    await queues.close();

    const { status, text } = await scrape(METRICS_TOKEN);
    expect(status).toBe(200);
    const figures = {
      completed: sample(text, 'ul_jobs_finished_total', { queue: 'insurance', outcome: 'completed' }),
      failed: sample(text, 'ul_jobs_finished_total', { queue: 'insurance', outcome: 'failed' }),
      completedDurations: sample(text, 'ul_job_duration_seconds_count', { queue: 'insurance', outcome: 'completed' }),
      waits: sample(text, 'ul_job_wait_seconds_count', { queue: 'insurance' }),
      deadLetters: sample(text, 'ul_jobs_dead_lettered_total', { queue: 'insurance' }),
      failedInQueue: sample(text, 'ul_queue_jobs', { queue: 'insurance', state: 'failed' }),
    };
    // At least once: a grant whose answer the simulator delays may run twice; each attempt counts.
    expect(figures.completed).toBeGreaterThanOrEqual(GRANTS);
    expect(figures).toEqual({ ...figures, failed: 1, completedDurations: figures.completed, waits: figures.completed! + 1, deadLetters: 1, failedInQueue: 1 });
    expect(sample(text, 'ul_job_wait_seconds_bucket', { queue: 'insurance', le: '+Inf' })).toBe(figures.waits);
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');

    // A second worker asked for the same port stops before it takes any job, and says why.
    const second = spawn(process.execPath, [bin, 'worker'], { env: { ...env, WORKER_METRICS_PORT: new URL(url).port } });
    let secondOutput = '';
    second.stdout.on('data', (chunk: Buffer) => (secondOutput += chunk.toString()));
    second.stderr.on('data', (chunk: Buffer) => (secondOutput += chunk.toString()));
    const secondExit = await new Promise<number | null>((resolve) => second.once('exit', (code) => resolve(code)));
    expect({ code: secondExit, inUse: secondOutput.includes('EADDRINUSE'), started: secondOutput.includes('worker started') }).toEqual({ code: 2, inUse: true, started: false });

    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });

    // Its log: pino JSON on standard output, one object a line, none carrying personal data.
    const lines = stdout.split('\n').filter((line) => line.trim() !== '');
    const parsed = lines.map((line) => JSON.parse(line) as { process?: string; level?: string; msg?: string });
    expect(parsed.every((line) => line.process === 'worker' && typeof line.level === 'string')).toBe(true);
    expect(parsed.map((line) => line.msg)).toEqual(expect.arrayContaining(['worker started', 'stopped']));
    expect(parsed.some((line) => line.level === 'error' && /worker-metrics-broken.*dead letter/.test(line.msg ?? ''))).toBe(true);
    for (let index = 0; index < GRANTS; index += 1) {
      expect(output()).not.toContain(testNationalId(5_000 + index));
      expect(output()).not.toContain(`1370000${String(index).padStart(4, '0')}`);
    }
    expect(output()).not.toContain(METRICS_TOKEN);
    expect(grantIds).toHaveLength(GRANTS);
  },
  testTimeout(3),
);
