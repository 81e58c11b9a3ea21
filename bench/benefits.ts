/**
 * Benefits benchmark: `npm run bench:benefits` (see docs/BENCHMARKS.md, "Benefits").
 *
 *   1. A fresh ul_bench_<random> database and a Redis key prefix of its own; the runtime, the
 *      composition root's UnionLedger and (for part B) the Nest app in this process, as
 *      test/support/ledger-app.ts builds them.
 *   2. Fixture (timed, not measured): a four-level union tree through OrgService, N members
 *      bulk-loaded as enrolled and activated (bench/lib/member-fixture.ts: the events the command
 *      path stores, checked against decide() + prepareAppend()), every read model caught up
 *      (ul_members lists the batch); a programme funded at the province through a proposal a
 *      finance approver approves, a merchant admitted the same way, and a batch drafted for every
 *      active member of the province (N members, N/500 listed chunks), sealed and proposed.
 *   3. A: the disbursement, from the finance approver's approval (Benefits.approve, which starts
 *      the batch runner) to the batch completed, on a ledger built afresh (as after a restart or
 *      in another instance: the batch stream is folded from the log). Every store call is timed
 *      (chunk commits, stream reads). Baseline: plain autocommit single-row INSERTs of a
 *      WalletCredited-sized row at 1 writer (the runner pays one chunk at a time) before and
 *      after, and at 16 writers once, for context. Then each read model's catch-up of the batch.
 *   4. B: the API over HTTP with the projections and sweeps running as in the service, clients in
 *      a worker thread (bench/lib/http-load.ts): a 3 s warm-up, GET /health at the same
 *      concurrency (the probe), the payments (payment code, authorise, capture; a member not used
 *      before for each), the probe again.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Session } from 'node:inspector/promises';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { INestApplication } from '@nestjs/common';
import { createHttpApp } from '../src/api/http';
import type { Caller } from '../src/application/benefits';
import { connectOutsideServices, openRuntime, readModels, tokenService, UnionLedger, type OutsideServices } from '../src/composition-root';
import { loadConfig, type AppConfig } from '../src/config/config';
import { batchStream, evolveBatch, initialBatchState, MAX_AMOUNT_FEN, walletCredit, type BatchEvent } from '../src/domain/benefits';
import type { EventStore } from '../src/eventstore/event-store';
import type { Database } from '../src/infra/database';
import { probeTcp } from '../src/infra/embedded';
import type { Runtime } from '../src/infra/runtime';
import { catchUpProjection } from '../src/projections';
import { checkTrialBalance } from '../src/projections/ledger';
import { parseBenefitsArgs, type BenefitsArgs } from './lib/benefits-args';
import { QuietGate } from './lib/cpu';
import { summariseProfile } from './lib/cpu-profile';
import { createBenchDatabase, resolvePostgres, type BenchDatabase, type BenchServer } from './lib/database';
import { runHttpLoad, type HttpLoadResult } from './lib/http-load';
import { runLoad } from './lib/load';
import { fixtureMember, loadMembers, MemberTemplate, planTree, registerTree, type FixtureClock, type OrgTree } from './lib/member-fixture';
import { cpuSecondsBetween, processesCpuSeconds } from './lib/service-process';
import { mean, msSince, summarise, type LatencySummary } from './lib/stats';
import { fmtInt, fmtMs, fmtPct, fmtRatio, formatTable } from './lib/table';
import { clearRedis } from './lib/redis';

const log = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
// A closed stdout (`| head`) must not stop the clean-up of the database and the Redis keys.
process.stdout.on('error', () => undefined);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

const RUN_TAG = randomBytes(3).toString('hex');
const PROGRAMME_ID = `bench-${RUN_TAG}`;
const BATCH_ID = `bench-batch-${RUN_TAG}`;
const MERCHANT_ID = `bench-shop-${RUN_TAG}`;
/** A Luhn-valid card (the API test's), for the merchant's payouts. */
const MERCHANT_CARD = '6222021234567890128';
const WARMUP_MS = 3000;
/** Authorised and captured per payment. */
const PAYMENT_AMOUNT = '12.34';
const ADMIN: Caller = { sub: 'bench-admin', role: 'admin', org: '' };
const FINANCE: Caller = { sub: 'bench-finance', role: 'finance', org: '' };

const yuanToFen = (yuan: string): number => Math.round(Number(yuan) * 100);

/** The commit the benchmark was built from, and whether src/ had local changes. */
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

async function describePostgres(db: Database): Promise<string> {
  const s = await db.one<Record<string, string>>(
    `SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync,
            current_setting('synchronous_commit') AS sync, current_setting('shared_buffers') AS buffers`,
  );
  return `PostgreSQL ${s.version} (fsync=${s.fsync}, synchronous_commit=${s.sync}, shared_buffers=${s.buffers})`;
}

/** The backends serving this benchmark's database, for CPU accounting. */
async function postgresPids(db: Database): Promise<number[]> {
  const rows = await db.any<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
  return rows.map((row) => row.pid);
}

/** CPU seconds of this process and of the database's backends over a stretch of work; backends born during it count whole. */
class CpuMeter {
  private constructor(
    private readonly db: Database,
    private readonly pids: number[],
    private readonly pg: Map<number, number>,
    private readonly node: NodeJS.CpuUsage,
    private readonly host: ReturnType<typeof hostSample>,
    private readonly startNs: bigint,
  ) {}

