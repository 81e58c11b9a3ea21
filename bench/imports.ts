/**
 * Roster imports benchmark: `npm run bench:imports [-- --rows 200000 --baseline-seconds 10 --keep]`
 * (see docs/BENCHMARKS.md, "Roster imports").
 *
 *   1. A fresh ul_bench_<random> database and a Redis key prefix of its own; the runtime, the
 *      composition root's UnionLedger, its projections, the worker service (relay and workers)
 *      and the HTTP app, all in this process, as `npm start` runs them.
 *   2. Fixture (not measured): a province, a city and 20 grassroots unions; a roster file of
 *      `--rows` synthetic members (distinct, valid ID numbers that belong to nobody).
 *   3. Baseline before: plain autocommit single-row INSERTs of a MemberEnrolled-sized row at one
 *      writer (the import commits one chunk at a time), and at 16 writers for context.
 *   4. The import, end to end over HTTP: POST /v1/admin/imports/members (202) to
 *      GET /v1/admin/imports/:id answering `completed` (polled every 250 ms), rows/s. Checked:
 *      every row applied, one MemberEnrolled per row.
 *   5. Baseline after (1 writer); the ratio is against the mean of before and after.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { createHttpApp } from '../src/api/http';
import type { WeChatPort } from '../src/application/identity';
import type { SmsGatewayPort } from '../src/application/sms';
import { openRuntime, tokenService, UnionLedger } from '../src/composition-root';
import { loadConfig } from '../src/config/config';
import type { Database } from '../src/infra/database';
import { BullMqJobQueues } from '../src/workers/dead-letters';
import { QueueSet } from '../src/workers/queue-set';
import { startWorkerService } from '../src/workers/worker-service';
import { createBenchDatabase, resolvePostgres } from './lib/database';
import { runLoad } from './lib/load';
import { clearRedis } from './lib/redis';
import { fmtInt, fmtRatio, formatTable } from './lib/table';

const log = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
process.stdout.on('error', () => undefined);

interface Args {
  rows: number;
  baselineSeconds: number;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { rows: 200_000, baselineSeconds: 10, keep: false };
  for (let index = 0; index < argv.length; index += 1) {
    const flag = argv[index];
    const value = Number(argv[index + 1]);
    if (flag === '--rows' && Number.isSafeInteger(value) && value >= 1_000 && value <= 200_000) {
      args.rows = value;
      index += 1;
    } else if (flag === '--baseline-seconds' && Number.isSafeInteger(value) && value >= 1 && value <= 120) {
      args.baselineSeconds = value;
      index += 1;
    } else if (flag === '--keep') args.keep = true;
    else throw new Error(`unknown or invalid argument ${flag} (--rows 1000..200000, --baseline-seconds 1..120, --keep)`);
  }
  return args;
}

const UNIONS = 20;

/** The n-th synthetic ID number: region 110101, a birth date n / 1000 days after 1970-01-01, sequence n % 1000, the GB 11643 check character. */
function syntheticId(n: number): string {
  const birth = new Date(Date.UTC(1970, 0, 1) + Math.floor(n / 1000) * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
  const first17 = `110101${birth}${String(n % 1000).padStart(3, '0')}`;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...first17].reduce((total, digit, index) => total + Number(digit) * weights[index]!, 0);
  return first17 + '10X98765432'[sum % 11]!;
}

function rosterCsv(rows: number): Buffer {
  const lines = ['name,national_id,phone,org_id'];
  for (let n = 0; n < rows; n += 1) lines.push(`会员${n},${syntheticId(n)},13${String(100_000_000 + n).slice(-9)},bench-u${n % UNIONS}`);
  return Buffer.from(lines.join('\n'));
}

const BASELINE_TABLE_SQL = `CREATE TABLE IF NOT EXISTS bench_imports_baseline (id bigserial PRIMARY KEY, stream_id text NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL)`;

