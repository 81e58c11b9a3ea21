/**
 * Check-in benchmark: `npm run bench:checkin` (see docs/BENCHMARKS.md, "Check-ins over HTTP").
 *
 *   1. A fresh ul_bench_<random> database and a Redis key prefix of its own (REDIS_KEY_PREFIX).
 *   2. Fixture (timed, not part of the measurements): a four-level union tree through OrgService,
 *      the default earning rules, N members bulk-loaded as enrolled and activated (the same events,
 *      ids, digests and hash chains the command path stores; bench/lib/member-fixture.ts), then the
 *      ledger projection and the leaderboards caught up from event zero (a projection rebuild).
 *   3. The real service, `node dist/src/main.js`, as a child process on that database and Redis,
 *      with its projections running live.
 *   4. A measured 8 s warm-up right after the start (cold caches), reported on its own line.
 *      For each concurrency: C keep-alive clients for --seconds doing check-ins (70 %), quiz answers
 *      (15 %) and article reads (15 %) for random members; then the time the projections need to
 *      drain, the projection lag (measured from outside and as the service reports it), and plain
 *      autocommit single-row INSERTs at the same concurrency for the same time as the baseline.
 *   5. Leaderboard top-100 and my-rank for the province (every member) over HTTP and directly on
 *      the Leaderboards class (Redis only).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { MIGRATIONS, readModels, tokenService, UnionLedger } from '../src/composition-root';
import { memberStream } from '../src/domain/members';
import { verifyHashChains } from '../src/eventstore/postgres/verify';
import { closeDatabase, connectDatabase, type Database } from '../src/infra/database';
import { probeTcp } from '../src/infra/embedded';
import { migrate } from '../src/infra/migrations';
import { catchUpProjection } from '../src/projections';
import { catchUpLeaderboards, Leaderboards } from '../src/projections/earning';
import { checkTrialBalance } from '../src/projections/ledger';
import { parseCheckinArgs, type CheckinArgs } from './lib/checkin-args';
import { cpuSince, hostBusyPct, QuietGate, sampleCpu } from './lib/cpu';
import { summariseProfile } from './lib/cpu-profile';
import { foldedText, foldProfile, readCpuProfile, renderFlameGraph } from './lib/flame-graph';
import { adminQuery, createBenchDatabase, resolvePostgres } from './lib/database';
import { BenchHttpClient } from './lib/http-client';
import { runLoad } from './lib/load';
import { compareWithCommandPath, fixtureMember, loadMembers, MemberTemplate, planTree, registerTree, type FixtureClock, type OrgTree } from './lib/member-fixture';
import { CheckpointProbe, covers, lastFeedKey, measureLags, type LagFigures } from './lib/projection-lag';
import { cpuSecondsBetween, processesCpuSeconds, startService, type ServiceProcess } from './lib/service-process';
import { msSince, summarise, type LatencySummary } from './lib/stats';
import { fmtInt, fmtMs, fmtPct, fmtRatio, formatTable } from './lib/table';
import { clearRedis } from './lib/redis';

const log = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
// A closed stdout (`| head`) must not stop the clean-up of the database, Redis keys and the service.
process.stdout.on('error', () => undefined);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

const RUN_TAG = randomBytes(3).toString('hex');
const VERIFY_MEMBERS = 3;
const WARMUP_MS = 8000;
const DRAIN_TIMEOUT_MS = 120_000;
const LEADERBOARD_WARMUP = 100;

// ---------------------------------------------------------------------------------------------
// Servers

async function redisUrl(): Promise<string> {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  if (await probeTcp('127.0.0.1', 6379)) return 'redis://127.0.0.1:6379';
  throw new Error('no Redis: set REDIS_URL or run one on 127.0.0.1:6379');
}

/** The commit the service and the benchmark were built from, and whether src/ had local changes. */
function sourceVersion(): string {
  try {
    const cwd = path.resolve(__dirname, '../..');
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `${commit}${dirty ? ` + ${dirty.split('\n').length} changed files in src/` : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

async function redisInfo(redis: Redis, field: string): Promise<string> {
  const info = await redis.info();
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '?';
}

async function describePostgres(db: Database): Promise<string> {
  const s = await db.one<Record<string, string>>(
    `SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync,
            current_setting('synchronous_commit') AS sync, current_setting('shared_buffers') AS buffers`,
  );
  return `PostgreSQL ${s.version} (fsync=${s.fsync}, synchronous_commit=${s.sync}, shared_buffers=${s.buffers})`;
}

// ---------------------------------------------------------------------------------------------
// Fixture

interface FixtureInfo {
  redisPrefix: string;
  members: number;
  cities: number;
  counties: number;
  unions: number;
}

async function buildFixture(db: Database, redis: Redis, prefix: string, args: CheckinArgs, tree: OrgTree): Promise<string[]> {
  const notes: string[] = [];
  // The fixture's commands run through the composition root like the service's; `now` is moved by the verification below.
  let now = new Date();
  const ledger = new UnionLedger({ config: { eventStore: 'postgres', kurrentDbUrl: undefined, redisKeyPrefix: prefix }, db, redis, listen: false, clock: () => now });
  const { store, rules: rulesBook, leaderboards } = ledger;
  try {
    let t0 = process.hrtime.bigint();
    const orgs = await registerTree(ledger.orgs, tree);
    notes.push(`tree: ${orgs} organisations (1 province, ${tree.cities.length} cities, ${tree.counties.length} counties, ${tree.unions.length} grassroots unions) through OrgService in ${seconds(msSince(t0))}`);
    const rules = await rulesBook.currentRules();
    const startMs = Date.now();
    const clock: FixtureClock = { enrolledAt: new Date(startMs - 3_600_000), activatedAt: new Date(startMs - 1_800_000) };

    let first = 0;
    if (args.verify) {
      now = clock.enrolledAt;
      const comparison = await compareWithCommandPath(db, { members: ledger.members, setNow: (at) => (now = at) }, tree, rules, clock, Math.min(VERIFY_MEMBERS, args.members));
      first = comparison.members;
      notes.push(
        `verify: ${comparison.members} members through the real MemberService vs the loader: ${comparison.events} events, ` +
          (comparison.mismatches.length === 0 ? 'identical ids, types, data, metadata and digests' : `MISMATCHES: ${comparison.mismatches.join('; ')}`),
      );
      if (comparison.mismatches.length > 0) throw new Error('the bulk loader does not store what the command path stores');
    }

    t0 = process.hrtime.bigint();
    const { template, checked } = MemberTemplate.build(tree, rules, clock, args.members);
    notes.push(`loader template: built from the real path and checked against decide() + prepareAppend() for ${checked} members in ${seconds(msSince(t0))}`);
    const conforming = await db.one<{ on: string }>("SELECT current_setting('standard_conforming_strings') AS on");
    if (conforming.on !== 'on') throw new Error('the bulk loader needs standard_conforming_strings = on');
    t0 = process.hrtime.bigint();
    let lastReport = Date.now();
    const load = await loadMembers(db, template, {
      from: first,
      to: args.members,
      chunk: args.loadChunk,
      onProgress: (members, events) => {
        if (Date.now() - lastReport < 10_000) return;
        lastReport = Date.now();
        log(`  loaded ${fmtInt(members)} members (${fmtInt(events)} events), ${fmtInt(events / (msSince(t0) / 1000))} events/s`);
      },
    });
    notes.push(
      `members: ${fmtInt(load.members)} (${fmtInt(load.events)} events) bulk-loaded in ${load.seconds.toFixed(1)} s = ${fmtInt(load.events / load.seconds)} events/s ` +
        `(${load.generateSeconds.toFixed(1)} s of it building rows in JS: templates, digests, hash chains, SQL text)`,
    );
    t0 = process.hrtime.bigint();
    await db.none('VACUUM (ANALYZE) ul_events');
    notes.push(`VACUUM ANALYZE ul_events: ${seconds(msSince(t0))}`);

    t0 = process.hrtime.bigint();
    lastReport = Date.now();
    for (const projection of readModels()) {
      t0 = process.hrtime.bigint();
      const applied = await catchUpProjection(store, db, projection, (count) => {
        if (Date.now() - lastReport < 10_000) return;
        lastReport = Date.now();
        log(`  ${projection.name} projection: ${fmtInt(count)} events, ${fmtInt(count / (msSince(t0) / 1000))} events/s`);
      });
      const projectionMs = msSince(t0);
      notes.push(`${projection.name} projection rebuilt (catchUpProjection): ${fmtInt(applied)} events in ${seconds(projectionMs)} = ${fmtInt(applied / (projectionMs / 1000))} events/s`);
    }

    t0 = process.hrtime.bigint();
    const lastPosition = (await db.one<{ max: string }>('SELECT max(global_position)::text AS max FROM ul_events')).max;
    const ticker = setInterval(() => {
      void leaderboards.loadCheckpoint().then((position) => log(`  leaderboards: at position ${fmtInt(Number(position))} of ${fmtInt(Number(lastPosition))} after ${seconds(msSince(t0))}`));
    }, 30_000);
    const grants = await catchUpLeaderboards(store, db, leaderboards).finally(() => clearInterval(ticker));
    const boardsMs = msSince(t0);
    notes.push(
      `leaderboards rebuilt (catchUpLeaderboards): ${fmtInt(grants)} events (grants and org registrations) in ${seconds(boardsMs)} = ${fmtInt(grants / (boardsMs / 1000))} events/s; ` +
        `Redis used_memory (whole instance) ${await redisInfo(redis, 'used_memory_human')}`,
    );
    t0 = process.hrtime.bigint();
    await db.none('VACUUM (ANALYZE) ul_members, ul_balances, ul_statement, ul_journal, ul_orgs');
    notes.push(`VACUUM ANALYZE of the projection tables: ${seconds(msSince(t0))}`);

    if (args.verify) {
      t0 = process.hrtime.bigint();
      const chains = await verifyHashChains(db);
      notes.push(
        `verify: verifyHashChains (what \`union-ledger verify\` runs): ${chains.ok ? 'ok' : 'BROKEN'}, ${fmtInt(chains.eventsChecked)} events in ` +
          `${fmtInt(chains.streamsChecked)} streams, ${seconds(msSince(t0))}` +
          (chains.ok ? '' : `; first: ${JSON.stringify(chains.broken[0], (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))}`),
      );
      t0 = process.hrtime.bigint();
      const balance = await checkTrialBalance(db);
      notes.push(`verify: trial balance of events vs journal and balances: ${balance.ok ? 'ok' : 'NOT OK'}, ${fmtInt(balance.postings)} postings, ${seconds(msSince(t0))}`);
      if (!chains.ok || !balance.ok) throw new Error('the fixture does not verify');
    }
    const info: FixtureInfo = { redisPrefix: prefix, members: args.members, cities: args.cities, counties: args.counties, unions: args.unions };
    await db.none('CREATE TABLE bench_checkin_fixture (info jsonb NOT NULL)');
    await db.none('INSERT INTO bench_checkin_fixture (info) VALUES ($1)', [JSON.stringify(info)]);
  } finally {
    await ledger.close();
  }
  return notes;
}

