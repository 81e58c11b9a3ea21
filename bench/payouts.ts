/**
 * Payouts benchmark: `npm run bench:payouts` (see docs/BENCHMARKS.md).
 *
 * In a fresh ul_bench_<random> database and a BullMQ prefix of its own, at each concurrency:
 *   1. baseline: raw BullMQ, N empty jobs added (addBulk, 100 a call, the queues' default job
 *      options) and processed by a Worker whose processor does nothing;
 *   2. subject: N payouts, each a `PayoutRequested` on a merchant stream, added as the relay adds
 *      them (job id = the event's id, DEFAULT_JOB_OPTIONS) and processed by the payouts worker
 *      (startPayoutWorker): read the request, open the sealed card, pay through the gateway
 *      simulator over HTTP (a process of its own, as a gateway is), record PayoutSucceeded on
 *      the merchant stream;
 *   3. the baseline again (drift between the two shows in both).
 * Each side is timed from its first add to its last job completed, in the same process, on the
 * same Redis, at the same worker concurrency. The relay (event log → jobs) is not part of it yet:
 * it is being written elsewhere; the subject adds the jobs itself, the way the relay will.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { eventsToAppend } from '../src/application/command-handler';
import { UnionLedger } from '../src/composition-root';
import { admitMerchant, applyMerchant, evolveMerchant, initialMerchantState, merchantLine, settleDay, type MerchantEvent } from '../src/domain/benefits';
import { schemaVersionOf } from '../src/domain/shared';
import { probeTcp } from '../src/infra/embedded';
import { PaymentGatewayHttpClient } from '../src/infra/payment-gateway';
import type { PaymentGatewayStats } from '../src/infra/simulators/payment-gateway-simulator';
import { DEFAULT_JOB_OPTIONS, QUEUES, type EffectJob } from '../src/workers/queues';
import { startPayoutWorker } from '../src/workers/payouts';
import { backendsPct, cpuSince, hostBusyPct, nodePct, otherPct, sampleCpu, type CpuReport } from './lib/cpu';
import { summariseProfile } from './lib/cpu-profile';
import { createBenchDatabase, resolvePostgres } from './lib/database';
import { fmtInt, fmtPct, fmtRatio, formatTable } from './lib/table';

const USAGE = `Usage: node dist/bench/payouts.js [options]
  --payouts=N          payouts (and empty jobs) per measured side        [2000]
  --concurrency=A,B    worker concurrency, one case each                 [16]
  --gateway-latency=N  milliseconds the gateway simulator adds per call  [0]
  --profile            a CPU profile of this process over the payouts side (summary printed)
  --keep               keep the ul_bench_* database
Servers: DATABASE_URL, else PostgreSQL on 127.0.0.1:5432, else an embedded one; REDIS_URL, else Redis on 127.0.0.1:6379.`;

const log = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

interface Args {
  payouts: number;
  concurrency: number[];
  gatewayLatencyMs: number;
  profile: boolean;
  keep: boolean;
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: { payouts: { type: 'string' }, concurrency: { type: 'string' }, 'gateway-latency': { type: 'string' }, profile: { type: 'boolean' }, keep: { type: 'boolean' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    log(USAGE);
    process.exit(0);
  }
  const ints = (text: string, flag: string): number[] => {
    const list = text.split(',').map(Number);
    if (list.some((value) => !Number.isInteger(value) || value < 0)) throw new Error(`--${flag} needs whole numbers\n${USAGE}`);
    return list;
  };
  return {
    payouts: ints(values.payouts ?? '2000', 'payouts')[0]!,
    concurrency: ints(values.concurrency ?? '16', 'concurrency'),
    gatewayLatencyMs: ints(values['gateway-latency'] ?? '0', 'gateway-latency')[0]!,
    profile: values.profile ?? false,
    keep: values.keep ?? false,
  };
}

async function redisUrl(): Promise<string> {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  if (await probeTcp('127.0.0.1', 6379)) return 'redis://127.0.0.1:6379';
  throw new Error('no Redis: set REDIS_URL or run one on 127.0.0.1:6379');
}

/**
 * `count` merchants, each with one settled day and its payout requested, appended straight from
 * the merchant deciders (one append per merchant). The captures' wallet side is left out: the
 * benchmark measures paying, not spending.
 */
