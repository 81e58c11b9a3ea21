import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import type { Role } from '../../src/api/common/auth';
import type { ModuleImport } from '../../src/api/app.module';
import { createHttpApp, lagReadings } from '../../src/api/http';
import type { BenefitsSettings } from '../../src/application/benefits';
import { openRuntime, tokenService, UnionLedger, type ImportSettings } from '../../src/composition-root';
import { SmsHttpClient, WeChatHttpClient } from '../../src/infra/external-http';
import { InsurerHttpClient } from '../../src/infra/insurer-http';
import type { InsurerFaults } from '../../src/infra/simulators/insurer';
import type { CallFaults } from '../../src/infra/simulators/http';
import { PaymentGatewayHttpClient } from '../../src/infra/payment-gateway';
import { startPaymentGatewaySimulator, type PaymentGatewaySimulator } from '../../src/infra/simulators/payment-gateway-simulator';
import { startSimulators, type Simulators } from '../../src/infra/simulators/simulators';
import { BullMqJobQueues } from '../../src/workers/dead-letters';
import { QueueSet } from '../../src/workers/queue-set';
import { startWorkerService, type WorkerService } from '../../src/workers/worker-service';
import { smsWorker } from '../../src/workers/sms';
import { DEFAULT_HTTP_LIMITS, loadConfig } from '../../src/config/config';
import type { Logger } from '../../src/infra/logging';
import { ServiceMetrics } from '../../src/infra/metrics';
import type { Runtime } from '../../src/infra/runtime';
import { createTestDatabase, type TestDatabase } from './database';

/**
 * The real service over HTTP for API tests: a fresh database, the test Redis under a key prefix
 * of its own, random PII keys and JWT secret. Projections are not started: tests catch them up
 * explicitly (catchUpProjection / catchUpLeaderboards), so their assertions are deterministic.
 */
