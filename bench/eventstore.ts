/**
 * Event store benchmark: `npm run bench:eventstore` (see docs/BENCHMARKS.md).
 *
 * In a fresh ul_bench_<random> database it runs, in this order:
 *   0. a warm-up on the empty database (reported: the cold-start plans);
 *   1. the fill: --read-events events through appendToStream, 1000 per append (timed);
 *   2. one-event appends, each to a new stream ('no_stream'), at 1/4/16 writers, plain and through
 *      group commit (appendToStream of a store with groupCommit on), and group appends (appendEach
 *      of 16 one-event appends to new streams per call) at 1 and --multi-writers writers;
 *   3. one-event appends to a few hot streams ('any'), at 1/4/16 writers;
 *   4. ten-event appends to new streams at 16 writers;
 *   5. multi-stream appends (appendToStreams): per call one event to the writer's own budget
 *      stream at an exact revision plus one event to each of --multi-streams (500) new wallet
 *      streams with 'any', a disbursement chunk, at --multi-writers (4) writers;
 *      each of 2-5 next to plain autocommit single-row INSERTs of the same payload into a plain
 *      table at the same concurrency on the same pool, run before and after the subject
 *      (baseline, subject, baseline) so that drift affects both sides;
 *   6. the global read: readAll paging through the whole log for each page size, next to a
 *      plain primary-key range SELECT of the same rows and columns.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import { START, type EventToAppend, type ExpectedRevision, type StreamAppend } from '../src/eventstore/event-store';
import { PostgresEventStore } from '../src/eventstore/postgres/postgres-event-store';
import type { Database } from '../src/infra/database';
import { parseBenchArgs, type BenchArgs } from './lib/args';
import { backendsPct, cpuSince, hostBusyPct, nodePct, otherPct, QuietGate, sampleCpu, type CpuReport } from './lib/cpu';
import { createBenchDatabase, resolvePostgres, type BenchDatabase } from './lib/database';
import { mergeRuns, runLoad, type MergedResult, type Operation } from './lib/load';
import { msSince, summarise } from './lib/stats';
import { fmtInt, fmtMs, fmtPct, fmtRatio, formatTable } from './lib/table';

const log = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

// ---------------------------------------------------------------------------------------------
// Payload: one realistic ledger event; the baseline stores the same data and metadata JSON.

const RUN_TAG = randomBytes(3).toString('hex');
let sequence = 0;
const nextStreamId = (prefix: string): string => `${prefix}-${RUN_TAG}-${(sequence++).toString(36)}`;

function makeEvent(streamId: string): EventToAppend {
  return {
    type: 'PointsEarned',
    data: {
      memberId: streamId,
      points: 125,
      reason: 'purchase',
      orderId: `ord-${sequence.toString(36)}`,
      partner: 'co-op-food',
      branch: 'north-east',
      amount: '42.50',
      currency: 'GBP',
    },
    metadata: {
      occurredAt: new Date().toISOString(),
      commandId: randomUUID(),
      correlationId: randomUUID(),
      actor: { type: 'member', id: streamId },
    },
  };
}

const BASELINE_TABLE_SQL = `CREATE TABLE bench_baseline (
  id bigserial PRIMARY KEY,
  stream_id text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL
)`;

function baselineInsert(db: Database, streamId: string): Promise<null> {
  const event = makeEvent(streamId);
  return db.none({
    name: 'bench-baseline-insert',
    text: 'INSERT INTO bench_baseline (stream_id, data, metadata) VALUES ($1, $2::jsonb, $3::jsonb)',
    values: [streamId, JSON.stringify(event.data), JSON.stringify(event.metadata)],
  });
}

// ---------------------------------------------------------------------------------------------
// Append cases

interface AppendCase {
  label: string;
  db: Database;
  writers: number;
  eventsPerAppend: number;
  subject: Operation;
  baseline: Operation;
}

interface AppendOutcome {
  spec: AppendCase;
  subject: MergedResult;
  baseline: MergedResult;
}

/** One-event appends per group append (appendEach) in the group-append case. */
const EACH_STREAMS = 16;

