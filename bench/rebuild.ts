/**
 * Projection rebuild benchmark: `npm run bench:rebuild` (see docs/BENCHMARKS.md, "Projection rebuilds").
 *
 *   1. A fresh ul_bench_<random> database and a Redis key prefix of its own.
 *   2. Fixture (timed, not measured): the check-in benchmark's tree and bulk-loaded members
 *      (bench/lib/member-fixture.ts): 4 events per member, one of them a 100-point grant.
 *   3. Baselines, in the same run: the feed read alone (readAll pages, no projection work), plain
 *      multi-row INSERTs of as many rows as the ledger projection writes, and a raw Redis pipeline
 *      of as many ZINCRBYs as the leaderboards make.
 *   4. The ledger projection rebuilt from zero (rebuildProjection), then the leaderboards
 *      (rebuildLeaderboards), each timed, with per-batch percentiles from the progress callback.
 *   Ratios: each rebuild's rate against "read the feed, then write the same rows plainly".
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import Redis from 'ioredis';
import { MIGRATIONS, UnionLedger } from '../src/composition-root';
import { closeDatabase, connectDatabase, type Database } from '../src/infra/database';
import { migrate } from '../src/infra/migrations';
import type { EventStore, ReadAllOptions } from '../src/eventstore/event-store';
import { START } from '../src/eventstore/event-store';
import { rebuildProjection, waitForVisibleFeed } from '../src/projections';
import { LEADERBOARD_EVENT_TYPES, LEADERBOARD_PERIODS, LEADERBOARD_STREAM_PREFIXES, rebuildLeaderboards } from '../src/projections/earning';
import { checkTrialBalance, ledgerProjection } from '../src/projections/ledger';
import { adminQuery, createBenchDatabase, resolvePostgres } from './lib/database';
import { loadMembers, MemberTemplate, planTree, registerTree, type FixtureClock } from './lib/member-fixture';
import { clearRedis } from './lib/redis';
import { msSince, summarise } from './lib/stats';
import { fmtInt, fmtMs, fmtRatio } from './lib/table';

const log = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
process.stdout.on('error', () => undefined);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

const USAGE = `Usage: node dist/bench/rebuild.js [options]
  --members=N      members in the fixture (4 events each, one a grant)           [200000]
  --cities=N --counties=N --unions=N   the tree under one province             [13, 100, 2000]
  --load-chunk=N   members per loading statement of the bulk loader             [2000]
  --only=ledger|leaderboards   rebuild one projection only                      [both]
  --keep           keep the database and Redis keys; --database=NAME reuses them
Servers: DATABASE_URL, else PostgreSQL on 127.0.0.1:5432; REDIS_URL, else Redis on 127.0.0.1:6379.`;

interface RebuildArgs {
  members: number;
  cities: number;
  counties: number;
  unions: number;
  loadChunk: number;
  only: 'ledger' | 'leaderboards' | undefined;
  keep: boolean;
  database: string | undefined;
}

function parse(argv: string[]): RebuildArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      members: { type: 'string', default: '200000' },
      cities: { type: 'string', default: '13' },
      counties: { type: 'string', default: '100' },
      unions: { type: 'string', default: '2000' },
      'load-chunk': { type: 'string', default: '2000' },
      only: { type: 'string' },
      keep: { type: 'boolean', default: false },
      database: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    log(USAGE);
    process.exit(0);
  }
  const int = (text: string, flag: string): number => {
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${flag} needs a positive integer\n${USAGE}`);
    return value;
  };
  if (values.only !== undefined && values.only !== 'ledger' && values.only !== 'leaderboards') throw new Error(`--only is ledger or leaderboards\n${USAGE}`);
  if (values.database !== undefined && !/^ul_bench_[a-z0-9_]+$/.test(values.database)) throw new Error(`--database must name a ul_bench_* database\n${USAGE}`);
  return {
    members: int(values.members, 'members'),
    cities: int(values.cities, 'cities'),
    counties: int(values.counties, 'counties'),
    unions: int(values.unions, 'unions'),
    loadChunk: Math.min(20_000, int(values['load-chunk'], 'load-chunk')),
    only: values.only as RebuildArgs['only'],
    keep: values.keep,
    database: values.database,
  };
}

/** Pages through the feed as a projection's catch-up does, without applying anything: the read floor. */
async function readFeed(store: EventStore, filter: Pick<ReadAllOptions, 'streamPrefixes' | 'eventTypes'>, limit: number): Promise<number> {
  let after = START;
  let events = 0;
  for (let page = 0; page < 100_000_000; page += 1) {
    const result = await store.readAll({ after, limit, ...filter });
    events += result.events.length;
    if (result.nextAfter === after || result.isEnd) break;
    after = result.nextAfter;
  }
  return events;
}

const BASELINE_TABLE_SQL = `
  DROP TABLE IF EXISTS bench_rebuild_rows;
  CREATE TABLE bench_rebuild_rows (id bigint PRIMARY KEY, stream_id text NOT NULL, account text NOT NULL, amount bigint NOT NULL, at timestamptz NOT NULL)`;

