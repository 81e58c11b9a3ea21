import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { createHttpApp, lagReadings } from '../src/api/http';
import { connectOutsideServices, openRuntime, tokenService, UnionLedger } from '../src/composition-root';
import { loadConfig } from '../src/config/config';
import pino from 'pino';
import { createLogger, silentLogger, type Logger } from '../src/infra/logging';
import { ServiceMetrics } from '../src/infra/metrics';
import { createBenchDatabase, resolvePostgres } from './lib/database';
import { BenchHttpClient } from './lib/http-client';
import { clearRedis } from './lib/redis';

/**
 * `npm run build && node dist/bench/request-log.js`: what the request log (one pino JSON line per
 * request through nestjs-pino, issue 9) costs the API. Two apps over one ledger in this process,
 * identical but for their logger: silent (the baseline) and info, writing synchronously to a file
 * (as a service writing to a pipe or a file does). Both answer ROUTE (BENCH_ROUTE, default GET
 * /metrics) with an admin token: the HTTP pipeline without the ledger's work, where a per-request
 * cost shows most. Rounds alternate
 * between the two apps (ROUNDS of ROUND_MS each, CLIENTS keep-alive clients) so that a busy
 * machine affects both alike; the ratio is logged / silent requests per second.
 */

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 5_000);
/** GET /metrics with an admin token: authentication (jose), the guards, the rate limit in Redis, and an answer rendered in memory, no database. */
const ROUTE = process.env.BENCH_ROUTE ?? '/metrics';

async function round(client: BenchHttpClient, token: string, durationMs: number): Promise<{ perSecond: number; failures: number }> {
  const deadline = Date.now() + durationMs;
  let done = 0;
  let failures = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < deadline) {
        const answer = await client.request('GET', ROUTE, { token });
        if (answer.status === 200) done += 1;
        else failures += 1;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { perSecond: done / seconds, failures };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function main(): Promise<void> {
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const server = await resolvePostgres();
  const bench = await createBenchDatabase(server.adminUrl, 20);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ul-bench-log-'));
  const prefix = `ul-bench-log-${randomBytes(4).toString('hex')}:`;
  const config = loadConfig({ DATABASE_URL: bench.url, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', DATA_DIR: dataDir, REDIS_KEY_PREFIX: prefix });
  const runtime = await openRuntime(config, { withRedis: true, log: () => undefined });
  const outside = await connectOutsideServices(config);
  const secret = randomBytes(32).toString('hex');
  const tokens = tokenService(secret);
  const ledger = new UnionLedger({
    config,
    db: runtime.db,
    redis: runtime.redis,
    redisQueries: runtime.redisQueries,
    piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) },
    identity: { tokens, outside },
  });
  const logFile = path.join(dataDir, 'requests.log');
  const apps: INestApplication[] = [];
  try {
    const open = async (logger: Logger) => {
      const app = await createHttpApp(ledger, runtime, {
        logger,
        metrics: new ServiceMetrics({ lag: () => lagReadings(ledger) }),
        rateLimit: { perSecond: 1_000_000, burst: 1_000_000, keyPrefix: prefix },
        // The overload guard would answer 503 on a busy machine (both apps must do the same work), and
        // each app's keep-alive sockets wait idle while the other app runs its round.
        limits: { maxEventLoopDelayMs: 0, keepAliveTimeoutMs: 120_000 },
      });
      await app.listen(0, '127.0.0.1');
      apps.push(app);
      return new BenchHttpClient((await app.getUrl()).replace('[::1]', '127.0.0.1'), CLIENTS);
    };
    const silent = await open(silentLogger());
    // The logged app writes to a file, synchronously, as the service writes its standard output.
    const toFile = await open(createLogger({ level: 'info', process: 'service', destination: pino.destination({ dest: logFile, sync: true }) }));
    await ledger.orgs.registerOrganisation({ orgId: 'p-bench', name: 'bench', parentId: null, level: 'province' }, { commandId: 'org:p-bench', actor: { type: 'system', id: 'bench' } });
    const admin = await tokens.sign({ sub: 'bench-admin', role: 'admin', org: 'p-bench' }, { ttlSeconds: 3600 });
    for (const client of [silent, toFile]) {
      const probe = await client.request('GET', ROUTE, { token: admin });
      if (probe.status !== 200) throw new Error(`GET ${ROUTE} answered ${probe.status}: ${probe.body}`);
    }

    log(`# Request log cost: GET ${ROUTE}, ${CLIENTS} clients, ${ROUNDS} rounds of ${ROUND_MS} ms per app, alternating`);
    log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${new Date().toISOString()}`);
    await round(silent, admin, 1_000); // warm-up, not counted
    await round(toFile, admin, 1_000);
    const silentRates: number[] = [];
    const loggedRates: number[] = [];
    for (let index = 0; index < ROUNDS; index += 1) {
      const a = await round(silent, admin, ROUND_MS);
      const b = await round(toFile, admin, ROUND_MS);
      if (a.failures + b.failures > 0) throw new Error(`round ${index + 1}: ${a.failures + b.failures} requests did not answer 200`);
      silentRates.push(a.perSecond);
      loggedRates.push(b.perSecond);
      log(`  round ${index + 1}: silent ${a.perSecond.toFixed(0)} req/s, logged ${b.perSecond.toFixed(0)} req/s`);
    }
    const baseline = median(silentRates);
    const withLog = median(loggedRates);
    const bytes = (await stat(logFile)).size;
    log(`median: silent (baseline) ${baseline.toFixed(0)} req/s, logged ${withLog.toFixed(0)} req/s; ratio logged/silent ${(withLog / baseline).toFixed(3)}`);
    log(`log file: ${bytes} bytes for the logged app's requests`);
  } finally {
    for (const app of apps) await app.close();
    await ledger.close();
    await outside.close();
    await clearRedis(runtime.redis!, prefix);
    await runtime.close();
    await bench.close({ keep: false });
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
