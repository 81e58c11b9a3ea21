import { InvalidArgumentError, type Command } from 'commander';
import { connectOutsideServices, openRuntime, UnionLedger } from '../composition-root';
import { ConfigError, loadConfig, type AppConfig } from '../config/config';
import { createLogger, lineLog } from '../infra/logging';
import { ServiceMetrics } from '../infra/metrics';
import { startMetricsServer, type MetricsServer } from '../infra/metrics-server';
import { loadPiiKeys } from '../infra/pii-keys';
import { QueueSet } from '../workers/queue-set';
import { replayOutstanding } from '../workers/relay';
import { startWorkerService } from '../workers/worker-service';
import { cliLog } from './cli-log';

/**
 * `union-ledger worker`: the relay and the queues' workers in a process of their own, beside an
 * API started with WORKERS=off (or several of them: the relay's checkpoint and the job ids keep
 * them from doing anything twice). `union-ledger relay replay`: re-adds the jobs of requests that
 * have no recorded outcome and that Redis no longer holds, after Redis lost its data.
 */

/** The worker logs pino JSON lines on standard output, like the service; `relay replay` keeps its standard output for its report. */
const workerLog = (config: AppConfig) => lineLog(createLogger({ level: config.logLevel, process: 'worker' }));

/** A worker must share the service's Redis: an embedded one would be this process's alone, its jobs seen by nobody. */
function requireRedisUrl(config: AppConfig, command: string): void {
  if (!config.redisUrl) {
    throw new ConfigError([`REDIS_URL must be set for \`union-ledger ${command}\`: it must reach the Redis the service uses (npm start's embedded Redis runs its workers itself)`]);
  }
}

function position(value: string): bigint {
  if (!/^\d{1,19}$/.test(value)) throw new InvalidArgumentError('a global position (digits)');
  return BigInt(value);
}

export async function runWorkerProcess(): Promise<void> {
  const config = loadConfig();
  requireRedisUrl(config, 'worker');
  const log = workerLog(config);
  const piiKeys = loadPiiKeys(config, { log: (text) => log.warn(text) });
  const runtime = await openRuntime(config, { withRedis: true, log: (text) => log.log(text) });
  const outside = await connectOutsideServices(config);
  const redis = runtime.redis!;
  const queues = new QueueSet(redis, config.redisKeyPrefix);
  const ledger = new UnionLedger({ config, db: runtime.db, piiKeys, insurer: outside.insurer, payments: outside.payments, sms: outside.sms, redis });
  // This process's registry: its workers' job outcomes, durations and waits, the queues' depths
  // (read on scrape) and Node's own figures. No projection runs here, so there is no lag to report.
  const metrics = new ServiceMetrics({ lag: () => ({}), queueDepths: () => queues.depths() });
  // Listening first: a port already taken stops the start before any job is taken.
  let metricsServer: MetricsServer | undefined;
  if (config.workers.metricsPort !== undefined) {
    try {
      // loadConfig refuses WORKER_METRICS_PORT without METRICS_TOKEN.
      metricsServer = await startMetricsServer({ metrics, token: config.metricsToken!, host: config.host, port: config.workers.metricsPort });
    } catch (error) {
      await queues.close();
      await ledger.close();
      await outside.close();
      await runtime.close();
      throw error;
    }
    log.log(`metrics listening on ${metricsServer.url}/metrics (METRICS_TOKEN as the bearer token)`);
  }
  const service = await startWorkerService({
    ledger,
    db: runtime.db,
    redis,
    redisKeyPrefix: config.redisKeyPrefix,
    queues,
    settings: config.workers,
    ...(config.scale ? { leadershipTickMs: config.scale.leadershipTickMs } : {}),
    log,
    onJobFinished: (queue, outcome, durationMs, attempt) => metrics.observeJob(queue, outcome, durationMs, attempt),
  });
  log.log(`PostgreSQL: ${runtime.postgresDescription}; ${runtime.redisDescription ?? ''}; ${outside.description}`);
  log.log('worker started');

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.log(`${signal} received: finishing the jobs in flight`);
    // Past the deadline the process exits with its jobs unfinished; their locks lapse and another
    // worker runs them again (WORKER_LOCK_MS), which the workers are built to survive.
    const deadline = setTimeout(() => {
      log.error(`shutdown took longer than ${config.shutdownTimeoutMs} ms: exiting`);
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    try {
      await service.close();
      await metricsServer?.close();
      await queues.close();
      await ledger.close();
      await outside.close();
      await runtime.close();
      log.log('stopped');
      process.exitCode = 0;
    } catch (error) {
      log.error(`shutdown failed: ${(error as Error).message}`);
      process.exitCode = 1;
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run the relay and the queues\' workers (insurance grants ...) until SIGTERM; needs REDIS_URL')
    .action(async () => {
      await runWorkerProcess();
    });

  const relay = program.command('relay').description('the relay from the event log to the queues');
  relay
    .command('replay')
    .description('after Redis lost its data: re-add the jobs of requests with no recorded outcome that Redis no longer holds')
    .option('--after <position>', 'start after this global position (to continue a replay that stopped)', position)
    .action(async (options: { after?: bigint }) => {
      const config = loadConfig();
      requireRedisUrl(config, 'relay replay');
      const log = cliLog(config);
      const runtime = await openRuntime(config, { withRedis: true, log: (text) => log.log(text) });
      const queues = new QueueSet(runtime.redis!, config.redisKeyPrefix);
      try {
        const report = await replayOutstanding({ db: runtime.db, queues, ...(options.after !== undefined ? { afterPosition: options.after } : {}) });
        process.stdout.write(
          `${report.outstanding} request(s) without a recorded outcome; ${report.readded} re-added (Redis no longer held them)` +
            (report.complete ? '\n' : `; stopped at position ${report.lastPosition}: run again with --after ${report.lastPosition}\n`),
        );
      } finally {
        await queues.close();
        await runtime.close();
      }
    });
}
