import { ConfigError, loadConfig } from './config/config';
import { createHttpApp, lagReadings } from './api/http';
import { connectOutsideServices, openRuntime, tokenService, UnionLedger } from './composition-root';
import { createLogger, lineLog } from './infra/logging';
import { ServiceMetrics } from './infra/metrics';
import { redactUrl } from './infra/runtime';
import { loadPiiKeys } from './infra/pii-keys';
import { loadOrCreateSecrets } from './infra/secrets';
import { BullMqJobQueues } from './workers/dead-letters';
import { QueueSet } from './workers/queue-set';
import { startWorkerService, type WorkerService } from './workers/worker-service';

/**
 * Starts the service: validates configuration, connects (or starts embedded) PostgreSQL and
 * Redis, migrates, listens, runs the relay and the workers unless WORKERS=off, and shuts down
 * cleanly on SIGTERM or SIGINT.
 */
export async function runService(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const root = createLogger({ level: config.logLevel, process: 'service' });
  const logger = lineLog(root.child({ context: 'main' }));
  const secrets = await loadOrCreateSecrets(config, (line) => logger.log(line));
  const piiKeys = loadPiiKeys(config, { log: (line) => logger.warn(line) });
  const runtime = await openRuntime(config, { withRedis: true, log: (line) => logger.log(line) });
  const outside = await connectOutsideServices(config);
  // The queues: the admin routes over dead letters need them even when this process runs no worker.
  const queues = new QueueSet(runtime.redis!, config.redisKeyPrefix);
  const ledger = new UnionLedger({
    config,
    db: runtime.db,
    redis: runtime.redis,
    redisQueries: runtime.redisQueries,
    readReplica: runtime.readDb ? { db: runtime.readDb, ...config.readReplica } : undefined,
    piiKeys,
    benefits: config.benefits,
    imports: config.imports,
    mall: config.mall,
    insurer: outside.insurer,
    jobQueues: new BullMqJobQueues(queues),
    payments: outside.payments,
    onBackgroundError: (task, error) => logger.error(`${task} failed and will be retried: ${(error as Error).message}`),
    identity: {
      tokens: tokenService(secrets.jwtSecret, config.jwtPreviousSecrets),
      outside,
    },
  });
  // One registry for this process: the HTTP app's requests, the projections' lag, the queues'
  // depths (read on scrape) and the jobs this process's workers finish.
  const metrics = new ServiceMetrics({ lag: () => lagReadings(ledger), queueDepths: () => queues.depths() });
  const app = await createHttpApp(ledger, runtime, {
    metrics,
    metricsToken: config.metricsToken,
    logger: root,
    queueDashboard: { queues: queues.keys.map((key) => queues.get(key)) },
    limits: config.http,
    rateLimit: { perSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst, keyPrefix: config.redisKeyPrefix },
  });
  // Projections start after the app is built so a failed start leaves nothing running; errors are
  // retried by the runner with back-off and logged at most once per projection per minute.
  const lastLoggedMs = new Map<string, number>();
  ledger.startProjections((projection, error) => {
    const nowMs = Date.now();
    if (nowMs - (lastLoggedMs.get(projection) ?? 0) < 60_000) return;
    lastLoggedMs.set(projection, nowMs);
    logger.error(`projection ${projection} failed a batch and will retry: ${(error as Error).message}`);
  });
  // Expiries, settlements of past days, proposals and batches left by a crash: the worker service's
  // job schedulers run them (src/workers/schedules); a WORKERS=off service keeps the bounded sweep
  // on a timer, so it sweeps even where no worker runs (every step is safe to repeat).
  if (!config.workers.enabled && config.benefits.sweepIntervalMs > 0) ledger.benefits.startSweeps(config.benefits.sweepIntervalMs);
  let workers: WorkerService | undefined;
  if (config.workers.enabled) {
    workers = await startWorkerService({
      ledger,
      db: runtime.db,
      redis: runtime.redis!,
      redisKeyPrefix: config.redisKeyPrefix,
      queues,
      settings: config.workers,
      log: lineLog(root.child({ context: 'workers' })),
      onJobFinished: (queue, outcome, durationMs, attempt) => metrics.observeJob(queue, outcome, durationMs, attempt),
    });
  } else {
    logger.log('WORKERS=off: no relay or worker in this process; run `union-ledger worker` beside it');
  }
  await app.listen(config.port, config.host);
  const address = await app.getUrl();
  logger.log(`PostgreSQL: ${runtime.postgresDescription}; schema version ${runtime.migrations.current}`);
  if (config.readDatabaseUrl) logger.log(`Read-model queries: the replica at ${redactUrl(config.readDatabaseUrl)} (a writer's reads wait up to ${config.readReplica.maxWaitMs} ms for it, else read the primary)`);
  logger.log(`event store: ${ledger.store.adapterName}`);
  logger.log(outside.description);
  logger.log(`Redis: ${runtime.redisDescription ?? 'not used'}`);
  logger.log(`listening on ${address} (health: ${address}/health)`);

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: shutting down`);
    const deadline = setTimeout(() => {
      logger.error(`shutdown took longer than ${config.shutdownTimeoutMs} ms: exiting`);
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    try {
      await app.close();
      // In-flight jobs finish (or, past the deadline, are left to lapse and run again elsewhere).
      await workers?.close();
      await queues.close();
      await ledger.close();
      await outside.close();
      await runtime.close();
      logger.log('stopped');
      process.exitCode = 0;
    } catch (error) {
      logger.error(`shutdown failed: ${(error as Error).message}`);
      process.exitCode = 1;
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

if (require.main === module) {
  runService().catch((error: unknown) => {
    process.stderr.write(`union-ledger failed to start: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