// ---------------------------------------------------------------------------------------------
// Load

type Op = 'check-in' | 'quiz' | 'article';
const OPS: Op[] = ['check-in', 'quiz', 'article'];
/** How long PostgreSQL's backends may hold their statistics before reporting them (PGSTAT_MIN_INTERVAL, 1 s), plus a margin. */
const STATS_FLUSH_WAIT_MS = 1_200;

interface CommandRun {
  concurrency: number;
  elapsedS: number;
  all: LatencySummary;
  byOp: Record<Op, LatencySummary>;
  created: number;
  expected409: Map<string, number>;
  otherStatuses: Map<string, number>;
  serverErrors: number;
  cpu: { hostPct: number; servicePct: number; postgresPct: number; redisPct: number; benchPct: number; otherPct: number };
  /**
   * PostgreSQL transactions per command: pg_stat_database's commits and rollbacks of the bench
   * database over the run and its drain (the service's statements outside a transaction block are
   * one transaction each; the probe's 20 reads a second are included).
   */
  transactionsPerCommand: number;
  /** SQL statements the service sent per command (its ul_sql_statements_total over the run and its drain). */
  statementsPerCommand: number;
  /** The machine's 1-minute load average when the run ended (the machine is shared: read the figures with it). */
  loadAverage: number;
  drainMs: number;
  probe: { ledger: LagFigures; leaderboard: LagFigures };
  service: { ledgerP99: number | null; leaderboardP99: number | null; ledgerP50: number | null; leaderboardP50: number | null };
  baseline: { rowsPerS: number; latency: LatencySummary; cpuHostPct: number; postgresPct: number; benchPct: number };
  /** GET /health at the same concurrency through the same service: the framework's floor (see measureFloor). */
  floor: RequestRun;
  /** One INSERT per request through a bare Fastify server: the HTTP ceiling (see measureCeiling). */
  ceiling: RequestRun;
}

/** One kind of request at one concurrency, with the CPU its server spent per request (from /proc). */
interface RequestRun {
  requestsPerS: number;
  latency: LatencySummary;
  serverCpuMsPerRequest: number;
}

interface LoadContext {
  http: BenchHttpClient;
  db: Database;
  redis: Redis;
  redisPrefix: string;
  tree: OrgTree;
  members: number;
  quizzes: string[];
  /** Signed once per member and cached (signing is async with jose). */
  memberToken(index: number): Promise<string>;
  adminToken: string;
  service: ServiceProcess;
  /** The bare Fastify server of measureCeiling and a client of its own. */
  bare: { process: ServiceProcess; http: BenchHttpClient };
  redisPid: number;
}