  static async start(db: Database): Promise<CpuMeter> {
    const pids = await postgresPids(db);
    return new CpuMeter(db, pids, processesCpuSeconds(pids), process.cpuUsage(), hostSample(), process.hrtime.bigint());
  }

  async stop(): Promise<{ wallS: number; nodeS: number; postgresS: number; hostBusyPct: number }> {
    const wallS = msSince(this.startNs) / 1000;
    const used = process.cpuUsage(this.node);
    const pids = [...new Set([...this.pids, ...(await postgresPids(this.db))])];
    const before = new Map(this.pg);
    for (const pid of pids) if (!before.has(pid)) before.set(pid, 0);
    const end = hostSample();
    const busy = this.host && end && end.total > this.host.total ? (100 * (end.busy - this.host.busy)) / (end.total - this.host.total) : Number.NaN;
    return { wallS, nodeS: (used.user + used.system) / 1e6, postgresS: cpuSecondsBetween(before, processesCpuSeconds(pids)), hostBusyPct: busy };
  }
}

function hostSample(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
    return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Store timing: every call the ledger makes to its event store while `recording`.

type SpanKind = 'chunk commit' | 'batch read' | 'programme read' | 'wallet read' | 'other read' | 'single-stream append';

interface Span {
  kind: SpanKind;
  startNs: bigint;
  endNs: bigint;
  /** Events appended or read. */
  events: number;
  /** Streams of a multi-stream append. */
  streams: number;
  /** CPU of this process during the call (µs): for a commit, validation, canonical JSON, digests and the driver. */
  nodeCpuUs: number;
}

class StoreTimer {
  readonly spans: Span[] = [];
  recording = false;

  constructor(store: EventStore) {
    const appendToStreams = store.appendToStreams.bind(store);
    const appendToStream = store.appendToStream.bind(store);
    const readStream = store.readStream.bind(store);
    store.appendToStreams = (appends) =>
      this.time('chunk commit', () => appendToStreams(appends), () => ({ events: appends.reduce((sum, append) => sum + append.events.length, 0), streams: appends.length }));
    store.appendToStream = (streamId, events, options) => this.time('single-stream append', () => appendToStream(streamId, events, options), () => ({ events: events.length, streams: 1 }));
    store.readStream = (streamId, options) => {
      const kind: SpanKind = streamId.startsWith('batch-') ? 'batch read' : streamId.startsWith('programme-') ? 'programme read' : streamId.startsWith('wallet-') ? 'wallet read' : 'other read';
      let count = 0;
      return this.time(
        kind,
        async () => {
          const events = await readStream(streamId, options);
          count = events.length;
          return events;
        },
        () => ({ events: count, streams: 1 }),
      );
    };
  }

  private async time<T>(kind: SpanKind, call: () => Promise<T>, size: () => { events: number; streams: number }): Promise<T> {
    if (!this.recording) return call();
    const cpu = process.cpuUsage();
    const startNs = process.hrtime.bigint();
    try {
      return await call();
    } finally {
      const used = process.cpuUsage(cpu);
      this.spans.push({ kind, startNs, endNs: process.hrtime.bigint(), ...size(), nodeCpuUs: used.user + used.system });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// --profile: where a measured stretch spent its time

/**
 * A V8 CPU profile of this process's main thread (the batch runner, the API and its projections;
 * the HTTP clients run in a worker thread, which it does not see), and PostgreSQL's active
 * statements of this database sampled every 20 ms (which statements the backends were busy with,
 * and on what they waited). Profiling slows the process: figures measured under it are marked.
 */
class Profiling {
  private readonly statements = new Map<string, number>();
  private polls = 0;
  private busy = false;
  private readonly sampler: NodeJS.Timeout;

  private constructor(
    private readonly label: string,
    private readonly session: Session,
    private readonly db: Database,
  ) {
    this.sampler = setInterval(() => void this.poll(), 20);
  }

  static async start(label: string, db: Database): Promise<Profiling> {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 500 });
    await session.post('Profiler.start');
    return new Profiling(label, session, db);
  }

  private async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const rows = await this.db.any<{ query: string; wait: string }>(
        `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS query, coalesce(wait_event_type || ':' || wait_event, 'on CPU') AS wait
           FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`,
      );
      this.polls += 1;
      for (const row of rows) {
        const key = `${row.wait}\t${row.query.replace(/\|/g, '/')}`;
        this.statements.set(key, (this.statements.get(key) ?? 0) + 1);
      }
    } finally {
      this.busy = false;
    }
  }

  async stop(): Promise<string[]> {
    clearInterval(this.sampler);
    const { profile } = await this.session.post('Profiler.stop');
    this.session.disconnect();
    const directory = path.join(os.tmpdir(), `ul-bench-benefits-profile-${RUN_TAG}-${this.label.replace(/\W+/g, '-')}`);
    await mkdir(directory, { recursive: true });
    await writeFile(path.join(directory, 'main-thread.cpuprofile'), JSON.stringify(profile));
    const lines: string[] = [];
    const summary = summariseProfile(directory, 25);
    if (summary) {
      lines.push(`### CPU profile of this process's main thread: ${this.label} (${summary.file}, ${fmtInt(summary.totalMs)} ms of samples)`);
      lines.push(formatTable(['area', 'self ms', 'share'], summary.byArea.map(([area, ms]) => [area, fmtInt(ms), fmtPct((100 * ms) / summary.totalMs)])));
      lines.push('');
      lines.push(formatTable(['function', 'self ms', 'share'], summary.byFunction.map(([name, ms]) => [name, fmtInt(ms), fmtPct((100 * ms) / summary.totalMs)])));
      lines.push('');
    }
    const top = [...this.statements].sort((a, b) => b[1] - a[1]).slice(0, 20);
    lines.push(`### PostgreSQL: ${this.label}, active statements of this database in ${fmtInt(this.polls)} polls every 20 ms (backends busy on average: ${(top.reduce((sum, [, n]) => sum + n, 0) / Math.max(1, this.polls)).toFixed(2)} in the top 20)`);
    lines.push(formatTable(['statement', 'waiting on', 'polls', 'backends on average'], top.map(([key, n]) => [key.split('\t')[1]!, key.split('\t')[0]!, fmtInt(n), (n / Math.max(1, this.polls)).toFixed(2)])));
    lines.push('');
    return lines;
  }
}