export interface LedgerApp {
  url: string;
  ledger: UnionLedger;
  runtime: Runtime;
  database: TestDatabase;
  /** The WeChat, SMS and insurer simulators the service talks to over HTTP. */
  simulators: Simulators;
  /** The queues, under this app's own Redis key prefix. */
  queues: QueueSet;
  /** The relay and the workers: every worker with options.workers, else the SMS worker alone. */
  workers: WorkerService;
  /** What the workers logged. */
  workerLog: string[];
  /** The payment gateway simulator the payouts talk to over HTTP. */
  paymentGateway: PaymentGatewaySimulator;
  token(sub: string, role: Role, org: string): Promise<string>;
  call(method: string, route: string, options?: { token?: string; key?: string; body?: unknown }): Promise<Answer>;
  close(): Promise<void>;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export interface LedgerAppOptions {
  /** The ledger's clock (a test moves it to expire holds, codes and authorisations, or to close a business day). */
  clock?: () => Date;
  benefits?: Partial<BenefitsSettings>;
  /**
   * Runs the relay and every worker in the service's process, as `npm start` does. Without it
   * the relay and the SMS worker alone run, so activation codes still arrive: they go by SMS
   * only through the relay. (The other queues then fill up untouched, under this app's prefix.)
   */
  workers?: boolean;
  /** The SMS simulator's faults. */
  smsFaults?: Partial<CallFaults>;
  /** The insurer simulator's faults. */
  insurerFaults?: Partial<InsurerFaults>;
  /** The insurer client's deadline (default 2000 ms). */
  insurerTimeoutMs?: number;
  /** METRICS_TOKEN: the bearer token GET /metrics also accepts. */
  metricsToken?: string;
  /** The imports context's settings (the row count above which an upload runs as a job). */
  imports?: Partial<ImportSettings>;
  /** Modules mounted beside the context modules (probe controllers). */
  extraModules?: ModuleImport[];
  /** The service's pino logger; default silent (a test that reads the logs passes one over a memory stream). */
  logger?: Logger;
  /**
   * A streaming replica of the test database's server (test/support/pg-standby.ts): READ_DATABASE_URL
   * is `urlOf(the test database's name)`, and read-model queries are routed there.
   */
  readReplica?: { urlOf(databaseName: string): string; maxWaitMs?: number };
}

export async function startLedgerApp(options: LedgerAppOptions = {}): Promise<LedgerApp> {
  const secret = `test-secret-${randomBytes(16).toString('hex')}`;
  const prefix = `ul-test-${randomBytes(4).toString('hex')}:`;
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ul-ledger-api-'));
  const config = loadConfig({
    DATABASE_URL: database.url,
    REDIS_URL: process.env.TEST_REDIS_URL,
    DATA_DIR: dataDir,
    REDIS_KEY_PREFIX: prefix,
    ...(options.readReplica ? { READ_DATABASE_URL: options.readReplica.urlOf(database.name), READ_REPLICA_MAX_WAIT_MS: String(options.readReplica.maxWaitMs ?? 200) } : {}),
  });
  const runtime = await openRuntime(config, { withRedis: true, log: () => undefined });
  const simulators = await startSimulators({
    ...(options.insurerFaults ? { insurerFaults: options.insurerFaults } : {}),
    ...(options.smsFaults ? { smsFaults: options.smsFaults } : {}),
  });
  const paymentGateway = await startPaymentGatewaySimulator(options.clock ? { clock: options.clock } : {});
  const tokens = tokenService(secret);
  const queues = new QueueSet(runtime.redis!, prefix);
  const ledger = new UnionLedger({
    config,
    db: runtime.db,
    redis: runtime.redis,
    redisQueries: runtime.redisQueries,
    readReplica: runtime.readDb ? { db: runtime.readDb, ...config.readReplica } : undefined,
    piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) },
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.benefits ? { benefits: options.benefits } : {}),
    ...(options.imports ? { imports: options.imports } : {}),
    insurer: new InsurerHttpClient({ baseUrl: simulators.url, apiKey: simulators.settings.insurerApiKey, timeoutMs: options.insurerTimeoutMs ?? 2_000 }),
    jobQueues: new BullMqJobQueues(queues),
    payments: new PaymentGatewayHttpClient({ baseUrl: paymentGateway.url, apiKey: paymentGateway.apiKey, timeoutMs: 5_000 }),
    identity: {
      tokens,
      outside: {
        wechat: new WeChatHttpClient({ baseUrl: simulators.url, appId: simulators.settings.wechatAppId, appSecret: simulators.settings.wechatAppSecret }),
        sms: new SmsHttpClient({ baseUrl: simulators.url, apiKey: simulators.settings.smsApiKey }),
      },
    },
  });
  const metrics = new ServiceMetrics({ lag: () => lagReadings(ledger), queueDepths: () => queues.depths() });
  const app: INestApplication = await createHttpApp(ledger, runtime, {
    metrics,
    metricsToken: options.metricsToken,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.extraModules ? { extraModules: options.extraModules } : {}),
    queueDashboard: { queues: queues.keys.map((key) => queues.get(key)) },
    limits: TEST_HTTP_LIMITS,
    rateLimit: { perSecond: 100_000, burst: 100_000, keyPrefix: prefix },
  });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const workerLog: string[] = [];
  const log = { log: (line: string) => workerLog.push(line), warn: (line: string) => workerLog.push(line), error: (line: string) => workerLog.push(line) };
  const workers = await startWorkerService({
    ledger,
    db: runtime.db,
    redis: runtime.redis!,
    redisKeyPrefix: prefix,
    queues,
    settings: { concurrency: undefined, lockMs: 30_000 },
    log,
    schedules: false,
    ...(options.workers ? {} : { registry: { sms: smsWorker({ ledger }) } }),
    onJobFinished: (queue, outcome, durationMs, attempt) => metrics.observeJob(queue, outcome, durationMs, attempt),
  });
  return {
    url,
    ledger,
    runtime,
    database,
    simulators,
    queues,
    workers,
    workerLog,
    paymentGateway,
    token: (sub, role, org) => tokens.sign({ sub, role, org }, { ttlSeconds: 3600 }),
    async call(method, route, options = {}) {
      const headers: Record<string, string> = {};
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      if (options.key) headers['idempotency-key'] = options.key;
      let body: string | undefined;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] = 'application/json';
      }
      const response = await fetch(`${url}${route}`, { method, headers, body });
      const text = await response.text();
      // Every route answers JSON except GET /metrics (Prometheus text), whose text is kept as `text`.
      const json = response.headers.get('content-type')?.includes('json') ?? false;
      return { status: response.status, headers: response.headers, body: !text ? {} : json ? (JSON.parse(text) as Record<string, unknown>) : { text } };
    },
    async close() {
      await app.close();
      await workers.close();
      await queues.close();
      await ledger.close();
      await simulators.close();
      await paymentGateway.close();
      const stale = await runtime.redis!.keys(`${prefix}*`);
      if (stale.length > 0) await runtime.redis!.del(...stale);
      await runtime.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `read` answers something, for at most `timeoutMs` (the SMS worker sends the code after the answer). */
async function eventually<T>(read: () => T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`still waiting for ${what} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface Session {
  accessToken: string;
  refreshToken: string | null;
  role: string;
  sessionId: string;
}

/** Logs in as a simulated WeChat user through POST /v1/sessions/wechat. */
export async function wechatLogin(app: LedgerApp, user: string): Promise<Session> {
  const { code } = app.simulators.issueCode(user);
  const answer = await app.call('POST', '/v1/sessions/wechat', { body: { code, device: 'test-phone' } });
  if (answer.status !== 200) throw new Error(`WeChat log-in answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body as unknown as Session;
}

/**
 * The whole activation a member goes through: log in with WeChat, name themselves, read the code
 * the SMS simulator received on the roster's phone, confirm it. Returns the member session.
 */
export async function activateThroughWeChat(app: LedgerApp, person: { user: string; nationalId: string; name: string; phone: string }): Promise<Session> {
  const visitor = await wechatLogin(app, person.user);
  const started = await app.call('POST', '/v1/activation/start', { token: visitor.accessToken, key: `start-${person.user}`, body: { nationalId: person.nationalId, name: person.name } });
  if (started.status !== 202) throw new Error(`activation start answered ${started.status}: ${JSON.stringify(started.body)}`);
  // This start's own code: an earlier start's SMS (another visitor's, say) may reach the phone
  // after this one's, since the SMS worker sends them. The SMS request id is the challenge id.
  const message = await eventually(
    () => app.simulators.messagesTo(person.phone).find((sms) => sms.requestId === started.body.challengeId),
    `the SMS of challenge ${String(started.body.challengeId)} to ${person.phone}`,
  );
  const confirmed = await app.call('POST', '/v1/activation/confirm', {
    token: visitor.accessToken,
    body: { challengeId: started.body.challengeId, code: String(message.params.code) },
  });
  if (confirmed.status !== 200) throw new Error(`activation confirm answered ${confirmed.status}: ${JSON.stringify(confirmed.body)}`);
  return confirmed.body as unknown as Session;
}

/** A syntactically valid national ID number (GB 11643 check digit) for test person `serial`. */
export function testNationalId(serial: number): string {
  const first17 = `110101199001${String(10 + (serial % 18)).padStart(2, '0')}${String(serial % 1000).padStart(3, '0')}`.slice(0, 17);
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...first17].reduce((total, digit, index) => total + Number(digit) * weights[index]!, 0);
  return first17 + '10X98765432'[sum % 11]!;
}

/**
 * HTTP limits for services under test: the defaults, but without the event-loop overload guard,
 * which answers 503 when the event loop lags more than a second. On a shared, loaded machine a
 * test process's event loop can lag that long without anything being wrong with the service, and
 * tests must not depend on a quiet machine. The guard itself is @fastify/under-pressure's.
 */
export const TEST_HTTP_LIMITS = { ...DEFAULT_HTTP_LIMITS, maxEventLoopDelayMs: 0 };
