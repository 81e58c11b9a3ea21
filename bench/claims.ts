/**
 * Claim burst benchmark: `npm run bench:claims` (see docs/BENCHMARKS.md, "Claim bursts").
 *
 *   1. A fresh ul_bench_<random> database and a Redis key prefix of its own.
 *   2. Fixture (timed, not measured): a province with grassroots unions, a funded benefits
 *      programme (maker-checker through the real service layer), M members enrolled and activated
 *      (appended in multi-stream commits of 500), the read models caught up.
 *   3. The real service, `node dist/src/main.js` (WORKERS=off), as a child process.
 *   4. A campaign of U units whose window opens a few seconds later; when it opens, C keep-alive
 *      HTTP clients send the M claims (one per member, distinct members) as fast as answers come.
 *      Reported: granted (must be exactly U), answers by code, claims/s, p50/p99/max latency, and
 *      the log checked afterwards (U ClaimGranted events, U distinct members, slots 1..U).
 *   5. Baseline in the same run: a plain Redis DECR gate (one DECR per claim, no HTTP, no
 *      eligibility, no log) at the same concurrency for the same number of claims.
 *
 * Options: --members M (20000) --units U (500) --concurrency C (64) --keep (keep the database),
 *   --cpu-prof DIR (the service runs under `node --cpu-prof`: a .cpuprofile in DIR when it stops, for
 *   Chrome DevTools or speedscope: where a claim's time goes).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { readModels, tokenService, UnionLedger } from '../src/composition-root';
import { memberStream } from '../src/domain/members';
import type { StreamAppend } from '../src/eventstore/event-store';
import { probeTcp } from '../src/infra/embedded';
import { catchUpProjection } from '../src/projections';
import { createBenchDatabase, resolvePostgres } from './lib/database';
import { BenchHttpClient } from './lib/http-client';
import { clearRedis } from './lib/redis';
import { startService, type ServiceProcess } from './lib/service-process';
import { msSince, summarise, type LatencySummary } from './lib/stats';
import { fmtInt, fmtMs, fmtRatio, formatTable } from './lib/table';

const log = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
process.stdout.on('error', () => undefined);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

interface Args {
  members: number;
  units: number;
  concurrency: number;
  keep: boolean;
  cpuProfDir: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { members: 20_000, units: 500, concurrency: 64, keep: false, cpuProfDir: undefined };
  for (let index = 0; index < argv.length; index += 1) {
    const flag = argv[index];
    const value = (): number => {
      const parsed = Number(argv[(index += 1)]);
      if (!Number.isSafeInteger(parsed) || parsed < 1 || parsed > 1_000_000) throw new Error(`${flag} takes a whole number from 1 to 1,000,000`);
      return parsed;
    };
    if (flag === '--members') args.members = value();
    else if (flag === '--units') args.units = value();
    else if (flag === '--concurrency') args.concurrency = value();
    else if (flag === '--keep') args.keep = true;
    else if (flag === '--cpu-prof') args.cpuProfDir = argv[(index += 1)];
    else throw new Error(`unknown option ${flag}: --members M --units U --concurrency C --keep --cpu-prof DIR`);
  }
  if (args.units > args.members) throw new Error('--units must not exceed --members');
  return args;
}

const UNIONS = 8;
const ADMIN = { sub: 'bench-admin', role: 'admin' as const, org: 'bench-gd' };
const FINANCE = { sub: 'bench-finance', role: 'finance' as const, org: 'bench-gd' };
const PROGRAMME = 'bench-claims';
const SYSTEM = { type: 'system', id: 'bench-claims' };
const APPEND_CHUNK = 500;
/** The window opens this long after the campaign is created: time for the clients to be ready. */
const OPEN_DELAY_MS = 3000;

const memberIdOf = (index: number): string => `bench-m-${index}`;
const unionOf = (index: number): string => `bench-gd-u${index % UNIONS}`;

async function redisUrl(): Promise<string> {
  if (process.env.REDIS_URL) return process.env.REDIS_URL;
  if (await probeTcp('127.0.0.1', 6379)) return 'redis://127.0.0.1:6379';
  throw new Error('no Redis: set REDIS_URL or run one on 127.0.0.1:6379');
}

/** Enrols and activates the members, 500 streams per commit (the events the command path writes, without personal data: none is needed here). */
async function loadMembers(ledger: UnionLedger, count: number): Promise<void> {
  const occurredAt = new Date().toISOString();
  for (let first = 0; first < count; first += APPEND_CHUNK) {
    const appends: StreamAppend[] = [];
    for (let index = first; index < Math.min(count, first + APPEND_CHUNK); index += 1) {
      const memberId = memberIdOf(index);
      const orgId = unionOf(index);
      const metadata = { occurredAt, commandId: `bench-member-${index}`, actor: SYSTEM };
      appends.push({
        streamId: memberStream(memberId),
        expectedRevision: 'no_stream',
        events: [
          { type: 'MemberEnrolled', data: { memberId, orgId, name: `会员${index}`, idHmac: `bench-${index}`, piiCipher: 'bench-without-personal-data' }, metadata },
          { type: 'MemberActivated', data: { memberId, orgId, day: occurredAt.slice(0, 10) }, metadata },
        ],
      });
    }
    await ledger.store.appendToStreams(appends);
  }
}

