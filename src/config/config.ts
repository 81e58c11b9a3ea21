import path from 'node:path';

/**
 * Configuration comes from the environment and is checked once at start. Every problem is
 * reported together, each naming the variable, so an operator fixes them in one go.
 */
export interface AppConfig {
  host: string;
  port: number;
  /** Unset: an embedded PostgreSQL keeps its data in `${dataDir}/postgres`. */
  databaseUrl: string | undefined;
  /** Unset: an embedded Redis (in memory) is started. */
  redisUrl: string | undefined;
  /**
   * READ_DATABASE_URL: a PostgreSQL streaming replica of DATABASE_URL's server that read-model
   * queries are routed to, with read-your-writes for the caller who just wrote
   * (src/infra/read-replica.ts). Unset: every query reads the primary.
   */
  readDatabaseUrl: string | undefined;
  /**
   * READ_REPLICA_MAX_WAIT_MS (default 200): how long a writer's read waits for the replica to
   * replay the write before it reads the primary instead. READ_REPLICA_MARK_TTL_MS (default
   * 60000): how long a caller's last write position is remembered (longer than any lag tolerated).
   */
  readReplica: { maxWaitMs: number; markTtlMs: number };
  /**
   * REDIS_CLUSTER_NODES: `host:port` of some nodes of a Redis Cluster (comma-separated); the
   * process then uses an ioredis Cluster client instead of REDIS_URL for BullMQ, leaderboards,
   * rate limits and the claim gate. Unset: REDIS_URL (or an embedded Redis).
   */
  redisClusterNodes: Array<{ host: string; port: number }> | undefined;
  dataDir: string;
  embeddedPostgresPort: number;
  databasePoolMax: number;
  /**
   * LOG_FORMAT (text or json): accepted for compatibility and otherwise ignored since every
   * process logs pino JSON lines (issue 9); `npx pino-pretty` renders them for a terminal.
   */
  logFormat: 'text' | 'json';
  /**
   * LOG_LEVEL (default info): the least severe pino level written (fatal, error, warn, info,
   * debug, trace) or silent. Every process (service, worker, CLI) logs pino JSON lines.
   */
  logLevel: LogLevel;
  /** How long shutdown waits for in-flight requests before it gives up. */
  shutdownTimeoutMs: number;
  /**
   * HS256 key for bearer tokens (at least 32 characters). Unset: a development secret is
   * generated once and kept in `${dataDir}/secrets.json` (see src/infra/secrets.ts).
   */
  jwtSecret: string | undefined;
  /** Per-subject token bucket: sustained requests per second and the burst it allows. */
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  /** Every Redis key of this ledger starts with it, so several ledgers (or test runs) can share a Redis. */
  redisKeyPrefix: string;
  /**
   * Where events are stored: PostgreSQL (the default, at DATABASE_URL) or KurrentDB (at
   * KURRENTDB_URL). Read models, checkpoints and idempotency keys live in PostgreSQL either way.
   */
  eventStore: 'postgres' | 'kurrentdb';
  kurrentDbUrl: string | undefined;
  /**
   * EVENT_STORE_GROUP_COMMIT_BATCH (PostgreSQL only): concurrent single appends gathered into one
   * statement and one commit at most (default 256); 1 turns group commit off (docs/EVENT-STORE.md).
   */
  groupCommitMaxBatch?: number;
  /**
   * METRICS_TOKEN: the bearer token Prometheus presents at GET /metrics (at least 32 characters).
   * Unset: /metrics answers admin and auditor tokens only; it is never open to anyone.
   */
  metricsToken: string | undefined;
  /** Earlier JWT secrets still accepted while their tokens run out (key rotation); JWT_SECRET signs. */
  jwtPreviousSecrets: string[];
  /**
   * WeChat's API (code2session) for mini-program logins, with the mini-program's app id and secret.
   * Unset: the service starts its WeChat simulator (src/infra/simulators/) on 127.0.0.1.
   */
  wechat: { apiUrl: string; appId: string; appSecret: string } | undefined;
  /** The SMS gateway for one-time codes. Unset: the service starts its SMS simulator. */
  sms: { apiUrl: string; apiKey: string } | undefined;
  /**
   * The insurer's API (enrolment in the accident mutual-aid plan), INSURER_API_URL and
   * INSURER_API_KEY. Unset: the service starts its insurer simulator.
   */
  insurer: { apiUrl: string; apiKey: string } | undefined;
  /** INSURER_TIMEOUT_MS (default 10000): a call without an answer by then has an unknown outcome. */
  insurerTimeoutMs: number;
  /** The queues' workers (src/workers/): whether `serve` runs them, and their settings. */
  workers: WorkersConfig;
  /** HTTP limits (src/api/common/http-limits.ts): bodies, timeouts, connections, overload. */
  http: HttpLimits;
  /** The benefits context (src/application/benefits): maker-checker threshold, lifetimes, sweeps. */
  benefits: BenefitsConfig;
  /** The mall (src/application/mall): MALL_ORDER_TTL_SECONDS (default 900, 60 to 86400), how long a member has to pay an order. */
  mall: { orderTtlMs: number };
  /**
   * The payment gateway that pays merchants' settlements (PAYMENT_GATEWAY_URL, PAYMENT_GATEWAY_KEY,
   * PAYMENT_GATEWAY_TIMEOUT_MS). Unset: the payment gateway simulator is started on 127.0.0.1.
   */
  paymentGateway: { apiUrl: string; apiKey: string; timeoutMs: number } | undefined;
  /** IMPORT_ASYNC_MIN_ROWS (default 1000): roster uploads of at least this many rows run as a job (202 and an import id). */
  imports: { asyncMinRows: number };
  /** PAYMENT_GATEWAY_SIMULATOR_FAULTS (`errorRate=0.05,timeoutRate=0.01,...`): the simulator's fault injection when it is used. */
  paymentGatewaySimulatorFaults: Record<string, number>;
  /** SMS_SIMULATOR_FAULTS (`errorRate=0.05,lostAnswerRate=0.1,...`): the SMS simulator's fault injection when it is used. */
  smsSimulatorFaults: Record<string, number>;
}