async function requestPayouts(ledger: UnionLedger, count: number, run: string): Promise<EffectJob[]> {
  const jobs: EffectJob[] = [];
  const now = new Date();
  const today = new Date(now.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
  for (let start = 0; start < count; start += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - start) }, async (_, offset) => {
        const merchantId = `bench-${run}-${start + offset}`;
        const cardSealed = await ledger.vault.sealText(`merchant-${merchantId}`, '6222021234567890128');
        let state = initialMerchantState;
        const events: MerchantEvent[] = [];
        const take = (decided: MerchantEvent[]): void => {
          events.push(...decided);
          state = decided.reduce(evolveMerchant, state);
        };
        take(applyMerchant(state, { merchantId, name: merchantId, category: 'grocery', signingOrgId: 'bench', cardHmac: 'bench', cardSealed, cardMasked: '6222 **** **** 0128', appliedBy: 'bench' }));
        take(admitMerchant(state, 'bench'));
        take([merchantLine({ merchantId, kind: 'capture', paymentId: `p-${merchantId}`, refundId: null, memberId: 'bench', amountFen: 1_000 + offset, day: today })]);
        take(settleDay(state, { settlementId: `st-${merchantId}`, payoutId: `po-${merchantId}`, day: today }, today));
        const stream = `merchant-${merchantId}`;
        const result = await ledger.store.appendToStream(stream, eventsToAppend(events, { commandId: `bench:${merchantId}`, actor: { type: 'system', id: 'bench' } }, now, (event) => schemaVersionOf(event.data)), {
          expectedRevision: 'no_stream',
        });
        const requested = result.events[result.events.length - 1]!;
        jobs.push({ eventId: requested.eventId, streamId: stream, revision: requested.revision.toString() });
      }),
    );
  }
  return jobs;
}

/** The gateway simulator as a process of its own (bench/lib/gateway-process.ts). */
async function startGateway(latencyMs: number): Promise<{ url: string; apiKey: string; stats(): Promise<PaymentGatewayStats>; stop(): void }> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [path.join(__dirname, 'lib', 'gateway-process.js'), String(latencyMs)]);
  child.stderr.pipe(process.stderr);
  const lines: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const next = (): Promise<string> => new Promise((resolve) => (lines.length > 0 ? resolve(lines.shift()!) : waiters.push(resolve)));
  const { url, apiKey } = JSON.parse(await next()) as { url: string; apiKey: string };
  return {
    url,
    apiKey,
    stats: async () => {
      child.stdin.write('stats\n');
      return JSON.parse(await next()) as PaymentGatewayStats;
    },
    stop: () => child.stdin.end(),
  };
}

interface Side {
  perSecond: number;
  seconds: number;
  cpu: CpuReport;
}