interface BurstResult {
  wallMs: number;
  latencies: LatencySummary;
  codes: Map<string, number>;
  granted: Set<string>;
}

/** `total` operations from `concurrency` loops, each taking the next index; latency per operation. */
async function burst(total: number, concurrency: number, operation: (index: number) => Promise<string>): Promise<{ wallMs: number; latencies: number[]; codes: Map<string, number> }> {
  const latencies: number[] = [];
  const codes = new Map<string, number>();
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const index = next++;
        const started = process.hrtime.bigint();
        const code = await operation(index);
        latencies.push(msSince(started));
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }),
  );
  return { wallMs: msSince(t0), latencies, codes };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const server = await resolvePostgres(log);
  const redisTarget = await redisUrl();
  const redis = new Redis(redisTarget, { maxRetriesPerRequest: 3 });
  const prefix = `ul-bench-claims-${randomBytes(3).toString('hex')}:`;
  const bench = await createBenchDatabase(server.adminUrl, 8);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ul-bench-claims-'));
  const secret = randomBytes(32).toString('hex');
  const piiMaster = randomBytes(32);
  const piiHmac = randomBytes(32);
  let service: ServiceProcess | undefined;
  let http: BenchHttpClient | undefined;
  const ledger = new UnionLedger({
    config: { eventStore: 'postgres', kurrentDbUrl: undefined, redisKeyPrefix: prefix },
    db: bench.db,
    redis,
    listen: false,
    piiKeys: { masterKey: piiMaster, hmacKey: piiHmac },
  });
  try {
    log(`# Claim burst: ${fmtInt(args.members)} claims for ${fmtInt(args.units)} units from ${args.concurrency} HTTP clients`);
    log(`database ${bench.name} (${server.description}); Redis ${redisTarget}, keys ${prefix}*`);
    let t0 = process.hrtime.bigint();
    await ledger.orgs.registerOrganisation({ orgId: 'bench-gd', name: 'Bench province', parentId: null, level: 'province' }, { commandId: 'org:root', actor: SYSTEM });
    for (let index = 0; index < UNIONS; index += 1) {
      await ledger.orgs.registerOrganisation({ orgId: `bench-gd-u${index}`, name: `Bench union ${index}`, parentId: 'bench-gd', level: 'grassroots' }, { commandId: `org:${index}`, actor: SYSTEM });
    }
    await ledger.benefits.openProgramme(ADMIN, { programmeId: PROGRAMME, name: 'bench', year: new Date().getFullYear(), rootOrgId: 'bench-gd' }, 'open');
    const proposal = await ledger.benefits.proposeFunding(ADMIN, PROGRAMME, { amountFen: args.units * 5000, source: 'union_funds', reference: 'bench' }, 'fund');
    await ledger.benefits.approve(FINANCE, proposal.proposalId, 'approve');
    await loadMembers(ledger, args.members);
    for (const projection of readModels()) await catchUpProjection(ledger.store, bench.db, projection);
    log(`fixture: ${UNIONS} unions, a funded programme, ${fmtInt(args.members)} active members, read models caught up, in ${seconds(msSince(t0))}`);

    t0 = process.hrtime.bigint();
    service = await startService({
      DATABASE_URL: bench.url,
      REDIS_URL: redisTarget,
      REDIS_KEY_PREFIX: prefix,
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      JWT_SECRET: secret,
      PII_MASTER_KEY: piiMaster.toString('base64'),
      PII_HMAC_KEY: piiHmac.toString('base64'),
      RATE_LIMIT_PER_SECOND: '100000',
      RATE_LIMIT_BURST: '1000000',
      WORKERS: 'off',
      LOG_FORMAT: 'text',
    }, args.cpuProfDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${args.cpuProfDir}`] } : {});
    log(`service: node dist/src/main.js (pid ${service.pid}, WORKERS=off) at ${service.url} after ${seconds(msSince(t0))}`);
    http = new BenchHttpClient(service.url, args.concurrency);
    const signer = tokenService(secret);
    const tokens: string[] = [];
    for (let index = 0; index < args.members; index += 1) tokens.push(await signer.sign({ sub: memberIdOf(index), role: 'member', org: unionOf(index) }, { ttlSeconds: 3600 }));

    const campaignId = `bench-${randomBytes(3).toString('hex')}`;
    const opensAtMs = Date.now() + OPEN_DELAY_MS;
    await ledger.claims.createCampaign(
      ADMIN,
      {
        campaignId,
        orgId: 'bench-gd',
        name: 'bench',
        units: args.units,
        opensAtMs,
        closesAtMs: opensAtMs + 3600_000,
        minPoints: 0,
        programmeId: PROGRAMME,
        voucher: { category: 'rail-ticket', faceFen: 5000, validFromMs: opensAtMs, validUntilMs: opensAtMs + 30 * 24 * 3600_000 },
      },
      'create-campaign',
    );
    // Warm the service's connections and caches on a route of its own (a refused claim before the window).
    const early = await http.request('POST', `/v1/me/claim-campaigns/${campaignId}/claim`, { token: tokens[0]!, key: 'early' });
    if (!early.body.includes('CLAIM.NOT_OPEN')) throw new Error(`a claim before the window answered ${early.status} ${early.body}`);
    // The window's opening is the starting gun: a wait on the clock, as the members' phones wait on it.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, opensAtMs - Date.now() + 5)));

    const client = http;
    const run = await burst(args.members, args.concurrency, async (index) => {
      const answer = await client.request('POST', `/v1/me/claim-campaigns/${campaignId}/claim`, { token: tokens[index]!, key: `claim-${index}` });
      if (answer.status === 201) return '201 granted';
      const code = (JSON.parse(answer.body) as { code?: string }).code ?? '?';
      return `${answer.status} ${code}`;
    });
    const result: BurstResult = { wallMs: run.wallMs, latencies: summarise(run.latencies), codes: run.codes, granted: new Set() };
    log(`burst: ${seconds(run.wallMs)}, answers ${JSON.stringify(Object.fromEntries(run.codes))}`);
    for (const line of service.errorLines().filter((entry) => /\bERROR\b/.test(entry)).slice(0, 5)) log(`  service error: ${line.slice(0, 300)}`);

    // The log, checked: exactly U claims, U distinct members, slots 1..U.
    const rows = await bench.db.any<{ member_id: string; seq: number }>(
      `SELECT data->>'memberId' AS member_id, (data->>'seq')::int AS seq FROM ul_events WHERE event_type = 'ClaimGranted' AND data->>'campaignId' = $1`,
      [campaignId],
    );
    const seqs = rows.map((row) => row.seq).sort((a, b) => a - b);
    const slotsOk = seqs.length === args.units && seqs.every((seq, index) => seq === index + 1);
    for (const row of rows) result.granted.add(row.member_id);

    // Baseline: a plain Redis DECR gate at the same concurrency, for the same number of claims.
    const counter = `${prefix}baseline-decr`;
    await redis.set(counter, String(args.units));
    let decrGranted = 0;
    const baseline = await burst(args.members, args.concurrency, async () => {
      const left = await redis.decr(counter);
      if (left >= 0) {
        decrGranted += 1;
        return 'granted';
      }
      return 'sold out';
    });
    const decr = summarise(baseline.latencies);

    log();
    log('## Answers');
    log(formatTable(['answer', 'count'], [...result.codes].sort().map(([code, count]) => [code, fmtInt(count)])));
    log();
    log(
      `log: ${rows.length} ClaimGranted events, ${result.granted.size} distinct members, slots ${slotsOk ? `1..${args.units} once each` : 'NOT 1..U'}; ` +
        `HTTP 201 answers ${fmtInt(result.codes.get('201 granted') ?? 0)}: ${rows.length === args.units && result.granted.size === args.units && slotsOk && result.codes.get('201 granted') === args.units ? 'exactly U granted, OK' : 'MISMATCH'}`,
    );
    log();
    log('## Throughput and latency');
    const claimsPerSecond = args.members / (result.wallMs / 1000);
    const decrPerSecond = args.members / (baseline.wallMs / 1000);
    log(
      formatTable(
        ['gate', 'claims', 'wall', 'claims/s', 'p50', 'p99', 'max', 'granted'],
        [
          ['service: HTTP + auth + idempotency + gate + log', fmtInt(args.members), seconds(result.wallMs), fmtInt(claimsPerSecond), fmtMs(result.latencies.p50), fmtMs(result.latencies.p99), fmtMs(result.latencies.max), fmtInt(rows.length)],
          ['baseline: plain Redis DECR (no HTTP, no log)', fmtInt(args.members), seconds(baseline.wallMs), fmtInt(decrPerSecond), fmtMs(decr.p50), fmtMs(decr.p99), fmtMs(decr.max), fmtInt(decrGranted)],
        ],
      ),
    );
    log();
    log(`ratio: the service serves ${fmtRatio(claimsPerSecond / decrPerSecond)} of the DECR gate's claims/s; p99 ${fmtMs(result.latencies.p99)} against the 200 ms target: ${result.latencies.p99 < 200 ? 'met' : 'NOT met'}`);
    if (rows.length !== args.units || result.granted.size !== args.units || !slotsOk) process.exitCode = 1;
  } finally {
    http?.close();
    if (service) {
      const code = await service.stop();
      if (code !== 0 && code !== null) log(`service exited with ${code}; last lines:\n${service.logTail().slice(-20).join('\n')}`);
    }
    await ledger.close();
    await clearRedis(redis, prefix);
    await redis.quit();
    await bench.close({ keep: args.keep });
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