function appendCases(args: BenchArgs, store: PostgresEventStore, grouped: PostgresEventStore, db: Database): AppendCase[] {
  const hotStreams = Array.from({ length: args.hotStreams }, (_, index) => `hot-${RUN_TAG}-${index}`);
  const pickHot = (): string => hotStreams[Math.floor(Math.random() * hotStreams.length)] as string;
  const distinct: Operation = async () => {
    const streamId = nextStreamId('member');
    await store.appendToStream(streamId, [makeEvent(streamId)], { expectedRevision: 'no_stream' });
    return 1;
  };
  // The same appends through group commit: concurrent writers' appends share statements and commits.
  const distinctGrouped: Operation = async () => {
    const streamId = nextStreamId('member');
    await grouped.appendToStream(streamId, [makeEvent(streamId)], { expectedRevision: 'no_stream' });
    return 1;
  };
  // What a group is, called directly: EACH_STREAMS one-event appends to new streams in one call.
  const each: Operation = async () => {
    const appends = Array.from({ length: EACH_STREAMS }, () => {
      const streamId = nextStreamId('member');
      return { streamId, events: [makeEvent(streamId)], expectedRevision: 'no_stream' as const };
    });
    const outcomes = await store.appendEach(appends);
    if (!outcomes.every((outcome) => outcome.ok)) throw new Error('a group append to new streams was refused');
    return appends.length;
  };
  const hot: Operation = async () => {
    const streamId = pickHot();
    await store.appendToStream(streamId, [makeEvent(streamId)], { expectedRevision: 'any' });
    return 1;
  };
  const batch: Operation = async () => {
    const streamId = nextStreamId('batch');
    const events = Array.from({ length: args.batchSize }, () => makeEvent(streamId));
    await store.appendToStream(streamId, events, { expectedRevision: 'no_stream' });
    return events.length;
  };
  // Each writer pays out of a budget stream of its own (an exact expected revision, as a
  // disbursement does); concurrent chunks of one programme would queue on its lock instead.
  const budgets = new Map<number, { streamId: string; revision: ExpectedRevision }>();
  const multi: Operation = async (worker) => {
    const budget = budgets.get(worker) ?? { streamId: `budget-${RUN_TAG}-${worker}`, revision: 'no_stream' as ExpectedRevision };
    const appends: StreamAppend[] = [
      { streamId: budget.streamId, events: [makeEvent(budget.streamId)], expectedRevision: budget.revision },
      ...Array.from({ length: args.multiStreams }, () => {
        const streamId = nextStreamId('wallet');
        return { streamId, events: [makeEvent(streamId)] };
      }),
    ];
    const results = await store.appendToStreams(appends);
    budgets.set(worker, { streamId: budget.streamId, revision: results[0]!.nextExpectedRevision });
    return appends.length;
  };
  const baselineDistinct: Operation = async () => {
    await baselineInsert(db, nextStreamId('member'));
    return 1;
  };
  const baselineHot: Operation = async () => {
    await baselineInsert(db, pickHot());
    return 1;
  };
  return [
    ...args.writers.map((writers) => ({
      label: '1-event, new stream each',
      db,
      writers,
      eventsPerAppend: 1,
      subject: distinct,
      baseline: baselineDistinct,
    })),
    ...args.writers.map((writers) => ({
      label: '1-event, new stream each, group commit',
      db,
      writers,
      eventsPerAppend: 1,
      subject: distinctGrouped,
      baseline: baselineDistinct,
    })),
    ...[1, args.multiWriters].map((writers) => ({
      label: `group append (appendEach): ${EACH_STREAMS} new streams × 1 event per call`,
      db,
      writers,
      eventsPerAppend: EACH_STREAMS,
      subject: each,
      baseline: baselineDistinct,
    })),
    ...args.writers.map((writers) => ({
      label: `1-event, ${args.hotStreams} hot streams`,
      db,
      writers,
      eventsPerAppend: 1,
      subject: hot,
      baseline: baselineHot,
    })),
    {
      label: `${args.batchSize}-event, new stream each`,
      db,
      writers: args.batchWriters,
      eventsPerAppend: args.batchSize,
      subject: batch,
      baseline: baselineDistinct,
    },
    {
      label: `multi-stream append: 1 + ${args.multiStreams} streams × 1 event per call`,
      db,
      writers: args.multiWriters,
      eventsPerAppend: 1 + args.multiStreams,
      subject: multi,
      baseline: baselineDistinct,
    },
  ];
}

/** The server processes of this benchmark's connections, for CPU accounting. */
async function benchBackendPids(db: Database): Promise<number[]> {
  const rows = await db.any<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
  return rows.map((row) => row.pid);
}