export interface WorkersConfig {
  /**
   * WORKERS=on|off (default on): whether `union-ledger serve` (and `npm start`) also runs the
   * relay and the queues' workers in its process. Off: the API only, with `union-ledger worker`
   * run beside it.
   */
  enabled: boolean;
  /** WORKER_CONCURRENCY: jobs run at once per queue per process; unset: each worker's own default (src/workers/registry.ts). */
  concurrency: number | undefined;
  /**
   * WORKER_LOCK_MS (default 30000): how long a job stays locked to its worker without a renewal.
   * A worker that dies (kill -9) leaves its jobs locked until then; they are then found stalled
   * and run again.
   */
  lockMs: number;
  /**
   * WORKER_METRICS_PORT: where `union-ledger worker` serves its Prometheus metrics (GET /metrics
   * on HOST, METRICS_TOKEN as the bearer token, which must then be set); 0 takes a free port and
   * logs it. Unset: no listener (the service's own workers report through its GET /metrics).
   */
  metricsPort: number | undefined;
}

export interface BenefitsConfig {
  /** BENEFITS_APPROVAL_THRESHOLD_YUAN (default 10000): budget returns above it need a second person's approval. */
  approvalThresholdFen: number;
  /** BENEFITS_AUTHORISATION_TTL_SECONDS (default 900): an uncaptured authorisation is voided after it. */
  authorisationTtlMs: number;
  /** BENEFITS_PAYMENT_CODE_TTL_SECONDS (default 60). */
  paymentCodeTtlMs: number;
  /** BENEFITS_PROPOSAL_TTL_DAYS (default 7): a proposal nobody decides expires. */
  proposalTtlMs: number;
  /** BENEFITS_SWEEP_INTERVAL_SECONDS (default 30; 0 turns the sweeps off): expiries, settlements, resumed batches. */
  sweepIntervalMs: number;
}

export interface HttpLimits {
  /** Largest JSON body; larger ones are answered 413. */
  bodyLimitBytes: number;
  /** Largest upload (text/csv on the import routes), read only after authentication. */
  uploadLimitBytes: number;
  /** The whole request, headers and body, must have arrived within this (408 and the connection closed otherwise). */
  requestTimeoutMs: number;
  /** The headers must have arrived within this. */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Connections beyond this are closed as they arrive. */
  maxConnections: number;
  /** Above this mean event-loop delay requests are answered 503 at once (@fastify/under-pressure); 0 turns it off. */
  maxEventLoopDelayMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  bodyLimitBytes: 1024 * 1024,
  uploadLimitBytes: 32 * 1024 * 1024,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1_000,
  maxEventLoopDelayMs: 1_000,
};

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Shortest JWT_SECRET accepted: 32 characters, the 256 bits an HS256 key should carry. */
export const JWT_SECRET_MIN_LENGTH = 32;