/** Adds `jobs` 100 at a time while a worker of `concurrency` processes them; timed to the last completion. */
async function timeSide(
  connection: Redis,
  prefix: string,
  queueName: string,
  jobs: ReadonlyArray<{ name: string; data: object; jobId: string }>,
  startWorker: () => Worker,
  backendPids: number[],
  profileTo?: string,
): Promise<Side> {
  const queue = new Queue(queueName, { connection, prefix });
  const worker = startWorker();
  await worker.waitUntilReady();
  let completed = 0;
  let failed = 0;
  const done = new Promise<void>((resolve) => {
    const check = (): void => {
      if (completed + failed >= jobs.length) resolve();
    };
    worker.on('completed', () => {
      completed += 1;
      check();
    });
    worker.on('failed', () => {
      failed += 1;
      check();
    });
  });
  const session = profileTo ? new Session() : undefined;
  if (session) {
    session.connect();
    await new Promise<void>((resolve, reject) => session.post('Profiler.enable', () => session.post('Profiler.start', (error) => (error ? reject(error) : resolve()))));
  }
  const cpu = sampleCpu(backendPids);
  const started = process.hrtime.bigint();
  for (let start = 0; start < jobs.length; start += 100) {
    await queue.addBulk(jobs.slice(start, start + 100).map((job) => ({ name: job.name, data: job.data, opts: { jobId: job.jobId, ...DEFAULT_JOB_OPTIONS } })));
  }
  await done;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const report = cpuSince(cpu);
  if (session && profileTo) {
    const profile = await new Promise<unknown>((resolve, reject) => session.post('Profiler.stop', (error, result) => (error ? reject(error) : resolve(result.profile))));
    session.disconnect();
    mkdirSync(profileTo, { recursive: true });
    writeFileSync(path.join(profileTo, `payouts-${Date.now()}.cpuprofile`), JSON.stringify(profile));
  }
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  if (failed > 0) throw new Error(`${failed} job(s) of ${queueName} failed`);
  return { perSecond: jobs.length / seconds, seconds, cpu: report };
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const server = await resolvePostgres(log);
  const database = await createBenchDatabase(server.adminUrl, 40);
  const redis = new Redis(await redisUrl(), { maxRetriesPerRequest: null });
  const prefix = `ul-bench-payouts-${randomBytes(4).toString('hex')}`;
  const simulator = await startGateway(args.gatewayLatencyMs);
  const ledger = new UnionLedger({
    config: { eventStore: 'postgres', kurrentDbUrl: undefined, redisKeyPrefix: prefix },
    db: database.db,
    listen: false,
    piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) },
    payments: new PaymentGatewayHttpClient({ baseUrl: simulator.url, apiKey: simulator.apiKey }),
  });
  log(`payouts benchmark: ${args.payouts} per side, concurrency ${args.concurrency.join(', ')}, gateway latency ${args.gatewayLatencyMs} ms`);
  log(`${server.description}; ${database.name}; Redis prefix ${prefix}; ${os.cpus().length} cores, Node ${process.version}`);
  const rows: string[][] = [];
  const profileDir = path.join(os.tmpdir(), `ul-bench-payouts-profile-${prefix}`);
  try {
    for (const [index, concurrency] of args.concurrency.entries()) {
      const empty = (tag: string) => Array.from({ length: args.payouts }, (_, job) => ({ name: 'empty', data: {}, jobId: `${tag}-${job}` }));
      const raw = (): Worker => {
        const worker = new Worker('bench-empty', async () => undefined, { connection: redis, prefix, concurrency });
        worker.on('error', () => undefined);
        return worker;
      };
      const fixtureStarted = Date.now();
      const jobs = await requestPayouts(ledger, args.payouts, `${index}`);
      log(`concurrency ${concurrency}: ${jobs.length} payouts requested in ${((Date.now() - fixtureStarted) / 1000).toFixed(1)} s`);
      // The pool's connections are open after the fixture: their backends are the ones to watch.
      const backendPids = (await database.db.any<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database.name])).map((row) => row.pid);
      const before = await timeSide(redis, prefix, 'bench-empty', empty(`a${index}`), raw, backendPids);
      const appliedBefore = (await simulator.stats()).applied;
      const subject = await timeSide(
        redis,
        prefix,
        QUEUES.payouts,
        jobs.map((job) => ({ name: 'PayoutRequested', data: job, jobId: job.eventId })),
        () => startPayoutWorker({ effect: ledger.payoutEffect, connection: redis, prefix, concurrency }),
        backendPids,
        args.profile ? profileDir : undefined,
      );
      const after = await timeSide(redis, prefix, 'bench-empty', empty(`b${index}`), raw, backendPids);
      const paid = (await simulator.stats()).applied - appliedBefore;
      if (paid !== jobs.length) throw new Error(`the gateway made ${paid} payments for ${jobs.length} payouts`);
      const baseline = (before.perSecond + after.perSecond) / 2;
      const cells = (label: string, side: Side): string[] => [
        label,
        String(concurrency),
        fmtInt(side.perSecond),
        side.seconds.toFixed(2),
        fmtPct(hostBusyPct(side.cpu)),
        fmtPct(nodePct(side.cpu)),
        fmtPct(backendsPct(side.cpu)),
        fmtPct(otherPct(side.cpu)),
      ];
      rows.push([...cells('raw BullMQ (before)', before), '']);
      rows.push([...cells('payouts: worker + gateway', subject), fmtRatio(subject.perSecond / baseline)]);
      rows.push([...cells('raw BullMQ (after)', after), '']);
    }
  } finally {
    await ledger.close();
    simulator.stop();
    redis.disconnect();
    await database.close({ keep: args.keep });
    await server.stop();
  }
  log();
  log(formatTable(['side', 'concurrency', 'jobs/s', 'seconds', 'host busy', 'node CPU', 'pg CPU', 'other CPU'].concat(['vs raw']), rows));
  log('\nvs raw: the payouts per second against the mean of the two raw BullMQ runs around it (target ≥ 0.50x).');
  const profile = args.profile ? summariseProfile(profileDir, 25) : undefined;
  if (profile) {
    log(`\nCPU profile of the payouts side (${profile.file}, ${fmtInt(profile.totalMs)} ms of samples)`);
    log(formatTable(['area', 'self ms', 'share'], profile.byArea.map(([area, ms]) => [area, fmtInt(ms), fmtPct((100 * ms) / profile.totalMs)])));
    log(formatTable(['function', 'self ms', 'share'], profile.byFunction.map(([name, ms]) => [name, fmtInt(ms), fmtPct((100 * ms) / profile.totalMs)])));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