/** Plain autocommit single-row INSERTs of a MemberEnrolled-sized row: the ceiling of one row per commit. */
async function baseline(db: Database, writers: number, seconds: number): Promise<number> {
  await db.none(BASELINE_TABLE_SQL);
  let next = 0;
  const insert = async (): Promise<number> => {
    const n = next++;
    const data = { memberId: randomBytes(16).toString('hex'), orgId: `bench-u${n % UNIONS}`, name: `会员${n}`, idHmac: randomBytes(32).toString('hex'), piiCipher: randomBytes(120).toString('base64') };
    const metadata = { occurredAt: new Date().toISOString(), commandId: `enrol:${data.idHmac}`, actor: { type: 'admin', id: 'bench-admin' } };
    await db.none({
      name: 'bench-imports-baseline',
      text: 'INSERT INTO bench_imports_baseline (stream_id, data, metadata) VALUES ($1, $2::jsonb, $3::jsonb)',
      values: [`member-${data.memberId}`, JSON.stringify(data), JSON.stringify(metadata)],
    });
    return 1;
  };
  await runLoad({ concurrency: writers, durationMs: 300, operation: insert });
  const load = await runLoad({ concurrency: writers, durationMs: seconds * 1000, operation: insert });
  return load.operations / load.elapsedS;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const server = await resolvePostgres(log);
  const bench = await createBenchDatabase(server.adminUrl, 4);
  const prefix = `ul-bench-imports-${randomBytes(3).toString('hex')}:`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ul-bench-imports-'));
  const config = loadConfig({ DATABASE_URL: bench.url, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: prefix, DATA_DIR: dataDir });
  const runtime = await openRuntime(config, { withRedis: true, log: () => undefined });
  const queues = new QueueSet(runtime.redis!, prefix);
  const tokens = tokenService(randomBytes(32).toString('hex'));
  const unused = new Proxy({}, { get: () => () => Promise.reject(new Error('not used by the benchmark')) });
  const ledger = new UnionLedger({
    config,
    db: runtime.db,
    redis: runtime.redis,
    redisQueries: runtime.redisQueries,
    piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) },
    jobQueues: new BullMqJobQueues(queues),
    imports: { asyncMinRows: 1_000 },
    identity: { tokens, outside: { wechat: unused as WeChatPort, sms: unused as SmsGatewayPort } },
  });
  let app: INestApplication | undefined;
  const workerLog: string[] = [];
  const workers = await startWorkerService({
    ledger,
    db: runtime.db,
    redis: runtime.redis!,
    redisKeyPrefix: prefix,
    queues,
    settings: { concurrency: undefined, lockMs: 30_000 },
    log: { log: (line) => workerLog.push(line), warn: (line) => workerLog.push(line), error: (line) => log(`worker: ${line}`) },
    schedules: false,
  });
  try {
    log(`# Roster imports: ${fmtInt(args.rows)} rows through the async path (${server.description}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)})`);
    const system = { type: 'system', id: 'bench' };
    await ledger.orgs.registerOrganisation({ orgId: 'bench-p', name: '省', parentId: null, level: 'province' }, { commandId: 'bench-p', actor: system });
    await ledger.orgs.registerOrganisation({ orgId: 'bench-c', name: '市', parentId: 'bench-p', level: 'city' }, { commandId: 'bench-c', actor: system });
    for (let unit = 0; unit < UNIONS; unit += 1) {
      await ledger.orgs.registerOrganisation({ orgId: `bench-u${unit}`, name: `工会${unit}`, parentId: 'bench-c', level: 'grassroots' }, { commandId: `bench-u${unit}`, actor: system });
    }
    ledger.startProjections((projection, error) => log(`projection ${projection}: ${(error as Error).message}`));
    app = await createHttpApp(ledger, runtime, { limits: { maxEventLoopDelayMs: 0, requestTimeoutMs: 600_000 }, rateLimit: { perSecond: 100_000, burst: 100_000, keyPrefix: prefix } });
    await app.listen(0, '127.0.0.1');
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const token = await tokens.sign({ sub: 'bench-admin', role: 'admin', org: 'bench-c' }, { ttlSeconds: 3600 });
    const csv = rosterCsv(args.rows);
    log(`roster file: ${fmtInt(csv.length)} bytes`);

    const before = await baseline(bench.db, 1, args.baselineSeconds);
    const wide = await baseline(bench.db, 16, args.baselineSeconds);
    log(`INSERT baseline before: ${fmtInt(before)} rows/s (1 writer), ${fmtInt(wide)} rows/s (16 writers)`);

    const startedMs = performance.now();
    const upload = await fetch(`${url}/v1/admin/imports/members`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv', 'idempotency-key': `bench-${randomBytes(4).toString('hex')}` },
      body: csv,
    });
    const accepted = (await upload.json()) as { importId?: string; statusUrl?: string };
    const uploadMs = performance.now() - startedMs;
    if (upload.status !== 202 || !accepted.statusUrl) throw new Error(`the upload answered ${upload.status}: ${JSON.stringify(accepted)}`);
    let status: { state?: string; rows?: { done: number; applied: number; rejected: number } } = {};
    for (let polls = 0; status.state !== 'completed'; polls += 1) {
      if (polls > 4 * 3_600) throw new Error('the import did not complete within an hour');
      await new Promise((resolve) => setTimeout(resolve, 250));
      const answer = await fetch(`${url}${accepted.statusUrl}`, { headers: { authorization: `Bearer ${token}` } });
      if (answer.status === 200) status = (await answer.json()) as typeof status;
    }
    const wallMs = performance.now() - startedMs;
    const rowsPerS = args.rows / (wallMs / 1000);
    const enrolled = await runtime.db.one<{ n: number }>(`SELECT count(*)::int AS n FROM ul_events WHERE event_type = 'MemberEnrolled'`);
    const span = await runtime.db.one<{ ms: number }>(
      `SELECT (extract(epoch FROM max(recorded_at) - min(recorded_at)) * 1000)::float8 AS ms FROM ul_events WHERE stream_id = $1`,
      [`import-${accepted.importId}`],
    );
    if (status.rows?.applied !== args.rows || enrolled.n !== args.rows) throw new Error(`expected ${args.rows} enrolments: ${JSON.stringify(status.rows)}, ${enrolled.n} MemberEnrolled`);

    const after = await baseline(bench.db, 1, args.baselineSeconds);
    log(`INSERT baseline after: ${fmtInt(after)} rows/s (1 writer)`);
    const insertRate = (before + after) / 2;
    log();
    log(
      formatTable(
        ['rows', 'upload → 202 ms', 'upload → completed s', 'rows/s', 'ImportRequested → ImportCompleted s', 'INSERT rows/s, 1 writer (before / after)', 'ratio', 'INSERT rows/s, 16 writers'],
        [
          [
            fmtInt(args.rows),
            fmtInt(uploadMs),
            (wallMs / 1000).toFixed(1),
            fmtInt(rowsPerS),
            (span.ms / 1000).toFixed(1),
            `${fmtInt(before)} / ${fmtInt(after)}`,
            fmtRatio(rowsPerS / insertRate),
            fmtInt(wide),
          ],
        ],
      ),
    );
    log();
    log(`target: >= 2,000 rows/s end to end: ${fmtInt(rowsPerS)} rows/s: ${rowsPerS >= 2_000 ? 'met' : 'NOT met'}; load average now ${os.loadavg()[0]!.toFixed(1)}`);
  } finally {
    await app?.close();
    await workers.close();
    await ledger.close();
    await queues.close();
    await clearRedis(runtime.redis!, prefix);
    await runtime.close();
    await bench.close({ keep: args.keep });
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