/** Plain multi-row INSERTs of `rows` rows of about a journal line's width, `perStatement` rows a statement, one transaction each. */
async function plainInserts(db: Database, rows: number, perStatement: number): Promise<void> {
  await db.none(BASELINE_TABLE_SQL);
  for (let start = 0; start < rows; start += perStatement) {
    const values: string[] = [];
    for (let id = start; id < Math.min(rows, start + perStatement); id += 1) {
      values.push(`(${id},'member-${id.toString(16).padStart(32, '0')}','member:${id.toString(16).padStart(32, '0')}:available',${id % 1000},'2026-11-30T10:00:00.000Z')`);
    }
    await db.none(`INSERT INTO bench_rebuild_rows (id, stream_id, account, amount, at) VALUES ${values.join(',')}`);
  }
}

/** A raw ioredis pipeline of `count` ZINCRBYs spread like the leaderboards' (16 keys a grant), `perPipeline` at a time. */
async function rawZincrby(redis: Redis, prefix: string, grants: number, perPipeline: number): Promise<number> {
  let commands = 0;
  for (let start = 0; start < grants; start += perPipeline) {
    const pipeline = redis.pipeline();
    for (let grant = start; grant < Math.min(grants, start + perPipeline); grant += 1) {
      const member = `m${grant}`;
      for (let level = 0; level < 4; level += 1) {
        for (const period of LEADERBOARD_PERIODS) {
          pipeline.zincrby(`${prefix}raw:${level}:${level === 0 ? 0 : grant % [1, 13, 100, 2000][level]!}:${period}`, 100, member);
          commands += 1;
        }
      }
    }
    await pipeline.exec();
  }
  return commands;
}