function pickOp(): Op {
  const r = Math.random();
  return r < 0.7 ? 'check-in' : r < 0.85 ? 'quiz' : 'article';
}

async function command(ctx: LoadContext, op: Op, key: string): Promise<{ status: number; body: string }> {
  const index = Math.floor(Math.random() * ctx.members);
  const token = await ctx.memberToken(index);
  switch (op) {
    case 'check-in':
      return ctx.http.request('POST', '/v1/me/check-ins', { token, key });
    case 'quiz': {
      const quizId = ctx.quizzes[Math.floor(Math.random() * ctx.quizzes.length)]!;
      return ctx.http.request('POST', '/v1/me/quiz-answers', { token, key, body: { quizId, answer: Math.random() < 0.7 ? 'B' : 'C' } });
    }
    case 'article':
      return ctx.http.request('POST', '/v1/me/article-reads', { token, key, body: { articleId: `bench-article-${Math.floor(Math.random() * 1000)}` } });
  }
}

/**
 * Waits until the relay has passed every effect request of the fixture (the activations'
 * insurance grants) and each has its outcome event, so that the load runs on a service that
 * has nothing else to do. Bounded: a backlog that does not drain fails the benchmark.
 */
async function drainFixtureEffects(db: Database, timeoutMs = 300_000): Promise<{ effects: number; ms: number }> {
  const started = Date.now();
  const { requested } = await db.one<{ requested: number }>(
    `SELECT count(*)::int AS requested FROM ul_events WHERE event_type = 'InsuranceGrantRequested'`,
  );
  for (;;) {
    const row = await db.one<{ recorded: number; outstanding: number }>(
      `SELECT count(*)::int AS recorded, (count(*) FILTER (WHERE outcome_event_id IS NULL))::int AS outstanding FROM ul_effects`,
    );
    if (row.recorded >= requested && row.outstanding === 0) return { effects: requested, ms: Date.now() - started };
    if (Date.now() - started > timeoutMs) {
      throw new Error(`the fixture's ${requested} insurance grants did not drain in ${timeoutMs} ms (${row.recorded} relayed, ${row.outstanding} without an outcome)`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function postgresPids(db: Database): Promise<number[]> {
  const rows = await db.any<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
  return rows.map((row) => row.pid);
}

/**
 * Committed and rolled-back transactions of the bench database so far. A backend reports its
 * counts at most once a second (PostgreSQL 15's cumulative statistics), so the reading waits that
 * long first: what the previous phase did is then counted before, not in, the next one.
 */
async function databaseTransactions(db: Database): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, STATS_FLUSH_WAIT_MS));
  await db.func('pg_stat_clear_snapshot');
  const row = await db.one<{ count: string }>('SELECT (xact_commit + xact_rollback)::text AS count FROM pg_stat_database WHERE datname = current_database()');
  return Number(row.count);
}

/** The service's ul_sql_statements_total (GET /metrics): every statement it sent to PostgreSQL so far. */
async function serviceStatements(ctx: LoadContext): Promise<number> {
  const answer = await ctx.http.request('GET', '/metrics', { token: ctx.adminToken });
  const line = answer.body.split('\n').find((each) => each.startsWith('ul_sql_statements_total '));
  if (answer.status !== 200 || !line) throw new Error(`GET /metrics answered ${answer.status} without ul_sql_statements_total`);
  return Number(line.slice('ul_sql_statements_total '.length));
}

async function serviceLag(ctx: LoadContext): Promise<CommandRun['service']> {
  const answer = await ctx.http.request('GET', '/v1/admin/projections', { token: ctx.adminToken });
  if (answer.status !== 200) throw new Error(`GET /v1/admin/projections answered ${answer.status}: ${answer.body}`);
  const lag = (JSON.parse(answer.body) as { lag: Record<string, { lagP50Ms: number | null; lagP99Ms: number | null }> }).lag;
  return {
    ledgerP99: lag.ledger?.lagP99Ms ?? null,
    leaderboardP99: lag.leaderboard?.lagP99Ms ?? null,
    ledgerP50: lag.ledger?.lagP50Ms ?? null,
    leaderboardP50: lag.leaderboard?.lagP50Ms ?? null,
  };
}

/** Numbers the runs of one benchmark, so that no two runs (the warm-up and a run at the same concurrency) share an idempotency key. */
let runsStarted = 0;

async function runCommands(ctx: LoadContext, concurrency: number, durationMs: number, gate: QuietGate): Promise<Omit<CommandRun, 'baseline' | 'floor' | 'ceiling'>> {
  await gate.wait();
  runsStarted += 1;
  const run = runsStarted;
  const latencies: Record<Op, number[]> = { 'check-in': [], quiz: [], article: [] };
  const expected409 = new Map<string, number>();
  const otherStatuses = new Map<string, number>();
  let created = 0;
  let serverErrors = 0;
  const startKey = await lastFeedKey(ctx.db);
  // The service runs one partition (PROJECTION_PARTITIONS unset): the checkpoint of that layout.
  const probe = new CheckpointProbe(ctx.db, ctx.redis, new Leaderboards(ctx.redis, ctx.redisPrefix).checkpointKey());
  await probe.read();
  probe.start();
  const pgPids = await postgresPids(ctx.db);
  const transactionsBefore = await databaseTransactions(ctx.db);
  const statementsBefore = await serviceStatements(ctx);
  const pidsBefore = { service: processesCpuSeconds([ctx.service.pid]), pg: processesCpuSeconds(pgPids), redis: processesCpuSeconds([ctx.redisPid]) };
  const load = await runLoad({
    concurrency,
    durationMs,
    operation: async (worker, iteration) => {
      const op = pickOp();
      const t0 = process.hrtime.bigint();
      const answer = await command(ctx, op, `${RUN_TAG}-${run}-${worker}-${iteration}`);
      latencies[op].push(msSince(t0));
      if (answer.status === 201) {
        created += 1;
      } else {
        let code = '';
        try {
          code = (JSON.parse(answer.body) as { code?: string }).code ?? '';
        } catch {
          code = answer.body.slice(0, 80);
        }
        const label = `${op} ${answer.status} ${code}`;
        if (answer.status >= 500) serverErrors += 1;
        const bucket = answer.status === 409 ? expected409 : otherStatuses;
        bucket.set(label, (bucket.get(label) ?? 0) + 1);
      }
      return 1;
    },
  });
  const tEnd = process.hrtime.bigint();
  const loadAverage = os.loadavg()[0]!;
  // The service's pool opens (and after 30 s idle closes) connections as it needs them: backends
  // born during the run are counted whole (all their CPU is from the run).
  const pgPidsAfter = [...new Set([...pgPids, ...(await postgresPids(ctx.db))])];
  const pidsAfter = { service: processesCpuSeconds([ctx.service.pid]), pg: processesCpuSeconds(pgPidsAfter), redis: processesCpuSeconds([ctx.redisPid]) };
  for (const pid of pgPidsAfter) if (!pidsBefore.pg.has(pid)) pidsBefore.pg.set(pid, 0);
  const wallS = load.elapsedS;

  // Drain: until both checkpoints cover the newest event.
  const target = await lastFeedKey(ctx.db);
  let drainMs = Number.NaN;
  if (target) {
    for (;;) {
      const latest = probe.latest();
      if ((await covers(ctx.db, latest.ledger, target)) && (await covers(ctx.db, latest.leaderboard, target))) {
        drainMs = msSince(tEnd);
        break;
      }
      if (msSince(tEnd) > DRAIN_TIMEOUT_MS) throw new Error(`the projections did not catch up within ${DRAIN_TIMEOUT_MS} ms of the load`);
      await new Promise((resolve) => setTimeout(resolve, 10));
      await probe.read();
    }
  }
  probe.stop();
  const transactions = (await databaseTransactions(ctx.db)) - transactionsBefore;
  // Read after the drain and the stats wait; a scrape itself sends no SQL.
  const statements = (await serviceStatements(ctx)) - statementsBefore;
  const lags = await measureLags(ctx.db, probe, startKey?.[1] ?? -1n);
  const service = await serviceLag(ctx);
  const result = {
    concurrency,
    elapsedS: wallS,
    all: summarise(load.latenciesMs),
    byOp: Object.fromEntries(OPS.map((op) => [op, summarise(latencies[op])])) as Record<Op, LatencySummary>,
    created,
    expected409,
    otherStatuses,
    serverErrors,
    cpu: {
      hostPct: hostBusyPct(load.cpu),
      servicePct: (100 * cpuSecondsBetween(pidsBefore.service, pidsAfter.service)) / wallS,
      postgresPct: (100 * cpuSecondsBetween(pidsBefore.pg, pidsAfter.pg)) / wallS,
      redisPct: (100 * cpuSecondsBetween(pidsBefore.redis, pidsAfter.redis)) / wallS,
      benchPct: (100 * load.cpu.nodeS) / wallS,
      otherPct: 0,
    },
    loadAverage,
    transactionsPerCommand: transactions / Math.max(1, load.latenciesMs.length),
    statementsPerCommand: statements / Math.max(1, load.latenciesMs.length),
    drainMs,
    probe: lags,
    service,
  };
  const { cpu } = result;
  // Busy CPU of the machine outside the measured processes (WAL writer, checkpointer, kernel, other work), % of one core.
  cpu.otherPct = cpu.hostPct * os.cpus().length - cpu.servicePct - cpu.postgresPct - cpu.redisPct - cpu.benchPct;
  return result;
}

const BASELINE_TABLE_SQL = `CREATE TABLE IF NOT EXISTS bench_checkin_baseline (
  id bigserial PRIMARY KEY,
  stream_id text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL
)`;

/** One row shaped like the PointsGranted of a check-in (the larger of its two events). */
function baselineRow(tree: OrgTree, members: number): [string, string, string] {
  const member = fixtureMember(Math.floor(Math.random() * members), tree);
  const day = new Date().toISOString().slice(0, 10);
  const data = {
    grantId: `${member.memberId}:checkin:${day}`,
    memberId: member.memberId,
    orgId: member.orgId,
    action: 'checkin',
    ruleId: 'checkin',
    ruleVersion: 1,
    points: 5,
    periods: { day, week: '2026-W01', month: day.slice(0, 7), year: day.slice(0, 4) },
    inputs: { day, streak: 1, basePoints: 5, cappedBy: null },
    postings: [{ debit: 'issuer:checkin', credit: `member:${member.memberId}:available`, amount: 5, asset: 'POINTS' }],
  };
  const metadata = { occurredAt: new Date().toISOString(), commandId: `${member.memberId}:${randomBytes(8).toString('hex')}`, actor: { type: 'member', id: member.memberId } };
  return [memberStream(member.memberId), JSON.stringify(data), JSON.stringify(metadata)];
}

/**
 * The floor under every command: GET /health through the same service at the same concurrency.
 * It goes through Fastify and NestJS (no authentication, no rate limit) and makes one PostgreSQL
 * round trip (SELECT 1) and one Redis round trip (PING), against an accepted command's JWT check,
 * rate limit, idempotency look-up and append. Commands/s can come near this, never above it.
 */
function measureFloor(ctx: LoadContext, concurrency: number, durationMs: number, gate: QuietGate): Promise<RequestRun> {
  return measureRequests(ctx.service.pid, concurrency, durationMs, gate, async () => {
    const answer = await ctx.http.request('GET', '/health');
    if (answer.status !== 200) throw new Error(`GET /health answered ${answer.status}: ${answer.body}`);
  });
}

/**
 * The HTTP ceiling: the same INSERT as the baseline, one per request, through a bare Fastify
 * server (bench/lib/bare-insert-server.ts: no NestJS, no token, no rate limit, no logging) at the
 * same concurrency with the same HTTP client. No service that answers each command over HTTP
 * with at least one PostgreSQL round trip reaches more than this on the machine, unless it
 * batches across requests; it tells how much of the gap to plain INSERTs HTTP alone takes.
 */
function measureCeiling(ctx: LoadContext, concurrency: number, durationMs: number, gate: QuietGate): Promise<RequestRun> {
  return measureRequests(ctx.bare.process.pid, concurrency, durationMs, gate, async () => {
    const answer = await ctx.bare.http.request('POST', '/insert', { body: baselineRow(ctx.tree, ctx.members) });
    if (answer.status !== 201) throw new Error(`the bare server answered ${answer.status}: ${answer.body}`);
  });
}

/** `request` from `concurrency` clients for `durationMs`, and the CPU of the process `serverPid` per request. */
async function measureRequests(serverPid: number, concurrency: number, durationMs: number, gate: QuietGate, request: () => Promise<void>): Promise<RequestRun> {
  await gate.wait();
  const before = processesCpuSeconds([serverPid]);
  const load = await runLoad({
    concurrency,
    durationMs,
    operation: async () => {
      await request();
      return 1;
    },
  });
  const serverS = cpuSecondsBetween(before, processesCpuSeconds([serverPid]));
  return {
    requestsPerS: load.operations / load.elapsedS,
    latency: summarise(load.latenciesMs),
    serverCpuMsPerRequest: load.operations > 0 ? (1000 * serverS) / load.operations : 0,
  };
}

async function runBaseline(ctx: LoadContext, concurrency: number, durationMs: number, gate: QuietGate): Promise<CommandRun['baseline']> {
  await gate.wait();
  const pgPids = await postgresPids(ctx.db);
  const pgBefore = processesCpuSeconds(pgPids);
  const cpu = sampleCpu();
  const load = await runLoad({
    concurrency,
    durationMs,
    operation: async () => {
      await ctx.db.none({
        name: 'bench-checkin-baseline',
        text: 'INSERT INTO bench_checkin_baseline (stream_id, data, metadata) VALUES ($1, $2::jsonb, $3::jsonb)',
        values: baselineRow(ctx.tree, ctx.members),
      });
      return 1;
    },
  });
  const used = cpuSince(cpu);
  // As in runCommands: pool connections opened during the run count whole.
  const pgPidsAfter = [...new Set([...pgPids, ...(await postgresPids(ctx.db))])];
  for (const pid of pgPidsAfter) if (!pgBefore.has(pid)) pgBefore.set(pid, 0);
  const postgresS = cpuSecondsBetween(pgBefore, processesCpuSeconds(pgPidsAfter));
  return {
    rowsPerS: load.operations / load.elapsedS,
    latency: summarise(load.latenciesMs),
    cpuHostPct: hostBusyPct(used),
    postgresPct: (100 * postgresS) / used.wallS,
    benchPct: (100 * used.nodeS) / used.wallS,
  };
}

// ---------------------------------------------------------------------------------------------
// Leaderboards

interface BoardRow {
  label: string;
  over: string;
  latency: LatencySummary;
}

async function timeSequential(count: number, call: (iteration: number) => Promise<void>): Promise<LatencySummary> {
  for (let i = 0; i < LEADERBOARD_WARMUP; i += 1) await call(i);
  const latencies: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const t0 = process.hrtime.bigint();
    await call(i);
    latencies.push(msSince(t0));
  }
  return summarise(latencies);
}

