import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { UnionLedger } from '../../src/composition-root';
import { loadConfig } from '../../src/config/config';
import { closeDatabase, connectDatabase, type Database } from '../../src/infra/database';
import { migrate } from '../../src/infra/migrations';
import { MIGRATIONS } from '../../src/composition-root';
import { startPaymentGatewaySimulator, type PaymentGatewaySimulator } from '../../src/infra/simulators/payment-gateway-simulator';
import { startSimulators, type Simulators } from '../../src/infra/simulators/simulators';
import { QueueSet } from '../../src/workers/queue-set';
import { EFFECT_EVENTS, EFFECT_OUTCOMES, type QueueKey } from '../../src/workers/queues';
import { RELAY_CHECKPOINT } from '../../src/workers/relay';
import { activateMembers } from '../support/insurance';
import { testNationalId } from '../support/ledger-app';
import { openEconomy, settleDays, testBankCard, testClock } from '../support/payout-fixtures';
import { waitFor } from '../support/wait-for';
import { startCuttableProxy, type CuttableProxy } from './cuttable-proxy';
import { startPrivateRedis, type PrivateRedis } from './private-redis';

/**
 * The workers' fault scenario (issue 9), one driver for the bounded e2e spec
 * (test/e2e/worker-faults.e2e.spec.ts) and the full run (`npm run fault:workers`,
 * test/fault/fault-workers.ts).
 *
 * What runs where:
 *   - this process: the insurer and payment gateway simulators (their counts survive every kill),
 *     a ledger that creates the requests (members activated: one insurance grant each; merchant
 *     days settled: one payout each), the Redis of the run (a redis-server of its own on a free
 *     port, never the shared one) and a TCP proxy in front of PostgreSQL;
 *   - `union-ledger worker` (the built CLI: the relay and both workers) in `workers` child
 *     processes, reaching PostgreSQL through the proxy.
 * While the requests are being created and carried out, one worker process at a time is killed
 * with SIGKILL at a random moment and a new one started in its place: early (0-1.5 s after it was
 * spawned: during migrations, the replay, the relay's first batches) or after the simulators
 * applied a random number of further effects (jobs in flight, some applied and not yet recorded).
 * Once, a third of the way through the kills, the Redis is killed -9 and started again empty (the
 * jobs, delays, locks and schedulers are gone; the effect log in PostgreSQL is what brings them
 * back). Once, two thirds of the way, every worker connection to PostgreSQL is cut and new ones
 * refused for a while. The simulators drop answers, hold calls past the client's timeout and fail
 * calls throughout. Then the workers run until every request has an outcome or is a dead letter,
 * and stop on SIGTERM.
 *
 * The checks (ScenarioReport): each request id applied at most once at its simulator and nothing
 * applied that nobody requested; each request with exactly one outcome event or a dead letter
 * with its reason; outcome counts in the log equal to the simulators' counts; the day's
 * reconciliation (`union-ledger reconcile`) without mismatch; `union-ledger verify` passing.
 * Correctness never waits on a time: every wait is for a condition. The only timed things are the
 * faults themselves (where a kill lands, how long a cut lasts), drawn from a seeded generator.
 */

export interface ScenarioOptions {
  /** A PostgreSQL URL allowed to CREATE DATABASE; the run works in a database of its own. */
  adminUrl: string;
  /** Members activated (each one grant); the payouts fixture's members add a few more. */
  grants: number;
  /** Payouts: merchants × 10 settled days, so a multiple of 10. */
  payouts: number;
  /** SIGKILLs of worker processes. */
  kills: number;
  /** Worker processes running at once (default 2). */
  workers?: number;
  /** Seed of the kill plan (default random; printed so a run can be repeated). */
  seed?: number;
  /** How long the drain after the last fault may take before the run fails (default 240 s). */
  drainTimeoutMs?: number;
  log?(line: string): void;
  /**
   * Restart Redis empty a second time after the last kill, with no worker started after it
   * (default true): the running workers must bring back what it lost by themselves.
   */
  redisRestartAfterKills?: boolean;
  /** Keep the database (its name is in the report) for a look afterwards. */
  keepDatabase?: boolean;
}