/** CPU microseconds per operation: cost, which contention from other processes disturbs less than throughput. */
function usPerOp(cpuS: number, operations: number): string {
  return Number.isFinite(cpuS) && operations > 0 ? ((cpuS * 1e6) / operations).toFixed(0) : '-';
}

function cpuCells(subject: MergedResult, baseline: MergedResult): string[] {
  return [
    `${usPerOp(subject.cpu.nodeS, subject.operations)} / ${usPerOp(baseline.cpu.nodeS, baseline.operations)}`,
    `${usPerOp(subject.cpu.backendsS, subject.operations)} / ${usPerOp(baseline.cpu.backendsS, baseline.operations)}`,
    `${fmtPct(hostBusyPct(subject.cpu))} / ${fmtPct(hostBusyPct(baseline.cpu))}`,
    `${fmtPct(otherPct(subject.cpu))} / ${fmtPct(otherPct(baseline.cpu))}`,
  ];
}

async function runAppendCase(spec: AppendCase, args: BenchArgs, gate: QuietGate): Promise<AppendOutcome> {
  await gate.wait();
  const durationMs = args.seconds * 1000;
  const warmMs = Math.min(500, durationMs / 4);
  await runLoad({ concurrency: spec.writers, durationMs: warmMs, operation: spec.baseline });
  await runLoad({ concurrency: spec.writers, durationMs: warmMs, operation: spec.subject });
  const backendPids = await benchBackendPids(spec.db);
  const load = { concurrency: spec.writers, durationMs, backendPids };
  // Baseline, subject, baseline: the subject sits at the baselines' mean point in time.
  const before = await runLoad({ ...load, operation: spec.baseline });
  const subject = await runLoad({ ...load, operation: spec.subject });
  const after = await runLoad({ ...load, operation: spec.baseline });
  return { spec, subject: mergeRuns([subject]), baseline: mergeRuns([before, after]) };
}

function appendTable(outcomes: AppendOutcome[]): string {
  const rows = outcomes.map(({ spec, subject, baseline }) => {
    const s = summarise(subject.latenciesMs);
    const b = summarise(baseline.latenciesMs);
    return [
      spec.label,
      String(spec.writers),
      fmtInt(subject.opsPerS),
      fmtInt(subject.unitsPerS),
      fmtMs(s.p50),
      fmtMs(s.p99),
      fmtMs(s.max),
      fmtInt(baseline.opsPerS),
      `${fmtMs(b.p50)} / ${fmtMs(b.p99)}`,
      fmtRatio(subject.opsPerS / baseline.opsPerS),
      fmtRatio(subject.unitsPerS / baseline.unitsPerS),
      ...cpuCells(subject, baseline),
    ];
  });
  return formatTable(
    [
      'append case',
      'writers',
      'appends/s',
      'events/s',
      'p50 ms',
      'p99 ms',
      'max ms',
      'INSERT rows/s',
      'INSERT p50/p99 ms',
      'appends vs INSERT',
      'events vs INSERT rows',
      'node CPU µs/op',
      'pg CPU µs/op',
      'host busy',
      'other CPU',
    ],
    rows,
  );
}

// ---------------------------------------------------------------------------------------------
// Global read

interface ReadPass {
  label: string;
  pageSize: number;
  events: number;
  seconds: number;
  pageLatenciesMs: number[];
  cpu: CpuReport;
}

/** Appends batches of args.fillBatch events (each to a new stream) until ul_events holds `target` events. */
async function appendUntil(args: BenchArgs, store: PostgresEventStore, db: Database, target: number): Promise<number> {
  const { count } = await db.one<{ count: string }>('SELECT count(*) AS count FROM ul_events');
  const missing = target - Number(count);
  if (missing <= 0) return 0;
  const appends = Math.ceil(missing / args.fillBatch);
  let issued = 0;
  let lastReport = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (issued < appends) {
      issued += 1;
      const size = Math.min(args.fillBatch, missing - (issued - 1) * args.fillBatch);
      const streamId = nextStreamId('fill');
      const events = Array.from({ length: size }, () => makeEvent(streamId));
      await store.appendToStream(streamId, events, { expectedRevision: 'no_stream' });
      if (process.hrtime.bigint() - lastReport > 15_000_000_000n) {
        lastReport = process.hrtime.bigint();
        log(`  ... ${fmtInt(Number(count) + Math.min(missing, issued * args.fillBatch))} / ${fmtInt(target)} events`);
      }
    }
  };
  await Promise.all(Array.from({ length: args.fillWriters }, () => worker()));
  return missing;
}