// ---------------------------------------------------------------------------------------------
// Fixture

interface Fixture {
  tree: OrgTree;
  notes: string[];
  batchProposalId: string;
  chunks: number;
}

async function buildFixture(runtime: Runtime, config: AppConfig, args: BenefitsArgs, piiKeys: { masterKey: Buffer; hmacKey: Buffer }): Promise<Fixture> {
  const notes: string[] = [];
  const db = runtime.db;
  const tree = planTree(args.cities, args.counties, args.unions);
  const admin = { ...ADMIN, org: tree.province };
  const finance = { ...FINANCE, org: tree.province };
  const ledger = new UnionLedger({ config, db, piiKeys, listen: false });
  try {
    let t0 = process.hrtime.bigint();
    const orgs = await registerTree(ledger.orgs, tree);
    notes.push(`tree: ${fmtInt(orgs)} organisations (1 province, ${tree.cities.length} cities, ${tree.counties.length} counties, ${tree.unions.length} grassroots unions) through OrgService in ${seconds(msSince(t0))}`);

    const rules = await ledger.rules.currentRules();
    const startMs = Date.now();
    const clock: FixtureClock = { enrolledAt: new Date(startMs - 3_600_000), activatedAt: new Date(startMs - 1_800_000) };
    t0 = process.hrtime.bigint();
    const { template, checked } = MemberTemplate.build(tree, rules, clock, args.members);
    const conforming = await db.one<{ on: string }>("SELECT current_setting('standard_conforming_strings') AS on");
    if (conforming.on !== 'on') throw new Error('the bulk loader needs standard_conforming_strings = on');
    let lastReport = Date.now();
    const load = await loadMembers(db, template, {
      from: 0,
      to: args.members,
      chunk: args.loadChunk,
      onProgress: (members, events) => {
        if (Date.now() - lastReport < 10_000) return;
        lastReport = Date.now();
        log(`  loaded ${fmtInt(members)} members (${fmtInt(events)} events)`);
      },
    });
    notes.push(
      `members: ${fmtInt(load.members)} enrolled and activated (${fmtInt(load.events)} events) bulk-loaded in ${load.seconds.toFixed(1)} s ` +
        `(template checked against decide() + prepareAppend() for ${checked} members)`,
    );
    t0 = process.hrtime.bigint();
    await db.none('VACUUM (ANALYZE) ul_events');
    notes.push(`VACUUM ANALYZE ul_events: ${seconds(msSince(t0))}`);

    const caughtUp: string[] = [];
    for (const projection of readModels()) {
      t0 = process.hrtime.bigint();
      const applied = await catchUpProjection(ledger.store, db, projection);
      caughtUp.push(`${projection.name} ${fmtInt(applied)} events in ${seconds(msSince(t0))}`);
    }
    notes.push(`read models caught up (catchUpProjection, as catchUpReadModels): ${caughtUp.join(', ')}`);
    await db.none('VACUUM (ANALYZE) ul_members, ul_orgs');

    // The programme, funded at the province through proposals a second person approves.
    t0 = process.hrtime.bigint();
    const amountFen = yuanToFen(args.amount);
    await ledger.benefits.openProgramme(admin, { programmeId: PROGRAMME_ID, name: `Benchmark ${RUN_TAG}`, year: new Date().getFullYear(), rootOrgId: tree.province }, 'open');
    let unfunded = amountFen * args.members;
    for (let round = 0; unfunded > 0; round += 1) {
      const part = Math.min(unfunded, MAX_AMOUNT_FEN);
      const proposal = await ledger.benefits.proposeFunding(admin, PROGRAMME_ID, { amountFen: part, source: 'union_funds', reference: `bench ${RUN_TAG} ${round}` }, `fund-${round}`);
      const approved = await ledger.benefits.approve(finance, proposal.proposalId, `fund-${round}-approval`);
      if (approved.outcome?.status !== 'done') throw new Error(`funding was not carried out: ${JSON.stringify(approved.outcome)}`);
      unfunded -= part;
    }
    const applied = await ledger.benefits.applyMerchant(
      admin,
      { merchantId: MERCHANT_ID, name: 'Benchmark supermarket', category: 'supermarket', signingOrgId: tree.province, bankCard: MERCHANT_CARD },
      'merchant',
    );
    const admitted = await ledger.benefits.approve(finance, applied.proposal.proposalId, 'merchant-approval');
    if (admitted.outcome?.status !== 'done') throw new Error(`the merchant was not admitted: ${JSON.stringify(admitted.outcome)}`);
    notes.push(`programme ${PROGRAMME_ID} opened and funded ¥${fmtInt((amountFen * args.members) / 100)} at ${tree.province}, merchant ${MERCHANT_ID} admitted (proposals approved by finance): ${seconds(msSince(t0))}`);

    t0 = process.hrtime.bigint();
    const drafted = await ledger.benefits.draftBatch(
      admin,
      { batchId: BATCH_ID, kind: 'money', programmeId: PROGRAMME_ID, orgId: tree.province, amountFen, items: null, voucher: null },
      'draft',
    );
    if (drafted.batch.memberCount !== args.members) throw new Error(`the batch lists ${drafted.batch.memberCount} members, not ${args.members}`);
    notes.push(
      `batch ${BATCH_ID} drafted from ul_members (every active member of ${tree.province}), sealed and proposed: ${fmtInt(drafted.batch.memberCount)} members ` +
        `in ${drafted.batch.chunks.length} chunks, ¥${args.amount} each, in ${seconds(msSince(t0))}`,
    );
    return { tree, notes, batchProposalId: drafted.proposal.proposalId, chunks: drafted.batch.chunks.length };
  } finally {
    await ledger.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Baseline: plain autocommit single-row INSERTs of a WalletCredited-sized row

const BASELINE_TABLE_SQL = `CREATE TABLE bench_benefits_baseline (
  id bigserial PRIMARY KEY,
  stream_id text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL
)`;

interface BaselineRun {
  writers: number;
  rowsPerS: number;
  latency: LatencySummary;
  nodeUsPerRow: number;
  postgresUsPerRow: number;
  hostBusyPct: number;
}

async function runBaseline(db: Database, tree: OrgTree, members: number, amountFen: number, writers: number, durationMs: number, gate: QuietGate): Promise<BaselineRun> {
  await gate.wait();
  let next = 0;
  const insert = (): Promise<null> => {
    const member = fixtureMember(next++ % members, tree);
    const event = walletCredit(member.memberId, { batchId: BATCH_ID, programmeId: PROGRAMME_ID, orgId: tree.province }, amountFen);
    const metadata = { occurredAt: new Date().toISOString(), commandId: `batch:${BATCH_ID}:chunk:${next}`, actor: { type: 'system', id: 'batch-runner' } };
    return db.none({
      name: 'bench-benefits-baseline',
      text: 'INSERT INTO bench_benefits_baseline (stream_id, data, metadata) VALUES ($1, $2::jsonb, $3::jsonb)',
      values: [`wallet-${member.memberId}`, JSON.stringify(event.data), JSON.stringify(metadata)],
    });
  };
  await runLoad({ concurrency: writers, durationMs: 300, operation: async () => (await insert(), 1) });
  const meter = await CpuMeter.start(db);
  const load = await runLoad({ concurrency: writers, durationMs, operation: async () => (await insert(), 1) });
  const cpu = await meter.stop();
  return {
    writers,
    rowsPerS: load.operations / load.elapsedS,
    latency: summarise(load.latenciesMs),
    nodeUsPerRow: (cpu.nodeS * 1e6) / load.operations,
    postgresUsPerRow: (cpu.postgresS * 1e6) / load.operations,
    hostBusyPct: cpu.hostBusyPct,
  };
}

// ---------------------------------------------------------------------------------------------
// A: the disbursement

interface Disbursement {
  members: number;
  chunks: number;
  wallS: number;
  membersPerS: number;
  firstCommitMs: number;
  commits: LatencySummary;
  commitRetries: number;
  spans: Span[];
  cpu: { nodeS: number; postgresS: number; hostBusyPct: number };
  foldMs: number;
  profile: string[];
}

async function disburse(ledger: UnionLedger, timer: StoreTimer, db: Database, profileDb: Database, fixture: Fixture, args: BenefitsArgs, gate: QuietGate): Promise<Disbursement> {
  const finance = { ...FINANCE, org: fixture.tree.province };
  await gate.wait();
  const profiling = args.profile ? await Profiling.start('paying the batch', profileDb) : undefined;
  const meter = await CpuMeter.start(db);
  timer.recording = true;
  const start = process.hrtime.bigint();
  const approved = await ledger.benefits.approve(finance, fixture.batchProposalId, 'batch-approval');
  if (approved.outcome?.status !== 'done') throw new Error(`the batch proposal was not carried out: ${JSON.stringify(approved.outcome)}`);
  // Approval started the runner in the background; a second run of the same batch joins it.
  const progress = await ledger.benefits.runner.run(BATCH_ID);
  const wallMs = msSince(start);
  timer.recording = false;
  const cpu = await meter.stop();
  const profile = (await profiling?.stop()) ?? [];
  if (progress.status !== 'completed' || progress.paidCount !== args.members) {
    throw new Error(`the batch ended ${progress.status} with ${progress.paidCount} of ${args.members} members paid`);
  }
  const spans = timer.spans.splice(0);
  const commits = spans.filter((span) => span.kind === 'chunk commit');
  // What folding the batch stream from the log costs (once per process: the handler keeps 16 batches).
  const events = await ledger.store.readStream(batchStream(BATCH_ID), { maxCount: 100_000 });
  const t0 = process.hrtime.bigint();
  events.reduce((state, event) => evolveBatch(state, { type: event.type, data: event.data } as unknown as BatchEvent), initialBatchState);
  const foldMs = msSince(t0);
  return {
    members: progress.paidCount,
    chunks: fixture.chunks,
    wallS: wallMs / 1000,
    membersPerS: progress.paidCount / (wallMs / 1000),
    firstCommitMs: commits.length > 0 ? Number(commits[0]!.startNs - start) / 1e6 : Number.NaN,
    commits: summarise(commits.map((span) => Number(span.endNs - span.startNs) / 1e6)),
    commitRetries: commits.length - fixture.chunks,
    spans,
    cpu,
    foldMs,
    profile,
  };
}

interface CatchUp {
  projection: string;
  events: number;
  seconds: number;
}

async function catchUpAfterBatch(ledger: UnionLedger): Promise<CatchUp[]> {
  const results: CatchUp[] = [];
  for (const projection of readModels()) {
    const t0 = process.hrtime.bigint();
    const events = await catchUpProjection(ledger.store, ledger.db, projection);
    results.push({ projection: projection.name, events, seconds: msSince(t0) / 1000 });
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// B: payments over HTTP

interface HttpRun {
  label: string;
  profile: string[];
  result: HttpLoadResult;
  cpu: { wallS: number; nodeS: number; postgresS: number; hostBusyPct: number };
  /** Event-loop utilisation of the thread serving the API. */
  serverElu: number;
}

async function httpRun(label: string, db: Database, job: Parameters<typeof runHttpLoad>[0], gate: QuietGate | undefined, profileDb?: Database): Promise<HttpRun> {
  if (gate) await gate.wait();
  const profiling = profileDb ? await Profiling.start(`serving the ${label} run`, profileDb) : undefined;
  const meter = await CpuMeter.start(db);
  const elu = performance.eventLoopUtilization();
  const result = await runHttpLoad(job);
  const serverElu = performance.eventLoopUtilization(elu).utilization;
  const cpu = await meter.stop();
  return { label, result, cpu, serverElu, profile: (await profiling?.stop()) ?? [] };
}

// ---------------------------------------------------------------------------------------------
// Report

function spanTable(a: Disbursement): string {
  const wallMs = a.wallS * 1000;
  const kinds: SpanKind[] = ['chunk commit', 'batch read', 'programme read', 'wallet read', 'other read', 'single-stream append'];
  const rows: string[][] = [];
  let inStoreMs = 0;
  for (const kind of kinds) {
    const spans = a.spans.filter((span) => span.kind === kind);
    if (spans.length === 0) continue;
    const ms = spans.reduce((sum, span) => sum + Number(span.endNs - span.startNs) / 1e6, 0);
    const cpuMs = spans.reduce((sum, span) => sum + span.nodeCpuUs / 1000, 0);
    const events = spans.reduce((sum, span) => sum + span.events, 0);
    inStoreMs += ms;
    rows.push([kind, fmtInt(spans.length), fmtInt(events), fmtInt(ms), fmtPct((100 * ms) / wallMs), fmtMs(ms / a.chunks), fmtMs(cpuMs / a.chunks)]);
  }
  const outsideMs = wallMs - inStoreMs;
  rows.push(['outside store calls (folds, decisions, building the events, the proposal)', '', '', fmtInt(outsideMs), fmtPct((100 * outsideMs) / wallMs), fmtMs(outsideMs / a.chunks), '']);
  return formatTable(['part of the run', 'calls', 'events', 'total ms', 'share of wall', 'ms per chunk', 'node CPU ms per chunk (in the call)'], rows);
}

function httpTable(runs: HttpRun[]): string {
  const rows: string[][] = [];
  for (const run of runs) {
    const { result } = run;
    const steps = (['paymentCode', 'authorise', 'capture', 'health'] as const).filter((step) => result.latenciesMs[step].length > 0);
    for (const step of steps) {
      const latency = summarise(result.latenciesMs[step]);
      rows.push([
        run.label,
        step === 'paymentCode' ? 'POST /v1/me/payment-codes' : step === 'authorise' ? 'POST /v1/merchant/payments' : step === 'capture' ? 'POST .../:id/capture' : 'GET /health',
        fmtInt(latency.count / result.elapsedS),
        fmtMs(latency.p50),
        fmtMs(latency.p99),
        fmtMs(latency.max),
      ]);
    }
    if (result.pairs > 0) {
      const pair = summarise(result.latenciesMs.pair);
      rows.push([run.label, 'authorise + capture (pair)', fmtInt(result.pairs / result.elapsedS), fmtMs(pair.p50), fmtMs(pair.p99), fmtMs(pair.max)]);
    }
  }
  return formatTable(['run', 'request', 'per s', 'p50 ms', 'p99 ms', 'max ms'], rows);
}

function httpCpuTable(runs: HttpRun[]): string {
  return formatTable(
    ['run', 'requests/s', 'host busy', 'this process (server + clients)', 'postgres', 'server event loop busy', 'CPU per request: process / postgres ms', 'unexpected answers'],
    runs.map((run) => {
      const perS = run.result.requests / run.result.elapsedS;
      return [
        run.label,
        fmtInt(perS),
        fmtPct(run.cpu.hostBusyPct),
        fmtPct((100 * run.cpu.nodeS) / run.cpu.wallS),
        fmtPct((100 * run.cpu.postgresS) / run.cpu.wallS),
        fmtPct(100 * run.serverElu),
        `${fmtMs((1000 * run.cpu.nodeS) / run.result.requests)} / ${fmtMs((1000 * run.cpu.postgresS) / run.result.requests)}`,
        Object.entries(run.result.unexpected).map(([label, count]) => `${label}: ${count}`).join(', ') || 'none',
      ];
    }),
  );
}

// ---------------------------------------------------------------------------------------------

async function redisUrl(): Promise<string | undefined> {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  if (await probeTcp('127.0.0.1', 6379)) return 'redis://127.0.0.1:6379';
  return undefined; // The runtime starts an embedded one.
}

async function main(): Promise<void> {
  const args = parseBenefitsArgs(process.argv.slice(2));
  // The Nest app logs its start-up in this process's output: without colour codes, as the service child of bench:checkin does.
  process.env.NO_COLOR ??= '1';
  const started = process.hrtime.bigint();
  const redisPrefix = `ul-bench-${RUN_TAG}:`;
  const jwtSecret = randomBytes(32).toString('hex');
  const piiKeys = { masterKey: randomBytes(32), hmacKey: randomBytes(32) };
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ul-bench-benefits-'));
  let server: BenchServer | undefined;
  let bench: BenchDatabase | undefined;
  let runtime: Runtime | undefined;
  let outside: OutsideServices | undefined;
  let ledger: UnionLedger | undefined;
  let app: INestApplication | undefined;

  const cleanup = async (): Promise<void> => {
    await app?.close();
    app = undefined;
    await ledger?.close();
    ledger = undefined;
    await outside?.close();
    outside = undefined;
    if (runtime) {
      if (runtime.redis && !args.keep) log(`deleted ${fmtInt(await clearRedis(runtime.redis, redisPrefix))} Redis keys under ${redisPrefix}`);
      await runtime.close();
      runtime = undefined;
    }
    if (bench) {
      await bench.close({ keep: args.keep });
      log(args.keep ? `kept database ${bench.name}` : `dropped database ${bench.name}`);
      bench = undefined;
    }
    await rm(dataDir, { recursive: true, force: true });
    await server?.stop();
  };
  process.once('SIGINT', () => {
    log('interrupted: cleaning up');
    void cleanup().finally(() => process.exit(130));
  });

  try {
    log('# Union Ledger benefits benchmark');
    log(
      `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ` +
        `load average ${os.loadavg().map((value) => value.toFixed(2)).join(' ')} at start; ${new Date().toISOString()}`,
    );
    log(`command: node dist/bench/benefits.js ${process.argv.slice(2).join(' ')}`.trim());
    log(`source: ${sourceVersion()} (dist/ as last built)`);

    server = await resolvePostgres((line) => log(`  ${line}`));
    bench = await createBenchDatabase(server.adminUrl, 20);
    const redisTarget = await redisUrl();
    const config = loadConfig({ DATABASE_URL: bench.url, REDIS_URL: redisTarget, DATA_DIR: dataDir, REDIS_KEY_PREFIX: redisPrefix });
    runtime = await openRuntime(config, { withRedis: true, log: (line) => log(`  ${line}`) });
    log(`servers: ${server.description}, ${await describePostgres(bench.db)}; ${runtime.redisDescription ?? 'no Redis'}; database ${bench.name}, Redis keys ${redisPrefix}*`);
    log(`building the fixture (${fmtInt(args.members)} members)`);
    let t0 = process.hrtime.bigint();
    const fixture = await buildFixture(runtime, config, args, piiKeys);
    fixture.notes.push(`fixture total: ${seconds(msSince(t0))}`);
    log('## Fixture (not measured)');
    for (const note of fixture.notes) log(`- ${note}`);
    log();
    await bench.db.none(BASELINE_TABLE_SQL);

    // The ledger of the measurements: new, so nothing of the fixture is cached (as after a restart).
    outside = await connectOutsideServices(config);
    const tokens = tokenService(jwtSecret);
    ledger = new UnionLedger({
      config,
      db: runtime.db,
      redisQueries: runtime.redisQueries,
      piiKeys,
      benefits: config.benefits,
      onBackgroundError: (task, error) => log(`  background task ${task} failed: ${(error as Error).message}`),
      identity: { tokens, outside },
    });
    const timer = new StoreTimer(ledger.store);
    const gate = new QuietGate(args.quietWait, args.quietThreshold);
    const amountFen = yuanToFen(args.amount);

    // ------------------------------------------------------------------ A
    log(`## A: disbursement of ${fmtInt(args.members)} members in ${fixture.chunks} chunks`);
    const baselineMs = args.baselineSeconds * 1000;
    const before = await runBaseline(bench.db, fixture.tree, args.members, amountFen, 1, baselineMs, gate);
    log(`  INSERT baseline before (1 writer): ${fmtInt(before.rowsPerS)} rows/s`);
    const a = await disburse(ledger, timer, runtime.db, bench.db, fixture, args, gate);
    log(`  batch paid: ${fmtInt(a.members)} members in ${a.wallS.toFixed(1)} s = ${fmtInt(a.membersPerS)} members/s${args.profile ? ' (under the profiler: not a result)' : ''}`);
    const after = await runBaseline(bench.db, fixture.tree, args.members, amountFen, 1, baselineMs, gate);
    log(`  INSERT baseline after (1 writer): ${fmtInt(after.rowsPerS)} rows/s`);
    const wide = await runBaseline(bench.db, fixture.tree, args.members, amountFen, 16, baselineMs, gate);
    log(`  INSERT baseline (16 writers): ${fmtInt(wide.rowsPerS)} rows/s`);
    const insertRate = mean([before.rowsPerS, after.rowsPerS]);
    const ratio = a.membersPerS / insertRate;
    t0 = process.hrtime.bigint();
    const catchUps = await catchUpAfterBatch(ledger);
    log(`  read models caught up with the batch in ${seconds(msSince(t0))}`);
    log();

    // ------------------------------------------------------------------ B
    app = await createHttpApp(ledger, runtime, { rateLimit: { perSecond: 1_000_000, burst: 1_000_000, keyPrefix: redisPrefix } });
    app.useLogger(['error', 'warn']);
    await app.listen(0, '127.0.0.1');
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    // As the service runs them (src/main.ts): every read model live, and the benefits sweeps.
    ledger.startProjections((projection, error) => log(`  projection ${projection} failed a batch: ${(error as Error).message}`));
    if (config.benefits.sweepIntervalMs > 0) ledger.benefits.startSweeps(config.benefits.sweepIntervalMs);
    const merchantToken = await tokens.sign({ sub: 'bench-terminal', role: 'merchant', org: MERCHANT_ID }, { ttlSeconds: 3600 });
    log(`## B: payments over HTTP at ${args.clients} clients (API at ${url} in this process, clients in a worker thread)`);
    let nextMember = 0;
    const job = (mode: 'payments' | 'health', durationMs: number, tag: string) => ({
      url,
      mode,
      clients: args.clients,
      durationMs,
      firstMember: nextMember,
      memberLimit: args.members,
      tree: { cities: args.cities, counties: args.counties, unions: args.unions },
      jwtSecret,
      merchantToken,
      amount: PAYMENT_AMOUNT,
      keyPrefix: `${RUN_TAG}-${tag}`,
    });
    const warm = await httpRun('warm-up', runtime.db, job('payments', WARMUP_MS, 'warm'), undefined);
    nextMember = warm.result.nextMember;
    log(`  warm-up (${WARMUP_MS / 1000} s, not in the tables): ${fmtInt(warm.result.pairs / warm.result.elapsedS)} pairs/s`);
    const probeMs = args.probeSeconds * 1000;
    const probeBefore = await httpRun('health before', runtime.db, job('health', probeMs, 'probe-1'), gate);
    const payments = await httpRun('payments', runtime.db, job('payments', args.seconds * 1000, 'pay'), gate, args.profile ? bench.db : undefined);
    nextMember = payments.result.nextMember;
    const probeAfter = await httpRun('health after', runtime.db, job('health', probeMs, 'probe-2'), gate);
    const runs = [probeBefore, payments, probeAfter];
    log(`  ${fmtInt(payments.result.pairs)} payments by ${fmtInt(nextMember - warm.result.nextMember)} members${payments.result.exhausted ? ' (the members ran out)' : ''}`);
    log();

    // Checks: a paid member's wallet, and the ledger as a whole.
    await app.close();
    app = undefined;
    await ledger.close();
    const checkLedger = new UnionLedger({ config, db: runtime.db, piiKeys, listen: false });
    const paidMember = fixtureMember(warm.result.nextMember, fixture.tree).memberId;
    const unusedMember = fixtureMember(args.members - 1, fixture.tree).memberId;
    const [paidWallet, unusedWallet] = [await checkLedger.benefits.wallet(paidMember), await checkLedger.benefits.wallet(unusedMember)];
    t0 = process.hrtime.bigint();
    await checkLedger.catchUpReadModels();
    const balance = await checkTrialBalance(runtime.db);
    const checkMs = msSince(t0);
    await checkLedger.close();
    ledger = undefined;

    // ------------------------------------------------------------------ report
    log('## A: disbursement (approval to batch completed) vs plain INSERTs');
    log(
      formatTable(
        ['members', 'chunks', 'wall s', 'members/s', 'chunk commit p50 / p99 / max ms', 'first commit after approval ms', 'INSERT rows/s, 1 writer (before / after)', 'ratio', 'INSERT rows/s, 16 writers'],
        [
          [
            fmtInt(a.members),
            fmtInt(a.chunks),
            a.wallS.toFixed(1),
            fmtInt(a.membersPerS),
            `${fmtMs(a.commits.p50)} / ${fmtMs(a.commits.p99)} / ${fmtMs(a.commits.max)}`,
            fmtInt(a.firstCommitMs),
            `${fmtInt(before.rowsPerS)} / ${fmtInt(after.rowsPerS)}`,
            fmtRatio(ratio),
            fmtInt(wide.rowsPerS),
          ],
        ],
      ),
    );
    log(
      `CPU during the batch: host ${fmtPct(a.cpu.hostBusyPct)} busy; this process ${fmtInt((a.cpu.nodeS * 1000) / a.chunks)} ms and PostgreSQL ${fmtInt((a.cpu.postgresS * 1000) / a.chunks)} ms per chunk ` +
        `(${fmtInt((a.cpu.nodeS * 1e6) / a.members)} / ${fmtInt((a.cpu.postgresS * 1e6) / a.members)} µs per member); per plain INSERT: ${fmtInt(before.nodeUsPerRow)} / ${fmtInt(before.postgresUsPerRow)} µs ` +
        `(1 writer), INSERT p50 / p99 ${fmtMs(before.latency.p50)} / ${fmtMs(before.latency.p99)} ms. Commits retried on a conflict: ${a.commitRetries}.`,
    );
    log(`Folding the batch stream from the log (${fixture.chunks} listed chunks + the run's events) once, as the first load after a start does: ${fmtInt(a.foldMs)} ms.`);
    log();
    log('Where the batch run spent its wall time (every event-store call of this process, timed):');
    log(spanTable(a));
    log();
    for (const line of a.profile) log(line);
    if (a.profile.length > 0) log();
    log('Read models catching up with the batch afterwards (catchUpProjection, one after the other; not part of the target):');
    log(formatTable(['read model', 'events', 's', 'events/s'], catchUps.map((c) => [c.projection, fmtInt(c.events), c.seconds.toFixed(1), fmtInt(c.events / c.seconds)])));
    log();
    log(`## B: payments over HTTP, ${args.clients} clients (payment code, authorise, capture per member) vs GET /health at the same concurrency`);
    log(httpTable(runs));
    log();
    log(httpCpuTable(runs));
    for (const line of payments.profile) log(line);
    const healthRate = mean([probeBefore, probeAfter].map((run) => run.result.requests / run.result.elapsedS));
    const healthP99 = mean([probeBefore, probeAfter].map((run) => summarise(run.result.latenciesMs.health).p99));
    const authorise = summarise(payments.result.latenciesMs.authorise);
    const capture = summarise(payments.result.latenciesMs.capture);
    const pairsPerS = payments.result.pairs / payments.result.elapsedS;
    const paymentRequestsPerS = payments.result.requests / payments.result.elapsedS;
    log(
      `ratios to the health probe (mean of before and after): payment requests/s ${fmtRatio(paymentRequestsPerS / healthRate)}, pairs/s ${fmtRatio(pairsPerS / healthRate)}; ` +
        `p99 authorise ${fmtRatio(authorise.p99 / healthP99)}, capture ${fmtRatio(capture.p99 / healthP99)} of the probe's p99 (${fmtMs(healthP99)} ms)`,
    );
    log();
    log(
      `checks: wallet of a paying member: available ${paidWallet.available} fen, held ${paidWallet.held} (expected ${amountFen - yuanToFen(PAYMENT_AMOUNT)} / 0); ` +
        `of an unused member: ${unusedWallet.available} fen; trial balance after catching up every read model: ${balance.ok ? 'ok' : 'NOT OK'} ` +
        `(${fmtInt(balance.postings)} postings, ${balance.negativeAccounts.length} negative accounts) in ${seconds(checkMs)}`,
    );
    log();
    const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
    log('## Targets');
    log(`- disbursement members/s >= 0.5x plain INSERT rows/s (1 writer): ${fmtInt(a.membersPerS)} / ${fmtInt(insertRate)} = ${fmtRatio(ratio)}: ${verdict(ratio >= 0.5)}`);
    log(`- authorise and capture p99 < 50 ms at ${args.clients} clients: ${fmtMs(authorise.p99)} and ${fmtMs(capture.p99)} ms: ${verdict(authorise.p99 < 50 && capture.p99 < 50)}`);
    log();
    const unexpected = Object.values(payments.result.unexpected).reduce((sum, count) => sum + count, 0);
    const ok = balance.ok && paidWallet.available === amountFen - yuanToFen(PAYMENT_AMOUNT) && unusedWallet.available === amountFen && unexpected === 0;
    if (!ok) {
      log('FAILED: a check above did not hold, or the API gave unexpected answers');
      process.exitCode = 1;
    }
    log(
      `waited ${gate.waitedS} s for an idle machine (below ${args.quietThreshold} % busy); ${gate.busyStarts} measurements started on a busy machine ` +
        `after the wait budget ran out; load average ${os.loadavg().map((value) => value.toFixed(2)).join(' ')} at the end; total ${seconds(msSince(started))}`,
    );
    log(`host busy during the INSERT baselines: ${fmtPct(before.hostBusyPct)} / ${fmtPct(after.hostBusyPct)} / ${fmtPct(wide.hostBusyPct)} (1 writer before, after; 16 writers)`);
  } finally {
    await cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