export interface QueueFigures {
  /** Requesting events in the log. */
  requests: number;
  /** Outcome events by type. */
  outcomes: Record<string, number>;
  /** Requests with one outcome. */
  resolved: number;
  /** Requests with more than one outcome event (a duplicate record). */
  duplicateOutcomes: number;
  /** Requests with neither an outcome nor a dead letter. */
  lost: number;
  /** Requests in the dead-letter state (failed for good) without an outcome. */
  deadLetters: Array<{ key: string; reason: string }>;
  /** Effects the simulator applied (money moved, enrolment made) and refused (declined, refused). */
  simulatorApplied: number;
  simulatorRefused: number;
  /** Request ids the simulator applied more than once. */
  simulatorDuplicates: number;
  /** Effects the simulator applied under an id nobody requested. */
  simulatorStrays: number;
  /** Applied or refused at the simulator with no outcome in the log and no dead letter. */
  appliedNotRecorded: number;
  /** Outcomes recorded that disagree with the simulator (a success it has no record of, a failure it applied). */
  recordedNotApplied: number;
}

export interface ScenarioReport {
  seed: number;
  database: string;
  insurance: QueueFigures;
  payouts: QueueFigures;
  kills: number;
  /** Worker processes that exited by themselves (restarted at once). */
  selfExits: Array<{ code: number | null; signal: string | null; tail: string }>;
  redisRestarts: number;
  /** Requests open (no outcome, no dead letter) when Redis was restarted after the last kill (-1: not done). */
  outstandingAtLastRestart: number;
  /** Jobs the workers re-added after Redis lost them (their replay log lines, summed). */
  replayedJobs: number;
  /** PostgreSQL cuts, with the connections each dropped and the new ones refused meanwhile. */
  postgresCuts: number;
  postgresConnectionsDropped: number;
  postgresConnectionsRefused: number;
  workerStarts: number;
  faultsInjected: { insurer: { errors: number; timeouts: number; lostAnswers: number }; gateway: { errors: number; timeouts: number; lostAnswers: number; inquiryErrors: number } };
  reconciliation: { exitCode: number; mismatches: number; statementLines: number; ledgerPayouts: number; output: string };
  verify: { exitCode: number; output: string };
  /** The last worker processes stopped cleanly on SIGTERM (exit 0 after "stopped"); their exits. */
  cleanStops: boolean;
  stops: Array<{ code: number | null; signal: string | null }>;
  durationMs: number;
  phases: Record<string, number>;
  plan: string[];
}

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'union-ledger.js');
const COMPILED = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
/** The day the gateway pays everything on (its clock is fixed there) and the day reconciled. */
const PAY_DAY = '2026-09-11';
const DAYS = ['2026-09-01', '2026-09-02', '2026-09-03', '2026-09-04', '2026-09-05', '2026-09-06', '2026-09-07', '2026-09-08', '2026-09-09', '2026-09-10'];
/** shop-0's card is closed at the bank: its payouts are declined (PayoutFailed). */
const CLOSED_CARD = testBankCard(999_001);
/** Every 50th grant is refused by the insurer (InsuranceGrantFailed). */
const REFUSE_EVERY = 50;
/** Short locks, so that the jobs a killed worker held come back within seconds. */
const LOCK_MS = 1_500;
const INSURER_TIMEOUT_MS = 400;
const GATEWAY_TIMEOUT_MS = 800;
/** How long the PostgreSQL cut lasts: longer than a worker's first reconnect. */
const POSTGRES_CUT_MS = 2_500;
/** Kept of each worker's output, for a failure message. */
const OUTPUT_TAIL_CHARS = 6_000;

/** mulberry32: the kill plan from a seed, so a run can be repeated. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

interface WorkerProcess {
  child: ChildProcessWithoutNullStreams;
  spawnedAtMs: number;
  started: () => boolean;
  tail: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Set when this driver killed or stopped it (an exit otherwise is a self exit). */
  ending: boolean;
}