/**
 * Fills the log to --read-events through the real append path. An ANALYZE after the first
 * 20,000 events lets the pool's cached plans see a non-empty table (see the cold-start note);
 * the VACUUM (ANALYZE) at the end is what autovacuum would do, and is timed separately.
 */
async function fillLog(args: BenchArgs, store: PostgresEventStore, db: Database): Promise<void> {
  const start = process.hrtime.bigint();
  let written = await appendUntil(args, store, db, Math.min(args.readEvents, 20_000));
  await db.none('ANALYZE ul_events');
  // CPU is sampled over the main part, once the fill writers' connections exist.
  const cpu = sampleCpu(await benchBackendPids(db));
  written += await appendUntil(args, store, db, args.readEvents);
  const usage = cpuSince(cpu);
  const seconds = msSince(start) / 1000;
  if (written > 0) {
    log(
      `fill: ${fmtInt(written)} events in appends of ${args.fillBatch} (${args.fillWriters} writers) ` +
        `took ${seconds.toFixed(1)} s = ${fmtInt(written / seconds)} events/s ` +
        `(host busy ${fmtPct(hostBusyPct(usage))}; node ${fmtPct(nodePct(usage))}, pg backends ` +
        `${fmtPct(backendsPct(usage))}, other ${fmtPct(otherPct(usage))} of one core)`,
    );
  }
  const vacuumStart = process.hrtime.bigint();
  await db.none('VACUUM (ANALYZE) ul_events, bench_baseline');
  log(`VACUUM (ANALYZE) after the fill: ${(msSince(vacuumStart) / 1000).toFixed(1)} s (not counted anywhere)`);
}

interface ScanCounts {
  seq: number;
  idx: number;
}

/**
 * Scans of ul_events so far. A backend publishes its statistics when it goes idle, at most once a
 * second (else up to 10 s later), so after a pause every pool connection runs one query at the
 * same time, which makes each of them publish before the counters are read.
 */
async function ulEventsScans(db: Database): Promise<ScanCounts> {
  const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  await pause(1100);
  const poolSize = db.$pool.totalCount;
  await Promise.all(Array.from({ length: poolSize }, () => db.task((task) => task.any('SELECT pg_sleep(0.05)'))));
  await pause(200);
  const row = await db.one<{ seq: string; idx: string }>(
    "SELECT coalesce(seq_scan, 0) AS seq, coalesce(idx_scan, 0) AS idx FROM pg_stat_user_tables WHERE relname = 'ul_events'",
  );
  return { seq: Number(row.seq), idx: Number(row.idx) };
}

type PageReader = (after: bigint, limit: number) => Promise<{ count: number; nextAfter: bigint; done: boolean }>;

async function readPass(label: string, pageSize: number, read: PageReader, backendPids: number[]): Promise<ReadPass> {
  const pageLatenciesMs: number[] = [];
  let after = START;
  let events = 0;
  const cpu = sampleCpu(backendPids);
  const start = process.hrtime.bigint();
  for (;;) {
    const t0 = process.hrtime.bigint();
    const page = await read(after, pageSize);
    pageLatenciesMs.push(msSince(t0));
    events += page.count;
    after = page.nextAfter;
    if (page.done) break;
  }
  const seconds = msSince(start) / 1000;
  return { label, pageSize, events, seconds, pageLatenciesMs, cpu: cpuSince(cpu) };
}

async function runReads(args: BenchArgs, store: PostgresEventStore, db: Database, gate: QuietGate): Promise<ReadPass[]> {
  const viaStore: PageReader = async (after, limit) => {
    const page = await store.readAll({ after, limit });
    return { count: page.events.length, nextAfter: page.nextAfter, done: page.isEnd || page.events.length === 0 };
  };
  // The same columns decoded by the same driver, by primary-key range: the floor for a paged read.
  const plainSelect: PageReader = async (after, limit) => {
    const rows = await db.any<{ global_position: string }>({
      name: 'bench-plain-select',
      text: `SELECT global_position, stream_id, stream_revision, event_id, event_type, schema_version, data, metadata, recorded_at
               FROM ul_events WHERE global_position > $1 ORDER BY global_position LIMIT $2`,
      values: [after.toString(), limit],
    });
    const last = rows[rows.length - 1];
    return { count: rows.length, nextAfter: last ? BigInt(last.global_position) : after, done: rows.length < limit };
  };
  const passes: ReadPass[] = [];
  for (const pageSize of args.pageSizes) {
    await gate.wait();
    passes.push(await readPass('store.readAll', pageSize, viaStore, await benchBackendPids(db)));
    await gate.wait();
    passes.push(await readPass('plain SELECT by PK', pageSize, plainSelect, await benchBackendPids(db)));
  }
  return passes;
}

