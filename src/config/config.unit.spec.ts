import { ConfigError, loadConfig } from './config';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration of the event store', () => {
  it('defaults to PostgreSQL', () => {
    expect(loadConfig({})).toMatchObject({ eventStore: 'postgres', kurrentDbUrl: undefined });
  });

  it('takes KurrentDB with its URL', () => {
    expect(loadConfig({ EVENT_STORE: 'kurrentdb', KURRENTDB_URL: 'kurrentdb://127.0.0.1:2113?tls=false' })).toMatchObject({
      eventStore: 'kurrentdb',
      kurrentDbUrl: 'kurrentdb://127.0.0.1:2113?tls=false',
    });
  });

  it('takes a KurrentDB cluster named by its nodes (a connection string WHATWG URL refuses)', () => {
    const cluster = 'kurrentdb://127.0.0.1:2121,127.0.0.1:2122,127.0.0.1:2123?tls=false&nodePreference=leader';
    expect(loadConfig({ EVENT_STORE: 'kurrentdb', KURRENTDB_URL: cluster }).kurrentDbUrl).toBe(cluster);
    expect(problemsOf({ EVENT_STORE: 'kurrentdb', KURRENTDB_URL: 'http://a:1,b:2' })).toEqual([expect.stringMatching(/^KURRENTDB_URL must use/)]);
    expect(problemsOf({ EVENT_STORE: 'kurrentdb', KURRENTDB_URL: 'kurrentdb://a:1,b' })).toEqual([expect.stringMatching(/^KURRENTDB_URL: a cluster's nodes must each be host:port/)]);
  });

  it('names KURRENTDB_URL when KurrentDB is asked for without it, or with a URL that is not one', () => {
    expect(problemsOf({ EVENT_STORE: 'kurrentdb' })).toEqual([expect.stringMatching(/^KURRENTDB_URL must be set when EVENT_STORE=kurrentdb/)]);
    expect(problemsOf({ EVENT_STORE: 'kurrentdb', KURRENTDB_URL: 'http://x' })).toEqual([expect.stringMatching(/^KURRENTDB_URL must use/)]);
    expect(problemsOf({ EVENT_STORE: 'mysql' })).toEqual(["EVENT_STORE must be postgres or kurrentdb (got 'mysql')"]);
  });
});

describe('configuration of the HTTP limits', () => {
  it('has defaults that cut a slow body within 30 s', () => {
    expect(loadConfig({}).http).toEqual({
      bodyLimitBytes: 1024 * 1024,
      uploadLimitBytes: 32 * 1024 * 1024,
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 5_000,
      maxConnections: 1_000,
      maxEventLoopDelayMs: 1_000,
    });
  });

  it('takes each from the environment', () => {
    const http = loadConfig({
      HTTP_BODY_LIMIT_BYTES: '65536',
      HTTP_UPLOAD_LIMIT_BYTES: '1048576',
      HTTP_REQUEST_TIMEOUT_MS: '20000',
      HTTP_HEADERS_TIMEOUT_MS: '5000',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '2000',
      HTTP_MAX_CONNECTIONS: '50',
      HTTP_MAX_EVENT_LOOP_DELAY_MS: '0',
    }).http;
    expect(http).toEqual({ bodyLimitBytes: 65_536, uploadLimitBytes: 1_048_576, requestTimeoutMs: 20_000, headersTimeoutMs: 5_000, keepAliveTimeoutMs: 2_000, maxConnections: 50, maxEventLoopDelayMs: 0 });
  });

  it('names every bad value', () => {
    expect(
      problemsOf({
        HTTP_BODY_LIMIT_BYTES: '1kb',
        HTTP_UPLOAD_LIMIT_BYTES: '0',
        HTTP_REQUEST_TIMEOUT_MS: '-1',
        HTTP_KEEP_ALIVE_TIMEOUT_MS: '10',
        HTTP_MAX_CONNECTIONS: '0',
        HTTP_MAX_EVENT_LOOP_DELAY_MS: 'off',
      }),
    ).toEqual([
      "HTTP_BODY_LIMIT_BYTES must be an integer from 1024 to 67108864 (got '1kb')",
      "HTTP_UPLOAD_LIMIT_BYTES must be an integer from 1024 to 1073741824 (got '0')",
      "HTTP_REQUEST_TIMEOUT_MS must be an integer from 1000 to 3600000 (got '-1')",
      "HTTP_KEEP_ALIVE_TIMEOUT_MS must be an integer from 1000 to 600000 (got '10')",
      "HTTP_MAX_CONNECTIONS must be an integer from 1 to 1000000 (got '0')",
      "HTTP_MAX_EVENT_LOOP_DELAY_MS must be an integer from 0 to 60000 (got 'off')",
    ]);
    expect(problemsOf({ HTTP_REQUEST_TIMEOUT_MS: '5000', HTTP_HEADERS_TIMEOUT_MS: '10000' })).toEqual([
      'HTTP_HEADERS_TIMEOUT_MS (10000) must not be longer than HTTP_REQUEST_TIMEOUT_MS (5000)',
    ]);
  });
});

describe('configuration of the workers and the insurer', () => {
  it('runs the workers in the service by default, each at its own concurrency, with 30 s locks, and the insurer simulator', () => {
    expect(loadConfig({})).toMatchObject({ workers: { enabled: true, concurrency: undefined, lockMs: 30_000, metricsPort: undefined }, insurer: undefined, insurerTimeoutMs: 10_000 });
  });

  it('takes each from the environment', () => {
    const config = loadConfig({
      WORKERS: 'off',
      WORKER_CONCURRENCY: '4',
      WORKER_LOCK_MS: '5000',
      INSURER_API_URL: 'https://insurer.example.com',
      INSURER_API_KEY: 'k',
      INSURER_TIMEOUT_MS: '2500',
    });
    expect(config).toMatchObject({
      workers: { enabled: false, concurrency: 4, lockMs: 5_000 },
      insurer: { apiUrl: 'https://insurer.example.com', apiKey: 'k' },
      insurerTimeoutMs: 2_500,
    });
  });

  it('names every bad value, and an insurer URL without its key', () => {
    expect(problemsOf({ WORKERS: 'maybe', WORKER_CONCURRENCY: '0', WORKER_LOCK_MS: '10', INSURER_API_URL: 'https://insurer.example.com' })).toEqual([
      "WORKERS must be 'on' or 'off' (got 'maybe')",
      "WORKER_CONCURRENCY must be an integer from 1 to 1000 (got '0')",
      "WORKER_LOCK_MS must be an integer from 1000 to 600000 (got '10')",
      'INSURER_API_KEY must be set when INSURER_API_URL is',
    ]);
    expect(problemsOf({ INSURER_API_KEY: 'k' })).toEqual(['INSURER_API_KEY is set but INSURER_API_URL is not']);
  });
});

describe('configuration of the payment gateway', () => {
  it('uses the simulator unless a gateway is named, with its key', () => {
    expect(loadConfig({}).paymentGateway).toBeUndefined();
    expect(loadConfig({ PAYMENT_GATEWAY_URL: 'https://pay.example.com/api', PAYMENT_GATEWAY_KEY: 'k-1', PAYMENT_GATEWAY_TIMEOUT_MS: '3000' }).paymentGateway).toEqual({
      apiUrl: 'https://pay.example.com/api',
      apiKey: 'k-1',
      timeoutMs: 3_000,
    });
    expect(problemsOf({ PAYMENT_GATEWAY_URL: 'https://pay.example.com' })).toEqual(['PAYMENT_GATEWAY_KEY must be set when PAYMENT_GATEWAY_URL is']);
    expect(problemsOf({ PAYMENT_GATEWAY_KEY: 'secret-value' })).toEqual(['PAYMENT_GATEWAY_KEY is set but PAYMENT_GATEWAY_URL is not']);
  });

  it("takes the simulator's faults, and names a bad one", () => {
    expect(loadConfig({ PAYMENT_GATEWAY_SIMULATOR_FAULTS: 'errorRate=0.05, lostAnswerRate=0.1,latencyMs=20' }).paymentGatewaySimulatorFaults).toEqual({ errorRate: 0.05, lostAnswerRate: 0.1, latencyMs: 20 });
    expect(problemsOf({ PAYMENT_GATEWAY_SIMULATOR_FAULTS: 'errorRate=2,chaos=1' })).toEqual([
      expect.stringMatching(/^PAYMENT_GATEWAY_SIMULATOR_FAULTS: 'errorRate=2' is not/),
      expect.stringMatching(/^PAYMENT_GATEWAY_SIMULATOR_FAULTS: 'chaos=1' is not/),
    ]);
  });

  it("takes the SMS simulator's faults, and refuses the payment gateway's own settings there", () => {
    expect(loadConfig({ SMS_SIMULATOR_FAULTS: 'errorRate=0.05,timeoutRate=0.05,lostAnswerRate=0.1,latencyMs=20' }).smsSimulatorFaults).toEqual({ errorRate: 0.05, timeoutRate: 0.05, lostAnswerRate: 0.1, latencyMs: 20 });
    expect(loadConfig({}).smsSimulatorFaults).toEqual({});
    expect(problemsOf({ SMS_SIMULATOR_FAULTS: 'stallMs=10' })).toEqual([expect.stringMatching(/^SMS_SIMULATOR_FAULTS: 'stallMs=10' is not one of latencyMs, errorRate, timeoutRate, lostAnswerRate/)]);
  });
});

describe('configuration of the metrics token', () => {
  it('is unset by default (GET /metrics then answers admin and auditor tokens only)', () => {
    expect(loadConfig({}).metricsToken).toBeUndefined();
  });

  it('takes a token of at least 32 characters, and names a short one without showing it', () => {
    expect(loadConfig({ METRICS_TOKEN: 'm'.repeat(32) }).metricsToken).toBe('m'.repeat(32));
    const problems = problemsOf({ METRICS_TOKEN: 'short-secret' });
    expect(problems).toEqual([expect.stringContaining('METRICS_TOKEN must be at least 32 characters')]);
    expect(problems.join()).not.toContain('short-secret');
  });
});

describe('configuration of the logs and of the worker metrics listener', () => {
  it('logs at info by default, and runs no worker metrics listener', () => {
    expect(loadConfig({})).toMatchObject({ logLevel: 'info', workers: { metricsPort: undefined } });
  });

  it('takes LOG_LEVEL, and WORKER_METRICS_PORT with the METRICS_TOKEN it requires (0: a free port)', () => {
    expect(loadConfig({ LOG_LEVEL: 'Debug' }).logLevel).toBe('debug');
    expect(loadConfig({ LOG_LEVEL: 'silent' }).logLevel).toBe('silent');
    expect(loadConfig({ WORKER_METRICS_PORT: '9464', METRICS_TOKEN: 'm'.repeat(32) }).workers.metricsPort).toBe(9464);
    expect(loadConfig({ WORKER_METRICS_PORT: '0', METRICS_TOKEN: 'm'.repeat(32) }).workers.metricsPort).toBe(0);
  });

  it('names a bad level, a bad port, and a port without a token', () => {
    expect(problemsOf({ LOG_LEVEL: 'verbose', WORKER_METRICS_PORT: '70000', METRICS_TOKEN: 'm'.repeat(32) })).toEqual([
      "LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got 'verbose')",
      "WORKER_METRICS_PORT must be an integer from 0 to 65535 (got '70000')",
    ]);
    expect(problemsOf({ WORKER_METRICS_PORT: '9464' })).toEqual([expect.stringContaining('METRICS_TOKEN must be set when WORKER_METRICS_PORT is')]);
  });
});

describe('configuration of read replicas and Redis Cluster', () => {
  it('routes nothing to a replica and uses one Redis by default', () => {
    expect(loadConfig({})).toMatchObject({ readDatabaseUrl: undefined, readReplica: { maxWaitMs: 200, markTtlMs: 60_000 }, redisClusterNodes: undefined });
  });

  it('takes a replica of DATABASE_URL with its bounds', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://p/db', READ_DATABASE_URL: 'postgres://r/db', READ_REPLICA_MAX_WAIT_MS: '50', READ_REPLICA_MARK_TTL_MS: '5000' });
    expect(config).toMatchObject({ readDatabaseUrl: 'postgres://r/db', readReplica: { maxWaitMs: 50, markTtlMs: 5_000 } });
    expect(problemsOf({ READ_DATABASE_URL: 'postgres://r/db' })).toEqual([expect.stringMatching(/^READ_DATABASE_URL needs DATABASE_URL/)]);
    expect(problemsOf({ DATABASE_URL: 'postgres://p/db', READ_DATABASE_URL: 'redis://r' })).toEqual([expect.stringMatching(/^READ_DATABASE_URL must use/)]);
    expect(problemsOf({ READ_REPLICA_MAX_WAIT_MS: '-1' })).toEqual([expect.stringMatching(/^READ_REPLICA_MAX_WAIT_MS must be an integer/)]);
  });

  it('takes a Redis Cluster by some of its nodes, and not beside REDIS_URL', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-2.internal:7001,[::1]:7002' }).redisClusterNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-2.internal', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(problemsOf({ REDIS_CLUSTER_NODES: '10.0.0.1' })).toEqual(["REDIS_CLUSTER_NODES: '10.0.0.1' is not host:port"]);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'a:0' })).toEqual(["REDIS_CLUSTER_NODES: 'a:0' is not host:port"]);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_URL: 'redis://b:6379' })).toEqual([expect.stringMatching(/^REDIS_URL and REDIS_CLUSTER_NODES are both set/)]);
  });
});
