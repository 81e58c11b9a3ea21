/**
 * Scale benchmark: `npm run bench:scale` (see docs/BENCHMARKS.md, "Many instances and partitions").
 *
 *   1. A fresh ul_bench_<random> database and a Redis key prefix of its own; a union tree and
 *      --members members bulk-loaded as enrolled and activated (bench/lib/member-fixture.ts).
 *   2. For each instance count (--instances, default 1,2,4): that many `node dist/src/main.js`
 *      (WORKERS=off, their projections live under leadership, spread over them), a round-robin
 *      client with --concurrency keep-alive connections in all, each check-in for a member not yet
 *      checked in (so every one is a real command: PointsGranted and CheckedIn appended), for
 *      --seconds after a short warm-up. Reported: check-ins/s, latency percentiles, and CPU per
 *      command: the services' processes plus the database's backends serving them, and the whole
 *      machine. Then plain single-row autocommit INSERTs at the same concurrency for the same time
 *      (the baseline of the same run).
 *   3. For each partition count (--partitions, default 1,2,4): the members projection and the
 *      leaderboards rebuilt from event zero, partitions in parallel (rebuildProjection,
 *      rebuildLeaderboards): events/s and CPU per event against one partition.
 *
 * The machine is shared: the load average is printed with the results, and the ratios are the
 * figures to compare.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { tokenService, UnionLedger } from '../src/composition-root';
import type { Database } from '../src/infra/database';
import { probeTcp } from '../src/infra/embedded';
import { rebuildProjection } from '../src/projections';
import { catchUpLeaderboards, Leaderboards, rebuildLeaderboards } from '../src/projections/earning';
import { membersProjection } from '../src/projections/members';
import { cpuSince, hostBusyPct, sampleCpu, type CpuReport } from './lib/cpu';
import { createBenchDatabase, resolvePostgres } from './lib/database';
import { BenchHttpClient } from './lib/http-client';
import { runLoad, type LoadResult } from './lib/load';
import { fixtureMember, loadMembers, MemberTemplate, planTree, registerTree, type FixtureClock, type OrgTree } from './lib/member-fixture';
import { clearRedis } from './lib/redis';
import { processesCpuSeconds, cpuSecondsBetween, startService, type ServiceProcess } from './lib/service-process';
import { summarise } from './lib/stats';
import { fmtInt, fmtMs, fmtRatio, formatTable } from './lib/table';

const log = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
process.stdout.on('error', () => undefined);

interface ScaleArgs {
  members: number;
  seconds: number;
  warmupSeconds: number;
  concurrency: number;
  instances: number[];
  partitions: number[];
  keep: boolean;
}

const USAGE = `Usage: node dist/bench/scale.js [--members 60000] [--seconds 8] [--warmup 2] [--concurrency 16] [--instances 1,2,4] [--partitions 1,2,4] [--keep]`;

function parseArgs(argv: string[]): ScaleArgs {
  const args: ScaleArgs = { members: 60_000, seconds: 8, warmupSeconds: 2, concurrency: 16, instances: [1, 2, 4], partitions: [1, 2, 4], keep: false };
  const list = (raw: string | undefined, max: number): number[] => {
    const values = (raw ?? '').split(',').map(Number);
    if (values.length === 0 || values.some((value) => !Number.isInteger(value) || value < 1 || value > max)) throw new Error(`${USAGE}\n(a list of 1 to ${max})`);
    return values;
  };
  const int = (raw: string | undefined, min: number, max: number): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${USAGE}\n(${raw}: from ${min} to ${max})`);
    return value;
  };
  for (let index = 2; index < argv.length; index += 1) {
    const flag = argv[index];
    const value = argv[index + 1];
    if (flag === '--keep') args.keep = true;
    else if (flag === '--members') args.members = int(value, 1_000, 2_000_000);
    else if (flag === '--seconds') args.seconds = int(value, 1, 600);
    else if (flag === '--warmup') args.warmupSeconds = int(value, 0, 60);
    else if (flag === '--concurrency') args.concurrency = int(value, 1, 256);
    else if (flag === '--instances') args.instances = list(value, 8);
    else if (flag === '--partitions') args.partitions = list(value, 64);
    else throw new Error(USAGE);
    if (flag !== '--keep') index += 1;
  }
  return args;
}

async function redisUrl(): Promise<string> {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  if (await probeTcp('127.0.0.1', 6379)) return 'redis://127.0.0.1:6379';
  throw new Error('no Redis: set REDIS_URL or run one on 127.0.0.1:6379');
}

const loadAverage = (): string => os.loadavg().map((value) => value.toFixed(2)).join(' ');

async function backendPids(db: Database, dbName: string): Promise<number[]> {
  const rows = await db.any<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName]);
  return rows.map((row) => row.pid);
}

interface HttpPhase {
  instances: number;
  load: LoadResult;
  refused: number;
  servicesCpuS: number;
  backendsCpuS: number;
  host: CpuReport;
  drainS: number;
  /** CPU seconds per second the instances and their backends used with no load. */
  idleCpuPerS: number;
}