function startWorker(env: NodeJS.ProcessEnv, onLine: (line: string) => void): WorkerProcess {
  const child = spawn(process.execPath, [BIN, 'worker'], { env });
  let output = '';
  let started = false;
  let partial = '';
  const keep = (chunk: Buffer): void => {
    const text = chunk.toString();
    output = (output + text).slice(-OUTPUT_TAIL_CHARS);
    if (!started && output.includes('worker started')) started = true;
    const lines = (partial + text).split('\n');
    partial = lines.pop()!.slice(-OUTPUT_TAIL_CHARS);
    for (const line of lines) onLine(line);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, spawnedAtMs: Date.now(), started: () => started, tail: () => output, exited, ending: false };
}

async function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-OUTPUT_TAIL_CHARS)));
  const code = await new Promise<number>((resolve) => child.once('exit', (exitCode) => resolve(exitCode ?? -1)));
  return { code, stdout, stderr };
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const admin = connectDatabase({ url: adminUrl, poolMax: 1, applicationName: `ul-fault-admin-${randomBytes(4).toString('hex')}` });
  try {
    await admin.none(sql);
  } finally {
    await closeDatabase(admin);
  }
}

/** Request keys and outcome counts per queue, straight from the log. */
async function logFigures(db: Database): Promise<Record<QueueKey, { requests: Map<string, string>; outcomes: Map<string, string[]> }>> {
  const result = {} as Record<QueueKey, { requests: Map<string, string>; outcomes: Map<string, string[]> }>;
  for (const [queue, spec] of Object.entries(EFFECT_OUTCOMES) as Array<[QueueKey, { keyField: string; outcomeEvents: readonly string[] }]>) {
    const requestTypes = Object.entries(EFFECT_EVENTS)
      .filter(([, key]) => key === queue)
      .map(([type]) => type);
    const requests = new Map<string, string>();
    for (const row of await db.any<{ key: string; event_id: string }>('SELECT data->>$2 AS key, event_id::text AS event_id FROM ul_events WHERE event_type = ANY($1)', [requestTypes, spec.keyField])) {
      requests.set(row.key, row.event_id);
    }
    const outcomes = new Map<string, string[]>();
    for (const row of await db.any<{ key: string; type: string }>('SELECT data->>$2 AS key, event_type AS type FROM ul_events WHERE event_type = ANY($1)', [[...spec.outcomeEvents], spec.keyField])) {
      outcomes.set(row.key, [...(outcomes.get(row.key) ?? []), row.type]);
    }
    result[queue] = { requests, outcomes };
  }
  return result;
}

/** Failed jobs (the dead letters) per queue: the request's event id → BullMQ's failed reason. */
async function deadLetters(queues: QueueSet): Promise<Record<QueueKey, Map<string, string>>> {
  const result = {} as Record<QueueKey, Map<string, string>>;
  for (const key of queues.keys) {
    const failed = await queues.get(key).getFailed(0, 100_000);
    result[key] = new Map(failed.filter((job) => job !== undefined).map((job) => [job.data.eventId, job.failedReason || '(no reason)']));
  }
  return result;
}

/** Requests with neither an outcome in the log nor a dead letter. */
async function openRequests(db: Database, queues: QueueSet): Promise<number> {
  const figures = await logFigures(db);
  const dead = await deadLetters(queues);
  let open = 0;
  for (const [queue, { requests, outcomes }] of Object.entries(figures) as Array<[QueueKey, (typeof figures)[QueueKey]]>) {
    for (const [key, eventId] of requests) if (!outcomes.has(key) && !dead[queue].has(eventId)) open += 1;
  }
  return open;
}