function readTable(passes: ReadPass[]): string {
  const rows = passes.map((pass) => {
    const pages = summarise(pass.pageLatenciesMs);
    const plain = passes.find((other) => other.label === 'plain SELECT by PK' && other.pageSize === pass.pageSize);
    const rate = pass.events / pass.seconds;
    return [
      pass.label,
      String(pass.pageSize),
      fmtInt(pass.events),
      pass.seconds.toFixed(2),
      fmtInt(rate),
      fmtMs(pages.p50),
      fmtMs(pages.p99),
      fmtMs(pages.max),
      plain && plain !== pass ? fmtRatio(rate / (plain.events / plain.seconds)) : '-',
      fmtPct(hostBusyPct(pass.cpu)),
      fmtPct(nodePct(pass.cpu)),
      fmtPct(backendsPct(pass.cpu)),
      fmtPct(otherPct(pass.cpu)),
    ];
  });
  return formatTable(
    ['global read', 'page', 'events', 'seconds', 'events/s', 'page p50 ms', 'page p99 ms', 'page max ms', 'vs plain SELECT', 'host busy', 'node', 'pg backends', 'other'],
    rows,
  );
}

// ---------------------------------------------------------------------------------------------

async function describeServer(db: Database): Promise<string> {
  const settings = await db.one<Record<string, string>>(
    `SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync,
            current_setting('synchronous_commit') AS synchronous_commit, current_setting('shared_buffers') AS shared_buffers,
            current_setting('wal_sync_method') AS wal_sync_method, current_setting('full_page_writes') AS full_page_writes,
            current_setting('autovacuum') AS autovacuum`,
  );
  return (
    `PostgreSQL ${settings.version}: fsync=${settings.fsync}, synchronous_commit=${settings.synchronous_commit}, ` +
    `wal_sync_method=${settings.wal_sync_method}, full_page_writes=${settings.full_page_writes}, shared_buffers=${settings.shared_buffers}, ` +
    `autovacuum=${settings.autovacuum}`
  );
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  const server = await resolvePostgres();
  const poolMax = Math.max(...args.writers, args.batchWriters, args.multiWriters, args.fillWriters) + 2;
  let bench: BenchDatabase | undefined;
  let store: PostgresEventStore | undefined;
  let grouped: PostgresEventStore | undefined;
  const started = process.hrtime.bigint();
  try {
    bench = await createBenchDatabase(server.adminUrl, poolMax);
    const { db } = bench;
    store = new PostgresEventStore(db);
    grouped = new PostgresEventStore(db, { listen: false, groupCommit: {} });
    const cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';
    log('# Union Ledger event store benchmark');
    log(
      `machine: ${os.cpus().length} cores (${cpuModel}), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ` +
        `load average ${os.loadavg().map((value) => value.toFixed(2)).join(' ')} at start`,
    );
    log(`server: ${server.description}; ${await describeServer(db)}`);
    log(`database: ${bench.name} (pool max ${poolMax}); ${args.seconds} s per segment, baseline/subject/baseline`);
    log(`payload: ${Buffer.byteLength(JSON.stringify(makeEvent('member-x')))} bytes of event JSON per event`);
    await db.none(BASELINE_TABLE_SQL);

    const gate = new QuietGate(args.quietWait, args.quietThreshold);
    const cases = appendCases(args, store, grouped, db);
    const warmCase = cases.find((spec) => spec.label === `${args.batchSize}-event, new stream each`) ?? cases[0]!;
    if (args.warmup > 0) {
      // The first appends run against an empty, never-analyzed ul_events: the plans each pool
      // connection caches then are what a freshly deployed database gets until autovacuum analyzes.
      await gate.wait();
      const scans = await ulEventsScans(db);
      const load = { concurrency: warmCase.writers, durationMs: args.warmup * 1000 };
      await runLoad({ ...load, operation: cases[0]!.baseline });
      const backendPids = await benchBackendPids(db); // now that the warm-up opened the pool's connections
      const cold = mergeRuns([await runLoad({ ...load, backendPids, operation: cases[0]!.subject })]);
      const after = await ulEventsScans(db);
      log(
        `warm-up on the empty database (${args.warmup} s each side, ${warmCase.writers} writers): ` +
          `${fmtInt(cold.opsPerS)} appends/s, pg CPU ${usPerOp(cold.cpu.backendsS, cold.operations)} µs/append, ` +
          `${(after.seq - scans.seq).toLocaleString('en-US')} sequential scans of ul_events for ${fmtInt(cold.operations)} appends`,
      );
    }

    log(`## Log of ${fmtInt(args.readEvents)} events (filled before the append cases, read after them)`);
    await gate.wait();
    await fillLog(args, store, db);

    if (!args.skipAppends) {
      const scans = await ulEventsScans(db);
      const outcomes: AppendOutcome[] = [];
      const chosen = args.cases.length === 0 ? cases : cases.filter((spec) => args.cases.some((part) => spec.label.includes(part)));
      for (const spec of chosen) {
        const groupsBefore = grouped.groupCommitStats();
        const outcome = await runAppendCase(spec, args, gate);
        const groups = grouped.groupCommitStats();
        outcomes.push(outcome);
        const ratio = outcome.subject.opsPerS / outcome.baseline.opsPerS;
        const eventsRatio =
          spec.eventsPerAppend > 1
            ? `, ${fmtInt(outcome.subject.unitsPerS)} events/s = ${fmtRatio(outcome.subject.unitsPerS / outcome.baseline.unitsPerS)} INSERT rows/s`
            : '';
        // How the group-commit cases gathered (warm-up included): statements, and appends per statement.
        const statements = groups.statements - groupsBefore.statements;
        const gathered =
          statements > 0
            ? `; ${fmtInt(statements)} group statements, ${((groups.appends - groupsBefore.appends) / statements).toFixed(1)} appends each`
            : '';
        log(
          `  ${spec.label}, ${spec.writers} writers: ${fmtInt(outcome.subject.opsPerS)} appends/s = ` +
            `${fmtRatio(ratio)} plain INSERT (${fmtInt(outcome.baseline.opsPerS)} rows/s)${eventsRatio}${gathered}`,
        );
      }
      const after = await ulEventsScans(db);
      log();
      log(
        '## Appends (subject = PostgresEventStore.appendToStream (with group commit where it says so), appendEach for the group-append rows, appendToStreams for the multi-stream row; ' +
          'INSERT = plain autocommit single-row INSERT, mean of the runs before and after)',
      );
      log(appendTable(outcomes));
      log(
        'CPU columns are event store / INSERT. µs/op: CPU time of this Node process and of this run\'s PostgreSQL ' +
          'backends per append (per INSERT). host busy: % of all cores. other: busy CPU outside both (WAL writer, ' +
          'checkpointer, kernel threads, other programs), % of one core; a large value means the machine was not quiet.',
      );
      const appends = outcomes.reduce((sum, outcome) => sum + outcome.subject.operations, 0);
      log(
        `ul_events scans during the cases: ${(after.seq - scans.seq).toLocaleString('en-US')} sequential, ` +
          `${(after.idx - scans.idx).toLocaleString('en-US')} index, for ${fmtInt(appends)} measured appends plus warm-ups`,
      );
      log();
    }

    if (!args.skipRead) {
      const vacuumStart = process.hrtime.bigint();
      await db.none('VACUUM ul_events');
      const size = await db.one<{ heap: string; total: string; events: string }>(
        `SELECT pg_size_pretty(pg_relation_size('ul_events')) AS heap,
                pg_size_pretty(pg_total_relation_size('ul_events')) AS total,
                (SELECT count(*) FROM ul_events)::text AS events`,
      );
      log(`## Global read`);
      log(
        `ul_events: ${fmtInt(Number(size.events))} events, heap ${size.heap}, with indexes ${size.total} ` +
          `(VACUUM before reading: ${(msSince(vacuumStart) / 1000).toFixed(1)} s)`,
      );
      const passes = await runReads(args, store, db, gate);
      log(readTable(passes));
      log();
    }
    log(
      `waited ${gate.waitedS} s for an idle machine (below ${args.quietThreshold}% busy); ` +
        `${gate.busyStarts} measurements started on a busy machine after the wait budget ran out`,
    );
    log(`total time ${(msSince(started) / 1000).toFixed(0)} s`);
  } finally {
    await store?.close();
    await grouped?.close();
    if (bench) {
      await bench.close({ keep: args.keep });
      log(args.keep ? `kept database ${bench.name}` : `dropped database ${bench.name}`);
    }
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