/** Waits (at most two minutes) until every projection checkpoint has passed the log's last event; returns the seconds it took. */
async function drainProjections(db: Database): Promise<number> {
  const started = Date.now();
  const head = await db.one<{ max: string }>('SELECT max(global_position)::text AS max FROM ul_events');
  for (let poll = 0; poll < 2_400; poll += 1) {
    const row = await db.one<{ behind: string }>(
      `SELECT count(*) FILTER (WHERE c.global_position IS NULL OR (c.transaction_id, c.global_position) < (t.transaction_id, t.global_position)) AS behind
         FROM ul_checkpoints k LEFT JOIN ul_events c ON c.global_position = k.position, ul_events t
        WHERE t.global_position = $1 AND k.name NOT LIKE 'workers.%'`,
      [head.max],
    );
    if (Number(row.behind) === 0) return (Date.now() - started) / 1000;
    // The pause between polls of a condition, not a synchronisation.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the projections did not drain within two minutes');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv);
  const server = await resolvePostgres(log);
  const redisTarget = await redisUrl();
  const redis = new Redis(redisTarget, { maxRetriesPerRequest: null });
  const prefix = `ul-bench-scale-${randomBytes(3).toString('hex')}:`;
  const bench = await createBenchDatabase(server.adminUrl, args.concurrency + 4);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'union-ledger-bench-scale-'));
  const secret = randomBytes(32).toString('hex');
  const pii = { master: randomBytes(32).toString('base64'), hmac: randomBytes(32).toString('base64') };
  const services: ServiceProcess[] = [];
  log(`# bench:scale (${new Date().toISOString()}), ${os.cpus().length} cores, load average ${loadAverage()}`);
  log(`servers: ${server.description}; Redis at ${redisTarget}`);
  try {
    // Fixture
    const tree: OrgTree = planTree(2, 3, 4);
    const ledger = new UnionLedger({ config: { eventStore: 'postgres', kurrentDbUrl: undefined, redisKeyPrefix: prefix }, db: bench.db, redis, listen: false });
    await registerTree(ledger.orgs, tree);
    const rules = await ledger.rules.currentRules();
    const startMs = Date.now();
    const clock: FixtureClock = { enrolledAt: new Date(startMs - 3_600_000), activatedAt: new Date(startMs - 1_800_000) };
    const { template } = MemberTemplate.build(tree, rules, clock, args.members);
    const loaded = await loadMembers(bench.db, template, { from: 0, to: args.members, chunk: 2_000 });
    await bench.db.none('VACUUM (ANALYZE) ul_events');
    // The read models and boards caught up before any service starts, so the phases measure
    // check-ins and their live projection, not a catch-up of the fixture.
    let t0 = process.hrtime.bigint();
    await ledger.catchUpReadModels();
    await catchUpLeaderboards(ledger.store, bench.db, ledger.leaderboards);
    const caughtUpS = Number(process.hrtime.bigint() - t0) / 1e9;
    await ledger.close();
    await bench.db.none('CREATE TABLE bench_scale_baseline (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream_id text NOT NULL, data jsonb NOT NULL)');
    log(`fixture: ${fmtInt(loaded.members)} members, ${fmtInt(loaded.events)} events bulk-loaded in ${loaded.seconds.toFixed(1)} s; read models and leaderboards caught up in ${caughtUpS.toFixed(1)} s`);
    log();

    // Check-ins over HTTP, 1, 2, 4 instances
    const signer = tokenService(secret);
    let nextMember = 0;
    const phases: HttpPhase[] = [];
    for (const count of args.instances) {
      const env: Record<string, string> = {
        DATABASE_URL: bench.url,
        REDIS_URL: redisTarget,
        REDIS_KEY_PREFIX: prefix,
        HOST: '127.0.0.1',
        PORT: '0',
        DATA_DIR: dataDir,
        JWT_SECRET: secret,
        PII_MASTER_KEY: pii.master,
        PII_HMAC_KEY: pii.hmac,
        WORKERS: 'off',
        HTTP_MAX_EVENT_LOOP_DELAY_MS: '0',
        RATE_LIMIT_PER_SECOND: '100000',
        RATE_LIMIT_BURST: '1000000',
        // The pool of one instance, shared out: the database sees the same number of connections whatever the count.
        DATABASE_POOL_MAX: String(Math.max(4, Math.ceil(20 / count))),
      };
      const started = await Promise.all(Array.from({ length: count }, () => startService(env, { startTimeoutMs: 180_000 })));
      services.push(...started);
      const clients = started.map((service) => new BenchHttpClient(service.url, Math.ceil(args.concurrency / count) + 1));
      let refused = 0;
      let turn = 0;
      const operation = async (): Promise<number> => {
        const index = nextMember++;
        if (index >= args.members) throw new Error(`out of members after ${index} check-ins: run with a larger --members`);
        const member = fixtureMember(index, tree);
        const token = await signer.sign({ sub: member.memberId, role: 'member', org: member.orgId }, { ttlSeconds: 900 });
        // Round robin over the instances, as a plain load balancer would.
        const client = clients[turn++ % clients.length]!;
        const answer = await client.request('POST', '/v1/me/check-ins', { token, key: `scale-${index}` });
        if (answer.status !== 201) {
          refused += 1;
          if (refused < 5) log(`  answer ${answer.status}: ${answer.body.slice(0, 200)}`);
        }
        return 1;
      };
      if (args.warmupSeconds > 0) await runLoad({ concurrency: args.concurrency, durationMs: args.warmupSeconds * 1000, operation });
      refused = 0;
      // The warm-up's commands projected first, so the idle figure is idle.
      await drainProjections(bench.db);
      const pids = await backendPids(bench.db, bench.name);
      // What the instances cost with no load (leader ticks, pollers, timers): measured so that the
      // CPU per command can be given without it too, since on a starved machine few commands run.
      const idleMs = 3_000;
      const idleBefore = processesCpuSeconds([...started.map((service) => service.pid), ...pids]);
      await new Promise((resolve) => setTimeout(resolve, idleMs));
      const idleCpuPerS = cpuSecondsBetween(idleBefore, processesCpuSeconds([...started.map((service) => service.pid), ...pids])) / (idleMs / 1000);
      const servicesBefore = processesCpuSeconds(started.map((service) => service.pid));
      const backendsBefore = processesCpuSeconds(pids);
      const host = sampleCpu();
      const load = await runLoad({ concurrency: args.concurrency, durationMs: args.seconds * 1000, operation });
      // The projections' share of a command's cost: CPU is counted until they have applied it all.
      const drainS = await drainProjections(bench.db);
      const hostCpu = cpuSince(host);
      const servicesCpuS = cpuSecondsBetween(servicesBefore, processesCpuSeconds(started.map((service) => service.pid)));
      const backendsCpuS = cpuSecondsBetween(backendsBefore, processesCpuSeconds(pids));
      phases.push({ instances: count, load, refused, servicesCpuS, backendsCpuS, host: hostCpu, drainS, idleCpuPerS });
      log(`  ${count} instance(s): ${fmtInt(load.operations / load.elapsedS)} check-ins/s, ${refused} not 201, projections drained ${drainS.toFixed(1)} s after; load average ${loadAverage()}`);
      for (const client of clients) client.close();
      for (const service of started) {
        await service.stop();
        services.splice(services.indexOf(service), 1);
      }
    }

    // Baseline: plain INSERTs at the same concurrency, for the same time.
    const baselineHost = sampleCpu();
    const baseline = await runLoad({
      concurrency: args.concurrency,
      durationMs: args.seconds * 1000,
      operation: async (worker, iteration) => {
        await bench.db.none('INSERT INTO bench_scale_baseline (stream_id, data) VALUES ($1, $2::jsonb)', [`baseline-${worker}-${iteration}`, '{"points":5}']);
        return 1;
      },
    });
    const baselineCpu = cpuSince(baselineHost);
    const baselineRate = baseline.operations / baseline.elapsedS;

    log();
    log(`## Check-ins over HTTP, round robin over N instances (${args.concurrency} connections in all, ${args.seconds} s each)`);
    const first = phases[0]!;
    const firstRate = first.load.operations / first.load.elapsedS;
    const firstCpuMs = ((first.servicesCpuS + first.backendsCpuS) * 1000) / first.load.operations;
    const rows = phases.map((phase) => {
      const rate = phase.load.operations / phase.load.elapsedS;
      const latency = summarise(phase.load.latenciesMs);
      const cpuMs = ((phase.servicesCpuS + phase.backendsCpuS) * 1000) / phase.load.operations;
      return [
        String(phase.instances),
        fmtInt(rate),
        fmtRatio(rate / firstRate),
        fmtRatio(rate / baselineRate),
        fmtMs(latency.p50),
        fmtMs(latency.p99),
        phase.drainS.toFixed(1),
        ((phase.servicesCpuS * 1000) / phase.load.operations).toFixed(2),
        ((phase.backendsCpuS * 1000) / phase.load.operations).toFixed(2),
        fmtRatio(cpuMs / firstCpuMs),
        (phase.idleCpuPerS * 1000).toFixed(0),
        (((phase.servicesCpuS + phase.backendsCpuS - phase.idleCpuPerS * (phase.load.elapsedS + phase.drainS)) * 1000) / phase.load.operations).toFixed(2),
        ((phase.host.hostBusyS * 1000) / phase.load.operations).toFixed(2),
        `${hostBusyPct(phase.host).toFixed(0)} %`,
      ];
    });
    rows.push(['INSERT baseline', fmtInt(baselineRate), '', '1.00', fmtMs(summarise(baseline.latenciesMs).p50), fmtMs(summarise(baseline.latenciesMs).p99), '', '', '', '', '', '', ((baselineCpu.hostBusyS * 1000) / baseline.operations).toFixed(2), `${hostBusyPct(baselineCpu).toFixed(0)} %`]);
    log(
      formatTable(
        ['instances', 'check-ins/s', 'vs 1 instance', 'vs INSERT', 'p50', 'p99', 'drain s', 'service CPU ms/cmd', 'PG backends CPU ms/cmd', 'CPU/cmd vs 1', 'idle CPU ms/s', 'CPU ms/cmd less idle', 'machine CPU ms/cmd', 'machine busy'],
        rows,
      ),
    );

    // Projection catch-up with 1, 2, 4 partitions (partitions in parallel, in this process).
    const events = Number((await bench.db.one<{ count: string }>('SELECT count(*) FROM ul_events')).count);
    log();
    log(`## Projection rebuild from event zero with P partitions (${fmtInt(events)} events in the log; partitions run in parallel)`);
    const rebuildRows: string[][] = [];
    let firstMembers: { rate: number; cpuMs: number } | undefined;
    let firstBoards: { rate: number; cpuMs: number } | undefined;
    const store = new UnionLedger({ config: { eventStore: 'postgres', kurrentDbUrl: undefined, redisKeyPrefix: prefix }, db: bench.db, listen: false });
    try {
      // Enough pooled connections open for every partition, so their backends are in the CPU sample
      // (sampled again before each measurement: the pool closes connections idle for 30 s).
      const ownBackends = async (): Promise<number[]> => {
        await Promise.all(Array.from({ length: Math.max(...args.partitions) + 2 }, () => bench.db.one('SELECT pg_sleep(0.05)')));
        return backendPids(bench.db, bench.name);
      };
      for (const count of args.partitions) {
        let cpu = sampleCpu(await ownBackends());
        t0 = process.hrtime.bigint();
        const members = await rebuildProjection(store.store, bench.db, membersProjection(), undefined, count);
        let seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        let used = cpuSince(cpu);
        const membersFigures = { rate: members / seconds, cpuMs: ((used.nodeS + used.backendsS) * 1e6) / Math.max(1, members) };
        firstMembers ??= membersFigures;
        rebuildRows.push([`members (PostgreSQL)`, String(count), fmtInt(members), seconds.toFixed(1), fmtInt(membersFigures.rate), fmtRatio(membersFigures.rate / firstMembers.rate), membersFigures.cpuMs.toFixed(1), fmtRatio(membersFigures.cpuMs / firstMembers.cpuMs)]);

        const boards = new Leaderboards(redis, `${prefix}rebuild-${count}:`, redis, count);
        cpu = sampleCpu(await ownBackends());
        t0 = process.hrtime.bigint();
        const grants = await rebuildLeaderboards(store.store, bench.db, boards);
        seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        used = cpuSince(cpu);
        await boards.clear();
        await boards.close();
        const boardFigures = { rate: grants / seconds, cpuMs: ((used.nodeS + used.backendsS) * 1e6) / Math.max(1, grants) };
        firstBoards ??= boardFigures;
        rebuildRows.push([`leaderboards (Redis)`, String(count), fmtInt(grants), seconds.toFixed(1), fmtInt(boardFigures.rate), fmtRatio(boardFigures.rate / firstBoards.rate), boardFigures.cpuMs.toFixed(1), fmtRatio(boardFigures.cpuMs / firstBoards.cpuMs)]);
        log(`  ${count} partition(s) done; load average ${loadAverage()}`);
      }
    } finally {
      await store.close();
    }
    log(formatTable(['projection', 'partitions', 'events applied', 'seconds', 'events/s', 'vs 1 partition', 'CPU µs/event (this process + its backends)', 'CPU/event vs 1'], rebuildRows));
    log();
    log(`load average at the end: ${loadAverage()}`);
  } finally {
    for (const service of services) await service.stop().catch(() => undefined);
    await clearRedis(redis, prefix).catch(() => undefined);
    redis.disconnect();
    await bench.close({ keep: args.keep });
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:scale failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