export class ConfigError extends Error {
  readonly code = 'CONFIG.INVALID';

  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    problems.push(`${name} must be an integer from ${min} to ${max} (got '${raw}')`);
    return fallback;
  }
  return value;
}

function url(env: Env, name: string, schemes: string[], problems: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    problems.push(`${name} is not a URL (expected ${schemes.map((scheme) => `${scheme}//...`).join(' or ')})`);
    return undefined;
  }
  if (!schemes.includes(parsed.protocol)) {
    problems.push(`${name} must use ${schemes.join(' or ')} (got '${parsed.protocol}')`);
    return undefined;
  }
  return raw;
}

/** The secret's value never appears in a problem report, only its length. */
function jwtSecret(env: Env, problems: string[]): string | undefined {
  const raw = env.JWT_SECRET;
  if (raw === undefined || raw === '') return undefined;
  if (raw.length < JWT_SECRET_MIN_LENGTH) {
    problems.push(`JWT_SECRET must be at least ${JWT_SECRET_MIN_LENGTH} characters (got ${raw.length})`);
    return undefined;
  }
  return raw;
}

/** Like JWT_SECRET: long enough not to be guessed, and its value never appears in a problem report. */
function metricsToken(env: Env, problems: string[]): string | undefined {
  const raw = env.METRICS_TOKEN;
  if (raw === undefined || raw === '') return undefined;
  if (raw.length < JWT_SECRET_MIN_LENGTH || /\s/.test(raw)) {
    problems.push(`METRICS_TOKEN must be at least ${JWT_SECRET_MIN_LENGTH} characters without spaces (got ${raw.length} characters)`);
    return undefined;
  }
  return raw;
}

function redisKeyPrefix(env: Env, problems: string[]): string {
  const prefix = env.REDIS_KEY_PREFIX ?? 'ul:';
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(prefix)) problems.push(`REDIS_KEY_PREFIX must be 1-64 letters, digits or _ . : - (got '${prefix}')`);
  return prefix;
}

const EVENT_STORES = ['postgres', 'kurrentdb'] as const;

const SIMULATOR_FAULTS = ['latencyMs', 'errorRate', 'timeoutRate', 'lostAnswerRate', 'stallMs', 'inquiryErrorRate'];
/** The SMS simulator's faults (src/infra/simulators/http.ts CallFaults). */
const SMS_SIMULATOR_FAULTS = ['latencyMs', 'errorRate', 'timeoutRate', 'lostAnswerRate'];

/** `name=value` pairs, comma-separated: rates from 0 to 1, durations in milliseconds. */
function simulatorFaults(env: Env, problems: string[], variable = 'PAYMENT_GATEWAY_SIMULATOR_FAULTS', names = SIMULATOR_FAULTS): Record<string, number> {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') return {};
  const faults: Record<string, number> = {};
  for (const pair of raw.split(',')) {
    const [name = '', text = ''] = pair.split('=').map((part) => part.trim());
    const value = Number(text);
    const max = name.endsWith('Rate') ? 1 : 600_000;
    if (!names.includes(name) || text === '' || !Number.isFinite(value) || value < 0 || value > max) {
      problems.push(`${variable}: '${pair.trim()}' is not one of ${names.join(', ')} = a number from 0 to ${max}`);
      continue;
    }
    faults[name] = value;
  }
  return faults;
}

/** `host:port,host:port`: at least one node, at most 64, each a host and a port. */
function clusterNodes(env: Env, problems: string[]): AppConfig['redisClusterNodes'] {
  const raw = env.REDIS_CLUSTER_NODES;
  if (raw === undefined || raw.trim() === '') return undefined;
  const nodes: Array<{ host: string; port: number }> = [];
  for (const part of raw.split(',').map((text) => text.trim())) {
    const match = /^([A-Za-z0-9_.-]{1,253}|\[[0-9A-Fa-f:]{2,39}\]):(\d{1,5})$/.exec(part);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65_535) {
      problems.push(`REDIS_CLUSTER_NODES: '${part}' is not host:port`);
      return undefined;
    }
    nodes.push({ host: match[1]!.replace(/^\[|\]$/g, ''), port });
  }
  if (nodes.length > 64) {
    problems.push(`REDIS_CLUSTER_NODES names ${nodes.length} nodes; at most 64 (a few seed nodes are enough: the client learns the rest)`);
    return undefined;
  }
  return nodes;
}