export async function runWorkerFaultScenario(options: ScenarioOptions): Promise<ScenarioReport> {
  if (!existsSync(COMPILED)) throw new Error(`${COMPILED} is missing: run npm run build first (the workers are the built CLI)`);
  if (options.payouts % DAYS.length !== 0 || options.payouts < DAYS.length) throw new Error(`payouts must be a multiple of ${DAYS.length}`);
  const log = options.log ?? (() => undefined);
  const seed = options.seed ?? randomBytes(4).readUInt32LE(0);
  const random = seeded(seed);
  const workerCount = options.workers ?? 2;
  const startedMs = Date.now();
  const phases: Record<string, number> = {};
  const plan: string[] = [];
  const mark = (phase: string): void => {
    phases[phase] = Date.now() - startedMs;
    log(`${((Date.now() - startedMs) / 1000).toFixed(1)} s: ${phase}`);
  };

  const name = `ul_fault_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const databaseUrl = new URL(options.adminUrl);
  databaseUrl.pathname = `/${name}`;
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) await step().catch((error: unknown) => log(`cleanup: ${(error as Error).message}`));
  };
  const workers: WorkerProcess[] = [];
  let stopping = false;

  try {
    await adminQuery(options.adminUrl, `CREATE DATABASE ${name}`);
    cleanups.push(async () => {
      if (!options.keepDatabase) await adminQuery(options.adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    });
    const db = connectDatabase({ url: databaseUrl.toString(), poolMax: 8, applicationName: `ul-fault-driver` });
    cleanups.push(() => closeDatabase(db));
    await migrate(db, MIGRATIONS);

    const redis: PrivateRedis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    const proxy: CuttableProxy = await startCuttableProxy({ host: databaseUrl.hostname, port: Number(databaseUrl.port || 5432) });
    cleanups.push(() => proxy.close());
    const viaProxy = new URL(databaseUrl.toString());
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);

    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'union-ledger-fault-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const piiKeys = { masterKey: randomBytes(32), hmacKey: randomBytes(32) };
    const clock = testClock();
    const ledger = new UnionLedger({ config: loadConfig({ DATABASE_URL: databaseUrl.toString() }), db, piiKeys, clock: () => clock.now() });
    cleanups.push(() => ledger.close());

    // The grants the insurer refuses, known before any job runs (member ids come from the national ids).
    const refused: string[] = [];
    for (let index = 0; index < options.grants; index += REFUSE_EVERY) {
      refused.push(`${ledger.vault.memberIdFor(ledger.vault.idHmac(testNationalId(5_000 + index)))}:activation-insurance`);
    }
    const simulators: Simulators = await startSimulators({ insurerFaults: { latencyMs: 30, lostAnswerRate: 0.08, timeoutRate: 0.03, errorRate: 0.05, refuseRequestIds: refused } });
    cleanups.push(() => simulators.close());
    const gateway: PaymentGatewaySimulator = await startPaymentGatewaySimulator({
      declinedCards: [CLOSED_CARD],
      seed,
      clock: () => new Date(`${PAY_DAY}T10:00:00+08:00`),
      faults: { latencyMs: 5, errorRate: 0.05, timeoutRate: 0.03, lostAnswerRate: 0.08, inquiryErrorRate: 0.05, stallMs: 2 * GATEWAY_TIMEOUT_MS },
    });
    cleanups.push(() => gateway.close());

    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: viaProxy.toString(),
      DATABASE_POOL_MAX: '10',
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: 'ul-fault:',
      DATA_DIR: dataDir,
      PII_MASTER_KEY: piiKeys.masterKey.toString('base64'),
      PII_HMAC_KEY: piiKeys.hmacKey.toString('base64'),
      INSURER_API_URL: simulators.url,
      INSURER_API_KEY: simulators.settings.insurerApiKey,
      INSURER_TIMEOUT_MS: String(INSURER_TIMEOUT_MS),
      PAYMENT_GATEWAY_URL: gateway.url,
      PAYMENT_GATEWAY_KEY: gateway.apiKey,
      PAYMENT_GATEWAY_TIMEOUT_MS: String(GATEWAY_TIMEOUT_MS),
      WORKER_LOCK_MS: String(LOCK_MS),
      WORKER_CONCURRENCY: '16',
      SHUTDOWN_TIMEOUT_MS: '30000',
    };
    const redisClient = new Redis(redis.url, { maxRetriesPerRequest: null });
    redisClient.on('error', () => undefined);
    cleanups.push(async () => redisClient.disconnect());
    const queues = new QueueSet(redisClient, env.REDIS_KEY_PREFIX!);
    cleanups.push(() => queues.close());

    // The worker slots: a slot's process that exits by itself (not killed here) is restarted at once.
    let workerStarts = 0;
    let replayedJobs = 0;
    const replayed = (): number => replayedJobs;
    const onLine = (line: string): void => {
      // "relay: N request(s) without a recorded outcome, M of them re-added (Redis no longer held them)"
      const match = /(\d+) of them re-added/.exec(line);
      if (match) replayedJobs += Number(match[1]);
    };
    const selfExits: ScenarioReport['selfExits'] = [];
    const launch = (slot: number): WorkerProcess => {
      const worker = startWorker(env, onLine);
      workerStarts += 1;
      workers[slot] = worker;
      void worker.exited.then(({ code, signal }) => {
        if (worker.ending || stopping) return;
        selfExits.push({ code, signal, tail: worker.tail().slice(-1_500) });
        log(`worker in slot ${slot} exited by itself (${code ?? signal}); restarting it`);
        if (workers[slot] === worker) launch(slot);
      });
      return worker;
    };
    cleanups.push(async () => {
      stopping = true;
      for (const worker of workers) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
      await Promise.all(workers.map((worker) => worker.exited));
    });

    const applied = (): number => {
      const stats = gateway.stats();
      return simulators.insurer.stats().applied + simulators.insurer.allEnrolments().filter((enrolment) => enrolment.status === 'refused').length + stats.applied + stats.declined;
    };
    // Grants, plus the members the payouts fixture activates (each also asks for a grant).
    // At most 20: the fixture's union is allocated 500,000 yuan and pays each member 20,000.
    const fixtureMembers = Math.min(20, Math.max(10, Math.ceil(options.payouts / 50)));
    const expectedEffects = options.grants + fixtureMembers + options.payouts;

    // The economy (programme funded, wallets paid, merchants admitted) before any worker runs:
    // the workers' benefits sweep would otherwise race this process's batch for the wallets.
    const economy = await openEconomy(ledger, clock, { merchants: options.payouts / DAYS.length, days: DAYS, members: fixtureMembers, cardOf: (index) => (index === 0 ? CLOSED_CARD : testBankCard(index + 1)) });
    mark('setup done');
    for (let slot = 0; slot < workerCount; slot += 1) launch(slot);

    // The requests, created while the workers run and die.
    let created = false;
    let creationError: Error | undefined;
    const creating = (async () => {
      await Promise.all([activateMembers(ledger, options.grants, { concurrency: 4 }), settleDays(ledger, clock, economy, DAYS)]);
      created = true;
      mark('requests created');
    })();
    creating.catch((error: unknown) => {
      creationError = error as Error;
    });
    /** Every wait of the kill loop ends at once when creating the requests failed. */
    const failFast = (): void => {
      if (creationError) throw new Error(`creating the requests failed: ${creationError.stack ?? creationError.message}`);
    };

    // The kills, with the Redis restart and the PostgreSQL cut among them.
    let kills = 0;
    let redisRestarts = 0;
    let postgresDropped = 0;
    const redisAt = Math.floor(options.kills / 3);
    const postgresAt = Math.floor((2 * options.kills) / 3);
    for (let kill = 1; kill <= options.kills; kill += 1) {
      if (kill === redisAt) {
        await waitFor(() => (failFast(), applied() >= expectedEffects / 4 || created), { what: 'a quarter of the effects before the Redis restart', timeoutMs: 180_000 });
        await redis.restartEmpty();
        redisRestarts += 1;
        plan.push(`before kill ${kill}: Redis killed -9 and restarted empty (${applied()} effects applied)`);
        mark('Redis restarted empty');
      }
      if (kill === postgresAt) {
        // While every worker runs (its pools, the relay's LISTEN connection open), so the cut drops live connections.
        await waitFor(() => (failFast(), workers.every((worker) => worker.started()) && proxy.open() > 0), { what: 'every worker started before the PostgreSQL cut', timeoutMs: 120_000 });
        const dropped = proxy.cut();
        postgresDropped += dropped;
        plan.push(`before kill ${kill}: PostgreSQL cut for ${POSTGRES_CUT_MS} ms (${dropped} connections dropped, ${applied()} effects applied)`);
        mark('PostgreSQL cut');
        // The outage's length is the fault itself, not a synchronisation.
        await new Promise((resolve) => setTimeout(resolve, POSTGRES_CUT_MS));
        proxy.restore();
        mark('PostgreSQL restored');
      }
      const slot = Math.floor(random() * workerCount);
      const worker = workers[slot]!;
      if (random() < 0.4) {
        // Early: anywhere from its spawn through its start and first batches.
        const atMs = Math.floor(random() * 1_500);
        plan.push(`kill ${kill}: slot ${slot}, ${atMs} ms after spawn`);
        const waitMs = worker.spawnedAtMs + atMs - Date.now();
        // Where the kill lands is the point of this fault: a pause drawn at random.
        if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      } else {
        // In the middle of its jobs: after a random number of further effects (spread so the kills cover the run).
        const more = 1 + Math.floor(random() * ((2 * expectedEffects) / options.kills));
        const target = Math.min(expectedEffects, applied() + more);
        plan.push(`kill ${kill}: slot ${slot}, after ${target} effects applied (${more} more)`);
        await waitFor(() => (failFast(), applied() >= target || worker.child.exitCode !== null || (created && applied() >= expectedEffects)), {
          what: `${target} effects applied`,
          timeoutMs: 180_000,
          seen: () => `${applied()} applied; worker: ${worker.tail().slice(-1_000)}`,
        });
      }
      const current = workers[slot]!;
      current.ending = true;
      current.child.kill('SIGKILL');
      await current.exited;
      kills += 1;
      launch(slot);
    }
    mark(`${kills} kills done`);
    await creating;
    let outstandingAtLastRestart = -1;
    if (options.redisRestartAfterKills ?? true) {
      // Again with no worker started after it: the running workers must notice the empty Redis
      // and bring back what it lost themselves (before, only a worker's start replayed).
      // Once the relay has queued every request (its checkpoint past the last), so that what
      // Redis loses is only in the effect log, and while jobs wait or sit in their back-off.
      await waitFor(
        async () =>
          (await db.one<{ behind: boolean }>(
            `SELECT coalesce((SELECT max(global_position) FROM ul_events WHERE event_type = ANY($1)), 0) >
                    coalesce((SELECT position FROM ul_checkpoints WHERE name = $2), -1) AS behind`,
            [Object.keys(EFFECT_EVENTS), RELAY_CHECKPOINT],
          )).behind === false,
        { what: 'the relay to queue every request', timeoutMs: 120_000 },
      );
      const open = await openRequests(db, queues);
      const depths = await queues.depths();
      const queued = Object.values(depths).reduce((sum, states) => sum + (states.waiting ?? 0) + (states.delayed ?? 0), 0);
      await redis.restartEmpty();
      redisRestarts += 1;
      outstandingAtLastRestart = open;
      plan.push(`after the last kill: Redis killed -9 and restarted empty with ${open} request(s) open, ${queued} job(s) waiting or delayed; no worker started after it`);
      mark('Redis restarted empty (after the kills)');
    }

    // The drain: every request carried out, or failed for good.
    let last = '';
    const settled = async (): Promise<boolean> => {
      const open = await openRequests(db, queues);
      last = `${open} open; ${applied()} applied; ${JSON.stringify(await queues.depths())}`;
      return open === 0;
    };
    await waitFor(settled, { what: 'every request to have an outcome or a dead letter', timeoutMs: options.drainTimeoutMs ?? 240_000, intervalMs: 250, seen: () => last });
    mark('drained');

    // A process still starting has no SIGTERM handler yet (it would die of the signal, as from a
    // kill): the graceful stop is checked on processes that are up.
    await waitFor(() => workers.every((worker) => worker.started()), { what: 'every worker started before the SIGTERM', timeoutMs: 120_000, seen: () => workers.map((worker) => worker.tail().slice(-500)).join('\n') });
    stopping = true;
    for (const worker of workers) {
      worker.ending = true;
      worker.child.kill('SIGTERM');
    }
    const exits = await Promise.all(workers.map((worker) => worker.exited));
    const cleanStops = exits.every((exit) => exit.code === 0) && workers.every((worker) => worker.tail().includes('stopped'));
    if (!cleanStops) log(`SIGTERM stops: ${JSON.stringify(exits)}\n${workers.map((worker) => worker.tail().slice(-1_000)).join('\n')}`);
    mark('workers stopped');

    // The figures.
    const figures = await logFigures(db);
    const dead = await deadLetters(queues);
    const enrolments = simulators.insurer.allEnrolments();
    const figuresOf = (queue: QueueKey, simulator: { applied: Map<string, number>; refused: Set<string> }): QueueFigures => {
      const { requests, outcomes } = figures[queue];
      const deadByEvent = dead[queue];
      const outcomeCounts: Record<string, number> = {};
      let resolved = 0;
      let duplicateOutcomes = 0;
      let lost = 0;
      let appliedNotRecorded = 0;
      let recordedNotApplied = 0;
      const letters: QueueFigures['deadLetters'] = [];
      for (const [key, eventId] of requests) {
        const types = outcomes.get(key) ?? [];
        for (const type of types) outcomeCounts[type] = (outcomeCounts[type] ?? 0) + 1;
        if (types.length === 1) resolved += 1;
        if (types.length > 1) duplicateOutcomes += 1;
        const reason = deadByEvent.get(eventId);
        if (types.length === 0 && reason !== undefined) letters.push({ key, reason });
        if (types.length === 0 && reason === undefined) lost += 1;
        const atSimulator = simulator.applied.has(key) || simulator.refused.has(key);
        if (atSimulator && types.length === 0 && reason === undefined) appliedNotRecorded += 1;
        const success = types.some((type) => type === EFFECT_OUTCOMES[queue]!.outcomeEvents[0]);
        const failure = types.some((type) => type !== EFFECT_OUTCOMES[queue]!.outcomeEvents[0]);
        if ((success && !simulator.applied.has(key)) || (failure && simulator.applied.has(key))) recordedNotApplied += 1;
      }
      return {
        requests: requests.size,
        outcomes: outcomeCounts,
        resolved,
        duplicateOutcomes,
        lost,
        deadLetters: letters,
        simulatorApplied: simulator.applied.size,
        simulatorRefused: simulator.refused.size,
        simulatorDuplicates: [...simulator.applied.values()].filter((times) => times > 1).length,
        simulatorStrays: [...simulator.applied.keys(), ...simulator.refused].filter((key) => !requests.has(key)).length,
        appliedNotRecorded,
        recordedNotApplied,
      };
    };
    const appliedPayments = new Map<string, number>();
    for (const id of gateway.appliedIds()) appliedPayments.set(id, (appliedPayments.get(id) ?? 0) + 1);
    // The gateway's declined payments are those of the closed card: every payout of shop-0 it saw.
    const declinedPayouts = new Set<string>();
    for (const [key] of figures.payouts.requests) {
      const types = figures.payouts.outcomes.get(key) ?? [];
      if (types.includes('PayoutFailed') && !appliedPayments.has(key)) declinedPayouts.add(key);
    }
    const insurance = figuresOf('insurance', {
      applied: new Map(enrolments.filter((enrolment) => enrolment.status === 'enrolled').map((enrolment) => [enrolment.requestId, enrolment.appliedTimes])),
      refused: new Set(enrolments.filter((enrolment) => enrolment.status === 'refused').map((enrolment) => enrolment.requestId)),
    });
    const payouts = figuresOf('payouts', { applied: appliedPayments, refused: declinedPayouts });
    const gatewayStats = gateway.stats();
    if (declinedPayouts.size !== gatewayStats.declined) payouts.recordedNotApplied += Math.abs(declinedPayouts.size - gatewayStats.declined);

    // The day reconciled and the ledger verified, by the operators' commands, without faults.
    gateway.setFaults({ errorRate: 0, timeoutRate: 0, lostAnswerRate: 0, inquiryErrorRate: 0 });
    const cliEnv = { ...env, DATABASE_URL: databaseUrl.toString() };
    const [reconciled, verified] = await Promise.all([runCli(['reconcile', '--date', PAY_DAY, '--json'], cliEnv), runCli(['verify'], cliEnv)]);
    let reconciliation: ScenarioReport['reconciliation'] = { exitCode: reconciled.code, mismatches: -1, statementLines: -1, ledgerPayouts: -1, output: `${reconciled.stdout}${reconciled.stderr}`.slice(-2_000) };
    try {
      const parsed = JSON.parse(reconciled.stdout) as { mismatches: unknown[]; statementLines: number; ledgerPayouts: number };
      reconciliation = { ...reconciliation, mismatches: parsed.mismatches.length, statementLines: parsed.statementLines, ledgerPayouts: parsed.ledgerPayouts, output: '' };
    } catch {
      // Left at -1: the output says why.
    }
    mark('reconciled and verified');

    const insurerStats = simulators.insurer.stats();
    return {
      seed,
      database: name,
      insurance,
      payouts,
      kills,
      selfExits,
      redisRestarts,
      outstandingAtLastRestart,
      replayedJobs: replayed(),
      postgresCuts: proxy.stats().cuts,
      postgresConnectionsDropped: postgresDropped,
      postgresConnectionsRefused: proxy.stats().refused,
      workerStarts,
      faultsInjected: { insurer: insurerStats.injected, gateway: gatewayStats.faults },
      reconciliation,
      verify: { exitCode: verified.code, output: `${verified.stdout}${verified.code === 0 ? '' : verified.stderr}`.slice(-2_000) },
      cleanStops,
      stops: exits,
      durationMs: Date.now() - startedMs,
      phases,
      plan,
    };
  } catch (error) {
    const tails = workers.map((worker, slot) => `--- worker slot ${slot} ---\n${worker.tail().slice(-2_000)}`).join('\n');
    (error as Error).message += `\n${tails}`;
    throw error;
  } finally {
    stopping = true;
    await cleanup();
  }
}

/** The summary table the run prints. */
export function faultTable(report: ScenarioReport): string {
  const rows: Array<[string, string, string]> = [['', 'insurance', 'payouts']];
  const both = (label: string, pick: (figures: QueueFigures) => number | string): void => {
    rows.push([label, String(pick(report.insurance)), String(pick(report.payouts))]);
  };
  both('requests', (figures) => figures.requests);
  both('outcomes recorded', (figures) => Object.entries(figures.outcomes).map(([type, count]) => `${type} ${count}`).join(', '));
  both('applied at simulator', (figures) => figures.simulatorApplied);
  both('refused at simulator', (figures) => figures.simulatorRefused);
  both('duplicates (simulator)', (figures) => figures.simulatorDuplicates + figures.simulatorStrays);
  both('duplicates (ledger)', (figures) => figures.duplicateOutcomes);
  both('lost', (figures) => figures.lost + figures.appliedNotRecorded);
  both('ledger ≠ simulator', (figures) => figures.recordedNotApplied);
  both('dead letters', (figures) => figures.deadLetters.length);
  const width = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(width[0]!) : cell.padStart(width[column]!))).join('  '));
  const dl = [...report.insurance.deadLetters, ...report.payouts.deadLetters];
  return [
    ...lines,
    '',
    `kills -9: ${report.kills} (worker starts ${report.workerStarts}, self exits ${report.selfExits.length}); Redis restarts (empty): ${report.redisRestarts} ` +
      `(${report.outstandingAtLastRestart} open at the last; ${report.replayedJobs} jobs re-added by replays); ` +
      `PostgreSQL cuts: ${report.postgresCuts} (${report.postgresConnectionsDropped} connections dropped, ${report.postgresConnectionsRefused} refused while cut)`,
    `faults injected: insurer ${JSON.stringify(report.faultsInjected.insurer)}, gateway ${JSON.stringify(report.faultsInjected.gateway)}`,
    `reconcile ${PAY_DAY}: exit ${report.reconciliation.exitCode}, ${report.reconciliation.mismatches} mismatch(es), statement ${report.reconciliation.statementLines} line(s), ledger ${report.reconciliation.ledgerPayouts} payout(s)`,
    `verify: exit ${report.verify.exitCode}; clean SIGTERM stops: ${report.cleanStops}`,
    `duration: ${(report.durationMs / 1000).toFixed(1)} s (${Object.entries(report.phases).map(([phase, ms]) => `${phase} ${(ms / 1000).toFixed(1)} s`).join('; ')}); seed ${report.seed}`,
    ...(dl.length > 0 ? ['dead letters:', ...dl.slice(0, 20).map((letter) => `  ${letter.key}: ${letter.reason}`)] : []),
  ].join('\n');
}