async function measureLeaderboards(ctx: LoadContext, requests: number, gate: QuietGate): Promise<{ rows: BoardRow[]; sample: string }> {
  const province = ctx.tree.province;
  const leaderboards = new Leaderboards(ctx.redis, ctx.redisPrefix);
  const randomIndex = (): number => Math.floor(Math.random() * ctx.members);
  const expectOk = (answer: { status: number; body: string }, what: string): void => {
    if (answer.status !== 200) throw new Error(`${what} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  };
  let sample = '';
  const rows: BoardRow[] = [];
  // Tokens are signed before the clock starts: a first request for a member must not time its signing.
  const tokens = await Promise.all(Array.from({ length: Math.max(requests, LEADERBOARD_WARMUP) }, () => ctx.memberToken(randomIndex())));
  await gate.wait();
  rows.push({
    label: `top-100 of ${province} (all time)`,
    over: 'HTTP GET /v1/leaderboards/:orgId',
    latency: await timeSequential(requests, async (i) => {
      const answer = await ctx.http.request('GET', `/v1/leaderboards/${province}?period=all&top=100`, { token: tokens[i]! });
      expectOk(answer, 'GET /v1/leaderboards');
      if (!sample) {
        const body = JSON.parse(answer.body) as { entries: Array<{ points: number; rank: number; name: string | null }> };
        sample = `${body.entries.length} entries, first ${JSON.stringify(body.entries[0])}, last ${JSON.stringify(body.entries[body.entries.length - 1])}`;
      }
    }),
  });
  rows.push({
    label: `top-100 of ${province} (all time)`,
    over: 'Leaderboards.top (Redis only)',
    latency: await timeSequential(requests, async () => {
      await leaderboards.top(province, 'all', '', 100);
    }),
  });
  const topIds = (await leaderboards.top(province, 'all', '', 100)).map((entry) => entry.memberId);
  rows.push({
    label: `names of the top 100`,
    over: 'SELECT ... FROM ul_members (PostgreSQL only)',
    latency: await timeSequential(requests, async () => {
      await ctx.db.any('SELECT member_id, name FROM ul_members WHERE member_id = ANY($1)', [topIds]);
    }),
  });
  await gate.wait();
  rows.push({
    label: `my rank in ${province} (all time)`,
    over: 'HTTP GET /v1/me/rank',
    latency: await timeSequential(requests, async (i) => {
      const answer = await ctx.http.request('GET', `/v1/me/rank?orgId=${province}&period=all`, { token: tokens[i]! });
      expectOk(answer, 'GET /v1/me/rank');
    }),
  });
  rows.push({
    label: `my rank in ${province} (all time)`,
    over: 'Leaderboards.rankOf (Redis only)',
    latency: await timeSequential(requests, async () => {
      await leaderboards.rankOf(province, 'all', '', fixtureMember(randomIndex(), ctx.tree).memberId);
    }),
  });
  const size = await ctx.redis.zcard(leaderboards.key(province, 'all', ''));
  sample += `; ${fmtInt(size)} members in the province's all-time set`;
  return { rows, sample };
}

// ---------------------------------------------------------------------------------------------
// Report

function countsText(counts: Map<string, number>): string {
  return [...counts].sort((a, b) => b[1] - a[1]).map(([label, count]) => `${label}: ${fmtInt(count)}`).join(', ') || 'none';
}

function printRuns(runs: CommandRun[]): void {
  log('## Commands over HTTP vs plain INSERTs at the same concurrency');
  log(
    formatTable(
      ['clients', 'commands/s', 'p50 ms', 'p99 ms', 'max ms', 'INSERT rows/s', 'INSERT p50', 'INSERT p99', 'ratio', '201', '409', 'other', '5xx'],
      runs.map((run) => [
        String(run.concurrency),
        fmtInt(run.all.count / run.elapsedS),
        fmtMs(run.all.p50),
        fmtMs(run.all.p99),
        fmtMs(run.all.max),
        fmtInt(run.baseline.rowsPerS),
        fmtMs(run.baseline.latency.p50),
        fmtMs(run.baseline.latency.p99),
        fmtRatio(run.all.count / run.elapsedS / run.baseline.rowsPerS),
        fmtInt(run.created),
        fmtInt([...run.expected409.values()].reduce((a, b) => a + b, 0)),
        fmtInt([...run.otherStatuses.values()].reduce((a, b) => a + b, 0)),
        fmtInt(run.serverErrors),
      ]),
    ),
  );
  log();
  log('Per command (p50 / p99 ms):');
  log(
    formatTable(
      ['clients', ...OPS.map((op) => `${op} n`), ...OPS.map((op) => `${op} p50/p99`)],
      runs.map((run) => [
        String(run.concurrency),
        ...OPS.map((op) => fmtInt(run.byOp[op].count)),
        ...OPS.map((op) => `${fmtMs(run.byOp[op].p50)} / ${fmtMs(run.byOp[op].p99)}`),
      ]),
    ),
  );
  for (const run of runs) log(`  ${run.concurrency} clients: 409s ${countsText(run.expected409)}; other non-201: ${countsText(run.otherStatuses)}`);
  log();
  log('## What HTTP leaves on this machine: the floor (GET /health through the service) and the ceiling (a bare Fastify server, one INSERT a request)');
  log(
    formatTable(
      ['clients', 'INSERT rows/s', 'ceiling req/s', 'ceiling p99', 'ceiling / INSERT', 'floor req/s', 'floor p99', 'floor / INSERT', 'commands/s', 'commands / INSERT', 'commands / ceiling'],
      runs.map((run) => {
        const commandsPerS = run.all.count / run.elapsedS;
        return [
          String(run.concurrency),
          fmtInt(run.baseline.rowsPerS),
          fmtInt(run.ceiling.requestsPerS),
          fmtMs(run.ceiling.latency.p99),
          fmtRatio(run.ceiling.requestsPerS / run.baseline.rowsPerS),
          fmtInt(run.floor.requestsPerS),
          fmtMs(run.floor.latency.p99),
          fmtRatio(run.floor.requestsPerS / run.baseline.rowsPerS),
          fmtInt(commandsPerS),
          fmtRatio(commandsPerS / run.baseline.rowsPerS),
          fmtRatio(commandsPerS / run.ceiling.requestsPerS),
        ];
      }),
    ),
  );
  log('ceiling: bench/lib/bare-insert-server.ts, the baseline\'s INSERT behind a bare Fastify route (no NestJS, token, rate limit or log); floor: one SELECT 1 and one Redis PING through the whole service.');
  log();
  log('## Projection lag and CPU');
  const lagCell = (figures: LagFigures): string => (figures.lagsMs.length ? `${fmtMs(summarise(figures.lagsMs).p50)} / ${fmtMs(summarise(figures.lagsMs).p99)}` : '-');
  const nullable = (value: number | null): string => (value === null ? '-' : fmtMs(value));
  log(
    formatTable(
      ['clients', 'ledger lag p50/p99 (probe)', 'leaderboard lag p50/p99 (probe)', 'ledger p99 (service)', 'leaderboard p99 (service)', 'drain after load ms', 'host busy', 'service', 'postgres', 'redis', 'bench client', 'other'],
      runs.map((run) => [
        String(run.concurrency),
        lagCell(run.probe.ledger),
        lagCell(run.probe.leaderboard),
        nullable(run.service.ledgerP99),
        nullable(run.service.leaderboardP99),
        fmtMs(run.drainMs),
        fmtPct(run.cpu.hostPct),
        fmtPct(run.cpu.servicePct),
        fmtPct(run.cpu.postgresPct),
        fmtPct(run.cpu.redisPct),
        fmtPct(run.cpu.benchPct),
        fmtPct(run.cpu.otherPct),
      ]),
    ),
  );
  log(
    'probe: every event of the run, checkpoints read every 50 ms from outside (an upper bound, +50 ms); service: GET /v1/admin/projections ' +
      '(its last 10,000 events, cumulative over the runs so far). host busy: % of all cores; service / postgres (this database\'s ' +
      'backends) / redis / bench client / other (WAL writer, checkpointer, kernel, anything else running): % of one core.',
  );
  log();
  log('## CPU per command by process (ms of CPU per command served; per row for the plain INSERTs of the same concurrency)');
  const perCommand = (run: CommandRun, pct: number): string => fmtMs((10 * pct) / (run.all.count / run.elapsedS));
  const perRow = (run: CommandRun, pct: number): string => fmtMs((10 * pct) / run.baseline.rowsPerS);
  log(
    formatTable(
      ['clients', 'commands/s', 'service', 'postgres', 'redis', 'bench client', 'sum', 'INSERT: postgres', 'INSERT: client', 'other CPU', 'load average', 'pg transactions / command', 'service SQL statements / command'],
      runs.map((run) => [
        String(run.concurrency),
        fmtInt(run.all.count / run.elapsedS),
        perCommand(run, run.cpu.servicePct),
        perCommand(run, run.cpu.postgresPct),
        perCommand(run, run.cpu.redisPct),
        perCommand(run, run.cpu.benchPct),
        perCommand(run, run.cpu.servicePct + run.cpu.postgresPct + run.cpu.redisPct + run.cpu.benchPct),
        perRow(run, run.baseline.postgresPct),
        perRow(run, run.baseline.benchPct),
        fmtPct(run.cpu.otherPct),
        run.loadAverage.toFixed(1),
        run.transactionsPerCommand.toFixed(1),
        run.statementsPerCommand.toFixed(2),
      ]),
    ),
  );
  log(
    'From /proc/<pid>/stat (utime + stime) over the measured seconds: the service process (HTTP, its projections and, with WORKERS on, ' +
      'its workers), the PostgreSQL backends of the bench database, the whole Redis server (shared with anything else using it), and this ' +
      'benchmark process. other CPU: busy CPU outside them (% of one core), the sign of a shared machine.',
  );
  for (const run of runs) {
    const uncovered = run.probe.ledger.uncovered + run.probe.leaderboard.uncovered;
    if (uncovered > 0) log(`  ${run.concurrency} clients: ${uncovered} events not covered by any checkpoint reading`);
  }
  log();
}

function printTargets(runs: CommandRun[], boards: BoardRow[]): void {
  const top = runs[runs.length - 1]!;
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  const ratio = top.all.count / top.elapsedS / top.baseline.rowsPerS;
  const lagP99 = Math.max(
    ...[top.probe.ledger, top.probe.leaderboard].map((figures) => (figures.lagsMs.length ? summarise(figures.lagsMs).p99 : Number.NaN)),
  );
  const httpBoards = boards.filter((row) => row.over.startsWith('HTTP'));
  const boardP99 = Math.max(...httpBoards.map((row) => row.latency.p99));
  log(`## Targets (at ${top.concurrency} clients)`);
  log(`- commands/s >= 0.5x plain INSERTs: ${fmtRatio(ratio)}: ${verdict(ratio >= 0.5)}`);
  log(`- command p99 < 50 ms: ${fmtMs(top.all.p99)} ms: ${verdict(top.all.p99 < 50)}`);
  log(`- projection lag p99 < 1 s (worse of ledger and leaderboard, probe): ${fmtMs(lagP99)} ms: ${verdict(lagP99 < 1000)}`);
  log(`- leaderboard top-100 and my-rank p99 < 5 ms over HTTP: ${fmtMs(boardP99)} ms: ${verdict(boardP99 < 5)}`);
  log();
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = parseCheckinArgs(process.argv.slice(2));
  const started = process.hrtime.bigint();
  const server = await resolvePostgres();
  const redisTarget = await redisUrl();
  // At most 36 connections for the benchmark's own pool (the baseline's INSERTs): 256 clients cannot
  // each have one under the default max_connections of 100, which the service (20) and anything
  // else on the cluster share. More clients than connections queue on the pool, as they do in the
  // service (DATABASE_POOL_MAX 20).
  const poolMax = Math.min(Math.max(...args.concurrency) + 4, 36);
  const secret = randomBytes(32).toString('hex');
  const piiMaster = randomBytes(32).toString('base64');
  const piiHmac = randomBytes(32).toString('base64');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ul-bench-checkin-'));
  const profileDir = path.join(os.tmpdir(), `ul-bench-checkin-profile-${RUN_TAG}`);
  let db: Database | undefined;
  let dbName = args.database ?? '';
  let dropOnExit = false;
  let redis: Redis | undefined;
  let redisPrefix = `ul-bench-${RUN_TAG}:`;
  let service: ServiceProcess | undefined;
  let http: BenchHttpClient | undefined;
  let bare: { process: ServiceProcess; http: BenchHttpClient } | undefined;
  let failed = false;

  const cleanup = async (): Promise<void> => {
    http?.close();
    http = undefined;
    if (bare) {
      bare.http.close();
      await bare.process.stop();
      bare = undefined;
    }
    if (service) {
      const code = await service.stop();
      if (code !== 0) log(`service exited with code ${code}`);
      service = undefined;
    }
    if (db) {
      await closeDatabase(db);
      db = undefined;
    }
    if (dropOnExit && !args.keep) {
      await adminQuery(server.adminUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      log(`dropped database ${dbName}`);
    }
    if (redis) {
      if (!args.keep) log(`deleted ${fmtInt(await clearRedis(redis, redisPrefix))} Redis keys under ${redisPrefix}`);
      redis.disconnect();
      redis = undefined;
    }
    await rm(dataDir, { recursive: true, force: true });
    await server.stop();
  };
  process.once('SIGINT', () => {
    log('interrupted: cleaning up');
    void cleanup().finally(() => process.exit(130));
  });

  try {
    log('# Union Ledger check-in benchmark');
    log(
      `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ` +
        `load average ${os.loadavg().map((value) => value.toFixed(2)).join(' ')} at start`,
    );
    log(`command: node dist/bench/checkin.js ${process.argv.slice(2).join(' ')}`.trim());
    log(`source: ${sourceVersion()} (dist/ as last built)`);

    // Database and Redis
    let fixtureNotes: string[] = [];
    let tree: OrgTree;
    let members: number;
    if (args.database) {
      const url = new URL(server.adminUrl);
      url.pathname = `/${args.database}`;
      db = connectDatabase({ url: url.toString(), poolMax, applicationName: `ul-bench-${args.database}` });
      await migrate(db, MIGRATIONS);
      const info = (await db.one<{ info: FixtureInfo }>('SELECT info FROM bench_checkin_fixture')).info;
      tree = planTree(info.cities, info.counties, info.unions);
      members = info.members;
      dropOnExit = true;
      redisPrefix = info.redisPrefix;
      redis = new Redis(redisTarget, { maxRetriesPerRequest: 3 });
      fixtureNotes = [`reusing database ${dbName} and Redis keys ${redisPrefix}*: ${fmtInt(members)} members (fixture built by an earlier --keep run)`];
    } else {
      const bench = await createBenchDatabase(server.adminUrl, poolMax);
      db = bench.db;
      dbName = bench.name;
      dropOnExit = true;
      redis = new Redis(redisTarget, { maxRetriesPerRequest: 3 });
      tree = planTree(args.cities, args.counties, args.unions);
      members = args.members;
      log(`database ${dbName}, Redis keys ${redisPrefix}*; building the fixture (${fmtInt(members)} members)`);
      const t0 = process.hrtime.bigint();
      fixtureNotes = await buildFixture(db, redis, redisPrefix, args, tree);
      fixtureNotes.push(`fixture total: ${seconds(msSince(t0))}`);
    }
    log(`servers: ${server.description}, ${await describePostgres(db)}; Redis ${await redisInfo(redis, 'redis_version')} at ${redisTarget}`);
    const size = await db.one<{ events: string; total: string }>(
      `SELECT (SELECT count(*) FROM ul_events)::text AS events, pg_size_pretty(pg_total_relation_size('ul_events')) AS total`,
    );
    log('## Fixture');
    for (const note of fixtureNotes) log(`- ${note}`);
    log(`- ul_events: ${fmtInt(Number(size.events))} events, ${size.total} with indexes`);
    log();
    await db.none(BASELINE_TABLE_SQL);

    // The service
    const benchDbUrl = new URL(server.adminUrl);
    benchDbUrl.pathname = `/${dbName}`;
    const t0 = process.hrtime.bigint();
    service = await startService({
      DATABASE_URL: benchDbUrl.toString(),
      REDIS_URL: redisTarget,
      REDIS_KEY_PREFIX: redisPrefix,
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      JWT_SECRET: secret,
      PII_MASTER_KEY: piiMaster,
      PII_HMAC_KEY: piiHmac,
      // Load shedding off: the benchmark measures how many commands the service serves, and on
      // a shared 2-core machine the event-loop check answered 503 before the load even started.
      HTTP_MAX_EVENT_LOOP_DELAY_MS: '0',
      ...(args.poolMax ? { DATABASE_POOL_MAX: String(args.poolMax) } : {}),
      RATE_LIMIT_PER_SECOND: '100000',
      RATE_LIMIT_BURST: '1000000',
      LOG_FORMAT: 'text',
    }, { nodeArgs: args.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [], ...(args.serviceMain ? { mainJs: path.resolve(args.serviceMain) } : {}) });
    log(`service: node ${args.serviceMain ?? 'dist/src/main.js'} (pid ${service.pid}) listening on ${service.url} after ${seconds(msSince(t0))}; pool DATABASE_POOL_MAX=${args.poolMax ?? '20 (default)'}`);
    http = new BenchHttpClient(service.url, Math.max(...args.concurrency));
    const bareProcess = await startService({ DATABASE_URL: benchDbUrl.toString(), HOST: '127.0.0.1', PORT: '0' }, { mainJs: path.resolve(__dirname, 'lib/bare-insert-server.js') });
    bare = { process: bareProcess, http: new BenchHttpClient(bareProcess.url, Math.max(...args.concurrency)) };
    const tokens = new Map<number, string>();
    const signer = tokenService(secret);
    const ctx: LoadContext = {
      http,
      db,
      redis,
      redisPrefix,
      tree,
      members,
      quizzes: [],
      service,
      bare,
      redisPid: Number(await redisInfo(redis, 'process_id')),
      adminToken: await signer.sign({ sub: 'bench-admin', role: 'admin', org: tree.province }, { ttlSeconds: 24 * 3600 }),
      async memberToken(index) {
        let token = tokens.get(index);
        if (!token) {
          const member = fixtureMember(index, tree);
          token = await signer.sign({ sub: member.memberId, role: 'member', org: member.orgId }, { ttlSeconds: 24 * 3600 });
          tokens.set(index, token);
        }
        return token;
      },
    };
    for (let q = 0; q < args.quizzes; q += 1) {
      const quizId = `bench-quiz-${RUN_TAG}-${q}`;
      const answer = await http.request('POST', '/v1/admin/quizzes', {
        token: ctx.adminToken,
        key: `quiz-${quizId}`,
        body: { quizId, question: `Question ${q} of the benchmark`, options: ['A', 'B', 'C', 'D'], correctAnswer: 'B' },
      });
      if (answer.status !== 201) throw new Error(`publishing quiz ${quizId} answered ${answer.status}: ${answer.body}`);
      ctx.quizzes.push(quizId);
    }
    log(`published ${ctx.quizzes.length} quizzes through POST /v1/admin/quizzes`);
    log(
      `load: ${args.concurrency.join(' and ')} clients x ${args.seconds} s each, 70 % check-ins, 15 % quiz answers, 15 % article reads, random members ` +
        `of ${fmtInt(members)}. The clients run on the same ${os.cpus().length} cores as the service, PostgreSQL and Redis.`,
    );
    log();

    // The fixture's activations asked for an insurance grant each (as real activations do), and
    // the service's workers carry them out as soon as it starts: measured commands must not share
    // the machine with that backlog, so it is drained (and timed) first.
    const drained = await drainFixtureEffects(db);
    log(`fixture side effects: ${fmtInt(drained.effects)} insurance grants carried out by the service's workers in ${seconds(drained.ms)} before the load`);
    const gate = new QuietGate(args.quietWait, args.quietThreshold);
    // The warm-up is measured too: right after a start the service's caches are cold (members,
    // organisation paths), which is what every deploy or restart goes through.
    const warm = await runCommands(ctx, Math.max(...args.concurrency), WARMUP_MS, new QuietGate(0, 100));
    const p99 = (figures: LagFigures): string => (figures.lagsMs.length ? fmtMs(summarise(figures.lagsMs).p99) : '-');
    log(
      `warm-up right after the start (${WARMUP_MS / 1000} s, ${warm.concurrency} clients, cold caches; not in the tables): ` +
        `${fmtInt(warm.all.count / warm.elapsedS)} commands/s, p50 ${fmtMs(warm.all.p50)} ms, p99 ${fmtMs(warm.all.p99)} ms; ` +
        `projection lag p99 ledger ${p99(warm.probe.ledger)} ms, leaderboard ${p99(warm.probe.leaderboard)} ms (probe)`,
    );
    if (warm.serverErrors > 0) failed = true;

    const runs: CommandRun[] = [];
    for (const concurrency of [...args.concurrency].sort((a, b) => a - b)) {
      const commands = await runCommands(ctx, concurrency, args.seconds * 1000, gate);
      const baseline = await runBaseline(ctx, concurrency, args.seconds * 1000, gate);
      const floor = await measureFloor(ctx, concurrency, Math.min(5, args.seconds) * 1000, gate);
      const ceiling = await measureCeiling(ctx, concurrency, Math.min(5, args.seconds) * 1000, gate);
      const run: CommandRun = { ...commands, baseline, floor, ceiling };
      runs.push(run);
      log(
        `  ${concurrency} clients: ${fmtInt(run.all.count / run.elapsedS)} commands/s (p50 ${fmtMs(run.all.p50)} ms, p99 ${fmtMs(run.all.p99)} ms) vs ` +
          `${fmtInt(baseline.rowsPerS)} INSERTs/s = ${fmtRatio(run.all.count / run.elapsedS / baseline.rowsPerS)}; drain ${fmtMs(run.drainMs)} ms`,
      );
      log(
        `  ${concurrency} clients: floor GET /health ${fmtInt(floor.requestsPerS)} requests/s (p50 ${fmtMs(floor.latency.p50)} ms, p99 ${fmtMs(floor.latency.p99)} ms, ` +
          `service CPU ${floor.serverCpuMsPerRequest.toFixed(2)} ms/request) = ${fmtRatio(floor.requestsPerS / baseline.rowsPerS)} of INSERTs; commands at ${fmtRatio(run.all.count / run.elapsedS / floor.requestsPerS)} of the floor`,
      );
      log(
        `  ${concurrency} clients: HTTP ceiling (bare Fastify, one INSERT a request) ${fmtInt(ceiling.requestsPerS)} requests/s (p50 ${fmtMs(ceiling.latency.p50)} ms, ` +
          `p99 ${fmtMs(ceiling.latency.p99)} ms, server CPU ${ceiling.serverCpuMsPerRequest.toFixed(2)} ms/request) = ${fmtRatio(ceiling.requestsPerS / baseline.rowsPerS)} of INSERTs`,
      );
      if (run.serverErrors > 0) failed = true;
    }
    log();
    printRuns(runs);

    const boards = await measureLeaderboards(ctx, args.leaderboardRequests, gate);
    log(`## Leaderboards (${fmtInt(args.leaderboardRequests)} sequential requests each after ${LEADERBOARD_WARMUP} warm-up, random members)`);
    log(formatTable(['query', 'over', 'p50 ms', 'p99 ms', 'max ms'], boards.rows.map((row) => [row.label, row.over, fmtMs(row.latency.p50), fmtMs(row.latency.p99), fmtMs(row.latency.max)])));
    log(`sample answer: ${boards.sample}`);
    log();

    printTargets(runs, boards.rows);

    const errors = service.errorLines();
    if (errors.length > 0) {
      log(`service logged ${errors.length} error lines; the first: ${errors.slice(0, 3).join(' | ')}`);
    }
    log(
      `waited ${gate.waitedS} s for an idle machine (below ${args.quietThreshold} % busy); ${gate.busyStarts} measurements started on a busy machine ` +
        `after the wait budget ran out; load average ${os.loadavg().map((value) => value.toFixed(2)).join(' ')} at the end`,
    );
    if (failed) {
      log('FAILED: the service answered 5xx');
      process.exitCode = 1;
    }
    if (args.profile) {
      await service.stop();
      service = undefined;
      const profile = summariseProfile(profileDir);
      if (profile) {
        log(`## Service CPU profile (${profile.file}, ${fmtInt(profile.totalMs)} ms of samples over the whole service run)`);
        log(formatTable(['area', 'self ms', 'share'], profile.byArea.map(([area, ms]) => [area, fmtInt(ms), fmtPct((100 * ms) / profile.totalMs)])));
        log();
        log(formatTable(['function', 'self ms', 'share'], profile.byFunction.map(([name, ms]) => [name, fmtInt(ms), fmtPct((100 * ms) / profile.totalMs)])));
        log();
        // The flame graph of the same profile (bench/lib/flame-graph.ts), kept beside it with the folded stacks.
        const folded = foldProfile(readCpuProfile(profile.file));
        const svgFile = path.join(profileDir, 'flame-graph.svg');
        await writeFile(svgFile, renderFlameGraph(folded, { title: `bench:checkin service CPU profile (${sourceVersion()}; ${args.concurrency.join('/')} clients)` }));
        await writeFile(path.join(profileDir, 'stacks.folded'), foldedText(folded));
        log(`flame graph: ${svgFile} (folded stacks beside it; re-render with node dist/bench/flame-graph.js ${profile.file} --out=FILE.svg)`);
        log();
      }
    }
    if (args.keep) log(`kept: reuse with --database=${dbName} (Redis keys ${redisPrefix}*)`);
    log(`total time ${seconds(msSince(started))}`);
  } catch (error) {
    if (service) log(`service log (last lines):\n${service.logTail().slice(-30).join('\n')}`);
    throw error;
  } finally {
    await cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