const KURRENTDB_SCHEMES = ['kurrentdb:', 'kurrentdb+discover:', 'esdb:', 'esdb+discover:'];

/**
 * KURRENTDB_URL is a KurrentDB connection string, not always a URL: a cluster is named by its
 * nodes, `kurrentdb://host1:2113,host2:2113,host3:2113?tls=true`, which WHATWG URL refuses. One
 * host is checked as a URL; several are checked as `host:port` each, with the same schemes.
 */
function kurrentDbConnectionString(env: Env, problems: string[]): string | undefined {
  const raw = env.KURRENTDB_URL;
  if (raw === undefined || raw === '') return undefined;
  const cluster = /^([a-z+]+:)\/\/(?:[^@/?#]*@)?([^/?#]+)(\/?(?:\?[^#]*)?)$/.exec(raw);
  if (cluster && cluster[2]!.includes(',')) {
    if (!KURRENTDB_SCHEMES.includes(cluster[1]!)) {
      problems.push(`KURRENTDB_URL must use ${KURRENTDB_SCHEMES.join(' or ')} (got '${cluster[1]}')`);
      return undefined;
    }
    const hosts = cluster[2]!.split(',');
    if (hosts.length > 16 || hosts.some((host) => !/^[A-Za-z0-9_.-]{1,253}:\d{1,5}$/.test(host))) {
      problems.push('KURRENTDB_URL: a cluster\'s nodes must each be host:port (at most 16), comma-separated');
      return undefined;
    }
    return raw;
  }
  return url(env, 'KURRENTDB_URL', KURRENTDB_SCHEMES, problems);
}

function eventStore(env: Env, problems: string[]): AppConfig['eventStore'] {
  const raw = env.EVENT_STORE ?? 'postgres';
  if (!(EVENT_STORES as readonly string[]).includes(raw)) {
    problems.push(`EVENT_STORE must be ${EVENT_STORES.join(' or ')} (got '${raw}')`);
    return 'postgres';
  }
  return raw as AppConfig['eventStore'];
}

/** Comma-separated earlier secrets; each must be a valid JWT_SECRET; values never appear in problems. */
function previousSecrets(env: Env, problems: string[]): string[] {
  const raw = env.JWT_PREVIOUS_SECRETS;
  if (raw === undefined || raw.trim() === '') return [];
  const secrets = raw.split(',').map((secret) => secret.trim());
  if (secrets.some((secret) => secret.length < JWT_SECRET_MIN_LENGTH)) {
    problems.push(`JWT_PREVIOUS_SECRETS must be comma-separated secrets of at least ${JWT_SECRET_MIN_LENGTH} characters each`);
    return [];
  }
  return secrets;
}

/** A service reached over HTTP: its URL, and the credentials it needs, all or none. */
function outsideService(env: Env, urlName: string, credentialNames: string[], problems: string[]): { url: string; credentials: string[] } | undefined {
  const serviceUrl = url(env, urlName, ['http:', 'https:'], problems);
  const credentials = credentialNames.map((name) => env[name] ?? '');
  if (serviceUrl === undefined) {
    if (env[urlName] === undefined || env[urlName] === '') {
      const stray = credentialNames.filter((name) => env[name]);
      if (stray.length > 0) problems.push(`${stray.join(', ')} ${stray.length > 1 ? 'are' : 'is'} set but ${urlName} is not`);
    }
    return undefined;
  }
  const missing = credentialNames.filter((name) => !env[name]);
  if (missing.length > 0) {
    problems.push(`${missing.join(' and ')} must be set when ${urlName} is`);
    return undefined;
  }
  return { url: serviceUrl, credentials };
}

function httpLimits(env: Env, problems: string[]): HttpLimits {
  const defaults = DEFAULT_HTTP_LIMITS;
  const limits: HttpLimits = {
    bodyLimitBytes: integer(env, 'HTTP_BODY_LIMIT_BYTES', defaults.bodyLimitBytes, 1024, 64 * 1024 * 1024, problems),
    uploadLimitBytes: integer(env, 'HTTP_UPLOAD_LIMIT_BYTES', defaults.uploadLimitBytes, 1024, 1024 * 1024 * 1024, problems),
    requestTimeoutMs: integer(env, 'HTTP_REQUEST_TIMEOUT_MS', defaults.requestTimeoutMs, 1_000, 3_600_000, problems),
    headersTimeoutMs: integer(env, 'HTTP_HEADERS_TIMEOUT_MS', defaults.headersTimeoutMs, 1_000, 3_600_000, problems),
    keepAliveTimeoutMs: integer(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', defaults.keepAliveTimeoutMs, 1_000, 600_000, problems),
    maxConnections: integer(env, 'HTTP_MAX_CONNECTIONS', defaults.maxConnections, 1, 1_000_000, problems),
    maxEventLoopDelayMs: integer(env, 'HTTP_MAX_EVENT_LOOP_DELAY_MS', defaults.maxEventLoopDelayMs, 0, 60_000, problems),
  };
  // Node refuses a headers timeout longer than the request timeout.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs && !problems.some((problem) => /^HTTP_(HEADERS|REQUEST)_TIMEOUT_MS/.test(problem))) {
    problems.push(`HTTP_HEADERS_TIMEOUT_MS (${limits.headersTimeoutMs}) must not be longer than HTTP_REQUEST_TIMEOUT_MS (${limits.requestTimeoutMs})`);
  }
  return limits;
}

function workersConfig(env: Env, problems: string[]): WorkersConfig {
  const raw = (env.WORKERS ?? 'on').trim().toLowerCase();
  if (raw !== 'on' && raw !== 'off') problems.push(`WORKERS must be 'on' or 'off' (got '${env.WORKERS}')`);
  const concurrency = env.WORKER_CONCURRENCY === undefined || env.WORKER_CONCURRENCY === '' ? undefined : integer(env, 'WORKER_CONCURRENCY', 1, 1, 1_000, problems);
  const metricsPort = env.WORKER_METRICS_PORT === undefined || env.WORKER_METRICS_PORT === '' ? undefined : integer(env, 'WORKER_METRICS_PORT', 0, 0, 65_535, problems);
  // The listener is never open: without METRICS_TOKEN nobody could be let in.
  if (metricsPort !== undefined && !env.METRICS_TOKEN) problems.push('METRICS_TOKEN must be set when WORKER_METRICS_PORT is (the bearer token the worker\'s /metrics requires)');
  return { enabled: raw !== 'off', concurrency, lockMs: integer(env, 'WORKER_LOCK_MS', 30_000, 1_000, 600_000, problems), metricsPort };
}

function logLevel(env: Env, problems: string[]): LogLevel {
  const raw = (env.LOG_LEVEL ?? 'info').trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got '${env.LOG_LEVEL}')`);
    return 'info';
  }
  return raw as LogLevel;
}

export function loadConfig(env: Env = process.env, cwd = process.cwd()): AppConfig {
  const problems: string[] = [];
  const logFormat = env.LOG_FORMAT ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json') problems.push(`LOG_FORMAT must be 'text' or 'json' (got '${logFormat}')`);
  const host = env.HOST ?? '127.0.0.1';
  if (host.trim() === '') problems.push('HOST must not be empty');
  const config: AppConfig = {
    host,
    port: integer(env, 'PORT', 3000, 0, 65_535, problems),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:'], problems),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:'], problems),
    readDatabaseUrl: url(env, 'READ_DATABASE_URL', ['postgres:', 'postgresql:'], problems),
    readReplica: {
      maxWaitMs: integer(env, 'READ_REPLICA_MAX_WAIT_MS', 200, 0, 10_000, problems),
      markTtlMs: integer(env, 'READ_REPLICA_MARK_TTL_MS', 60_000, 1_000, 3_600_000, problems),
    },
    redisClusterNodes: clusterNodes(env, problems),
    dataDir: path.resolve(cwd, env.DATA_DIR ?? 'data'),
    embeddedPostgresPort: integer(env, 'EMBEDDED_POSTGRES_PORT', 54_329, 1024, 65_535, problems),
    databasePoolMax: integer(env, 'DATABASE_POOL_MAX', 20, 1, 500, problems),
    logFormat: logFormat === 'json' ? 'json' : 'text',
    logLevel: logLevel(env, problems),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000, problems),
    jwtSecret: jwtSecret(env, problems),
    rateLimitPerSecond: integer(env, 'RATE_LIMIT_PER_SECOND', 20, 1, 100_000, problems),
    rateLimitBurst: integer(env, 'RATE_LIMIT_BURST', 40, 1, 1_000_000, problems),
    redisKeyPrefix: redisKeyPrefix(env, problems),
    eventStore: eventStore(env, problems),
    kurrentDbUrl: kurrentDbConnectionString(env, problems),
    groupCommitMaxBatch: integer(env, 'EVENT_STORE_GROUP_COMMIT_BATCH', 256, 1, 1000, problems),
    jwtPreviousSecrets: previousSecrets(env, problems),
    metricsToken: metricsToken(env, problems),
    wechat: undefined,
    sms: undefined,
    insurer: undefined,
    insurerTimeoutMs: integer(env, 'INSURER_TIMEOUT_MS', 10_000, 100, 120_000, problems),
    workers: workersConfig(env, problems),
    http: httpLimits(env, problems),
    paymentGateway: undefined,
    paymentGatewaySimulatorFaults: simulatorFaults(env, problems),
    smsSimulatorFaults: simulatorFaults(env, problems, 'SMS_SIMULATOR_FAULTS', SMS_SIMULATOR_FAULTS),
    imports: { asyncMinRows: integer(env, 'IMPORT_ASYNC_MIN_ROWS', 1_000, 1, 200_000, problems) },
    benefits: {
      approvalThresholdFen: integer(env, 'BENEFITS_APPROVAL_THRESHOLD_YUAN', 10_000, 0, 100_000_000, problems) * 100,
      authorisationTtlMs: integer(env, 'BENEFITS_AUTHORISATION_TTL_SECONDS', 900, 10, 7 * 24 * 3600, problems) * 1000,
      paymentCodeTtlMs: integer(env, 'BENEFITS_PAYMENT_CODE_TTL_SECONDS', 60, 10, 600, problems) * 1000,
      proposalTtlMs: integer(env, 'BENEFITS_PROPOSAL_TTL_DAYS', 7, 1, 90, problems) * 24 * 3600 * 1000,
      sweepIntervalMs: integer(env, 'BENEFITS_SWEEP_INTERVAL_SECONDS', 30, 0, 86_400, problems) * 1000,
    },
    mall: { orderTtlMs: integer(env, 'MALL_ORDER_TTL_SECONDS', 900, 60, 86_400, problems) * 1000 },
  };
  const wechat = outsideService(env, 'WECHAT_API_URL', ['WECHAT_APP_ID', 'WECHAT_APP_SECRET'], problems);
  if (wechat) config.wechat = { apiUrl: wechat.url, appId: wechat.credentials[0]!, appSecret: wechat.credentials[1]! };
  const sms = outsideService(env, 'SMS_API_URL', ['SMS_API_KEY'], problems);
  if (sms) config.sms = { apiUrl: sms.url, apiKey: sms.credentials[0]! };
  const insurer = outsideService(env, 'INSURER_API_URL', ['INSURER_API_KEY'], problems);
  if (insurer) config.insurer = { apiUrl: insurer.url, apiKey: insurer.credentials[0]! };
  const gateway = outsideService(env, 'PAYMENT_GATEWAY_URL', ['PAYMENT_GATEWAY_KEY'], problems);
  const gatewayTimeoutMs = integer(env, 'PAYMENT_GATEWAY_TIMEOUT_MS', 10_000, 100, 120_000, problems);
  if (gateway) config.paymentGateway = { apiUrl: gateway.url, apiKey: gateway.credentials[0]!, timeoutMs: gatewayTimeoutMs };
  if (config.eventStore === 'kurrentdb' && config.kurrentDbUrl === undefined && !problems.some((problem) => problem.startsWith('KURRENTDB_URL'))) {
    problems.push('KURRENTDB_URL must be set when EVENT_STORE=kurrentdb (for example kurrentdb://127.0.0.1:2113?tls=false)');
  }
  // Without a DATABASE_URL the primary is an embedded server, which has no replica to name.
  if (config.readDatabaseUrl !== undefined && config.databaseUrl === undefined) problems.push('READ_DATABASE_URL needs DATABASE_URL (a replica of the embedded PostgreSQL is not supported)');
  if (config.redisClusterNodes !== undefined && config.redisUrl !== undefined) problems.push('REDIS_URL and REDIS_CLUSTER_NODES are both set: name one Redis (a server or a cluster)');
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