/** CPU seconds (user + system) this process used since `since`. */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/** Times each batch from the progress callback, for percentiles of one batch's read + apply + commit. */
function batchTimer(): { onProgress: (applied: number) => void; summary: () => string } {
  const latencies: number[] = [];
  let last = process.hrtime.bigint();
  return {
    onProgress: () => {
      latencies.push(msSince(last));
      last = process.hrtime.bigint();
    },
    summary: () => {
      const s = summarise(latencies);
      return `${fmtInt(s.count)} batches, per batch p50 ${fmtMs(s.p50)} ms, p99 ${fmtMs(s.p99)} ms, max ${fmtMs(s.max)} ms`;
    },
  };
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const server = await resolvePostgres();
  const redisTarget = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(redisTarget, { maxRetriesPerRequest: 3 });
  let dbName: string;
  let db: Database;
  let prefix = `ul-bench-rebuild-${randomBytes(3).toString('hex')}:`;
  let ledger: UnionLedger | undefined;
  try {
    log('# Union Ledger projection rebuild benchmark');
    log(`machine: ${os.cpus().length} cores, Node ${process.version}, load average ${os.loadavg().map((value) => value.toFixed(2)).join(' ')} at start`);
    log(`command: node dist/bench/rebuild.js ${process.argv.slice(2).join(' ')}`.trim());
    const tree = planTree(args.cities, args.counties, args.unions);
    if (args.database) {
      const url = new URL(server.adminUrl);
      url.pathname = `/${args.database}`;
      dbName = args.database;
      db = connectDatabase({ url: url.toString(), poolMax: 8, applicationName: `ul-bench-${dbName}` });
      await migrate(db, MIGRATIONS);
      prefix = (await db.one<{ prefix: string }>('SELECT prefix FROM bench_rebuild_fixture')).prefix;
      log(`reusing database ${dbName} and Redis prefix ${prefix}`);
    } else {
      const bench = await createBenchDatabase(server.adminUrl, 8);
      db = bench.db;
      dbName = bench.name;
    }
    ledger = new UnionLedger({ config: { eventStore: 'postgres', kurrentDbUrl: undefined, redisKeyPrefix: prefix }, db, redis, listen: false });
    const { store, leaderboards } = ledger;

    if (!args.database) {
      log(`database ${dbName}, Redis prefix ${prefix}; building the fixture (${fmtInt(args.members)} members)`);
      let t0 = process.hrtime.bigint();
      await registerTree(ledger.orgs, tree);
      const rules = await ledger.rules.currentRules();
      const clock: FixtureClock = { enrolledAt: new Date(Date.now() - 3_600_000), activatedAt: new Date(Date.now() - 1_800_000) };
      const { template } = MemberTemplate.build(tree, rules, clock, args.members);
      const load = await loadMembers(db, template, { from: 0, to: args.members, chunk: args.loadChunk });
      await db.none('VACUUM (ANALYZE) ul_events');
      await db.none('CREATE TABLE bench_rebuild_fixture (prefix text NOT NULL)');
      await db.none('INSERT INTO bench_rebuild_fixture (prefix) VALUES ($1)', [prefix]);
      log(`- fixture: ${fmtInt(load.events)} member events bulk-loaded in ${seconds(msSince(t0))} (tree and VACUUM included)`);
      t0 = process.hrtime.bigint();
    }
    await waitForVisibleFeed(db);
    const total = Number((await db.one<{ count: string }>('SELECT count(*) FROM ul_events')).count);
    log(`- ul_events: ${fmtInt(total)} events`);
    log();

    if (args.only !== 'leaderboards') {
      log('## Ledger projection (PostgreSQL: ul_journal, ul_statement, ul_balances)');
      let t0 = process.hrtime.bigint();
      const read = await readFeed(store, {}, 10_000);
      const readMs = msSince(t0);
      log(`- baseline, feed read alone (readAll, 10,000-event pages): ${fmtInt(read)} events in ${seconds(readMs)} = ${fmtInt(read / (readMs / 1000))} events/s`);
      const timer = batchTimer();
      t0 = process.hrtime.bigint();
      const cpu0 = process.cpuUsage();
      const applied = await rebuildProjection(store, db, ledgerProjection(), timer.onProgress);
      const rebuildMs = msSince(t0);
      const cpu = cpuSeconds(cpu0);
      const rows = Number(
        (await db.one<{ count: string }>('SELECT ((SELECT count(*) FROM ul_journal) + (SELECT count(*) FROM ul_statement) + (SELECT count(*) FROM ul_balances)) AS count')).count,
      );
      t0 = process.hrtime.bigint();
      await plainInserts(db, rows, 10_000);
      const insertMs = msSince(t0);
      await db.none('DROP TABLE bench_rebuild_rows');
      log(`- baseline, plain multi-row INSERTs of the same ${fmtInt(rows)} rows (10,000 a statement): ${seconds(insertMs)} = ${fmtInt(rows / (insertMs / 1000))} rows/s`);
      const rate = applied / (rebuildMs / 1000);
      const baselineRate = applied / ((readMs + insertMs) / 1000);
      log(`- **ledger rebuilt: ${fmtInt(applied)} events in ${seconds(rebuildMs)} = ${fmtInt(rate)} events/s**; ${timer.summary()}; this process's CPU ${cpu.toFixed(1)} s`);
      log(`- ratio to "read the feed + plain INSERT of the rows" (${fmtInt(baselineRate)} events/s): ${fmtRatio(rate / baselineRate)}`);
      const balance = await checkTrialBalance(db);
      log(`- trial balance after the rebuild: ${balance.ok ? 'ok' : 'NOT OK'}`);
      log(`- target >= 50,000 events/s: ${rate >= 50_000 ? 'met' : 'not met'}`);
      log();
    }

    if (args.only !== 'ledger') {
      log('## Leaderboards (Redis sorted sets: 4 periods x 4 levels per grant)');
      let t0 = process.hrtime.bigint();
      const read = await readFeed(store, { streamPrefixes: LEADERBOARD_STREAM_PREFIXES, eventTypes: LEADERBOARD_EVENT_TYPES }, 10_000);
      const readMs = msSince(t0);
      log(`- baseline, feed read alone (grants and org registrations, 10,000-event pages): ${fmtInt(read)} events in ${seconds(readMs)} = ${fmtInt(read / (readMs / 1000))} events/s`);
      const grants = Number((await db.one<{ count: string }>("SELECT count(*) FROM ul_events WHERE event_type = 'PointsGranted'")).count);
      t0 = process.hrtime.bigint();
      const commands = await rawZincrby(redis, prefix, grants, 5_000);
      const rawMs = msSince(t0);
      await clearRedis(redis, `${prefix}raw:`);
      log(`- baseline, raw ioredis pipeline of the same ${fmtInt(commands)} ZINCRBYs (16 per grant, 5,000 grants a pipeline): ${seconds(rawMs)} = ${fmtInt(commands / (rawMs / 1000))} commands/s`);
      const timer = batchTimer();
      t0 = process.hrtime.bigint();
      const cpu0 = process.cpuUsage();
      const applied = await rebuildLeaderboards(store, db, leaderboards, timer.onProgress);
      const rebuildMs = msSince(t0);
      const cpu = cpuSeconds(cpu0);
      const rate = applied / (rebuildMs / 1000);
      const baselineRate = applied / ((readMs + rawMs) / 1000);
      log(`- **leaderboards rebuilt: ${fmtInt(applied)} events in ${seconds(rebuildMs)} = ${fmtInt(rate)} events/s**; ${timer.summary()}; this process's CPU ${cpu.toFixed(1)} s`);
      log(`- ratio to "read the feed + raw ZINCRBY pipeline" (${fmtInt(baselineRate)} events/s): ${fmtRatio(rate / baselineRate)}`);
      log(`- target >= 50,000 events/s: ${rate >= 50_000 ? 'met' : 'not met'}`);
      log();
    }
    log(`load average at the end: ${os.loadavg().map((value) => value.toFixed(2)).join(' ')}`);
  } finally {
    await ledger?.close();
    if (args.keep) {
      log(`kept: node dist/bench/rebuild.js --database=${dbName!}`);
      await closeDatabase(db!);
    } else {
      await clearRedis(redis, prefix);
      if (db!) await closeDatabase(db);
      if (dbName!) await adminQuery(server.adminUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    }
    redis.disconnect();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
