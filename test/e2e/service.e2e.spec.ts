import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { tokenService, UnionLedger } from '../../src/composition-root';
import { loadConfig } from '../../src/config/config';
import { freePort } from '../../src/infra/embedded';
import { startSimulators } from '../../src/infra/simulators/simulators';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { checkpointReached, lastFeedPosition } from '../support/feed';
import { testNationalId } from '../support/ledger-app';
import { testTimeout, waitFor } from '../support/wait-for';

/**
 * The real service as an operator runs it: the compiled entry point in a child process (npm test
 * builds first), configured only through the environment.
 */
const entry = path.join(__dirname, '..', '..', 'dist', 'src', 'main.js');

interface Service {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  url: string;
}

function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  // Without the event-loop overload guard: see TEST_HTTP_LIMITS (test/support/ledger-app.ts).
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, HTTP_MAX_EVENT_LOOP_DELAY_MS: '0', ...extra };
  return env;
}

async function startService(env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Service> {
  const child = spawn(process.execPath, [entry], { env });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${output}`)), timeoutMs);
    const check = (): void => {
      const match = /listening on (http:\/\/[^\s]+) /.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code}:\n${output}`));
    });
  });
  return { child, output: () => output, url };
}

function stopService(service: Service, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  return new Promise((resolve) => {
    service.child.once('exit', (code) => resolve(code));
    service.child.kill(signal);
  });
}

describe('the service process', () => {
  beforeAll(() => {
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run the tests with npm test (it builds first)`);
  });

  describe('with DATABASE_URL and REDIS_URL', () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await createTestDatabase({ migrate: false });
    });
    afterAll(async () => {
      await database.drop();
    });

    it('migrates, answers /health, logs what it uses, and stops cleanly on SIGTERM', async () => {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'union-ledger-e2e-'));
      const service = await startService(
        baseEnv({ DATABASE_URL: database.url, REDIS_URL: process.env.TEST_REDIS_URL!, PORT: '0', DATA_DIR: dataDir, WORKERS: 'off' }),
      );
      try {
        await waitFor(async () => (await fetch(`${service.url}/health`)).status === 200, { what: 'the service to answer /health with 200' });
        const response = await fetch(`${service.url}/health`);
        expect(response.status).toBe(200);
        const body = (await response.json()) as { status: string; checks: Record<string, { ok: boolean }> };
        expect(body.status).toBe('ok');
        expect(body.checks.postgres?.ok).toBe(true);
        expect(body.checks.redis?.ok).toBe(true);
        expect(service.output()).toContain('PostgreSQL: PostgreSQL at postgres');
        // The API alone: the relay and the workers run in `union-ledger worker` processes beside it.
        expect(service.output()).toContain('WORKERS=off: no relay or worker in this process');
        expect(service.output()).not.toContain('relay running');
        // No secret in the log: no database password (the route /v1/sessions/password may be named).
        expect(service.output()).not.toMatch(/:union-ledger@|password[=:"]/i);
      } finally {
        expect(await stopService(service)).toBe(0);
        await rm(dataDir, { recursive: true, force: true });
      }
      expect(service.output()).toContain('SIGTERM received: shutting down');
      expect(service.output()).toContain('stopped');
      const { count } = await database.db.one<{ count: string }>('SELECT count(*) FROM ul_migrations');
      expect(Number(count)).toBeGreaterThanOrEqual(2);
    });

    it('keeps its projections live: an activation over HTTP shows in the statement and the leaderboard', async () => {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'union-ledger-e2e-'));
      const jwtSecret = randomBytes(32).toString('hex');
      const redisKeyPrefix = `ul-e2e-${randomBytes(4).toString('hex')}:`;
      const keys = { masterKey: randomBytes(32), hmacKey: randomBytes(32) };
      // WeChat and the SMS gateway as an operator would point at them, here the simulators.
      const simulators = await startSimulators();
      const service = await startService(
        baseEnv({
          DATABASE_URL: database.url,
          REDIS_URL: process.env.TEST_REDIS_URL!,
          PORT: '0',
          DATA_DIR: dataDir,
          REDIS_KEY_PREFIX: redisKeyPrefix,
          JWT_SECRET: jwtSecret,
          PII_MASTER_KEY: keys.masterKey.toString('base64'),
          PII_HMAC_KEY: keys.hmacKey.toString('base64'),
          WECHAT_API_URL: simulators.url,
          WECHAT_APP_ID: simulators.settings.wechatAppId,
          WECHAT_APP_SECRET: simulators.settings.wechatAppSecret,
          SMS_API_URL: simulators.url,
          SMS_API_KEY: simulators.settings.smsApiKey,
        }),
      );
      const ledger = new UnionLedger({ config: loadConfig({}), db: database.db, piiKeys: keys, listen: false });
      try {
        // The roster as an import would leave it, written with the same keys the service uses.
        const { orgs, vault, members } = ledger;
        const system = { type: 'system', id: 'e2e' };
        await orgs.registerOrganisation({ orgId: 'e2e-p', name: 'Province', parentId: null, level: 'province' }, { commandId: 'o1', actor: system });
        await orgs.registerOrganisation({ orgId: 'e2e-u', name: 'Union', parentId: 'e2e-p', level: 'grassroots' }, { commandId: 'o2', actor: system });
        const nationalId = testNationalId(42);
        const idHmac = vault.idHmac(nationalId);
        const memberId = vault.memberIdFor(idHmac);
        const piiCipher = await vault.seal(memberId, { idNumber: nationalId, phone: '13900139000' });
        await members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'e2e-u', name: '陈一', idHmac, piiCipher }, { commandId: 'enrol', actor: system });

        const post = async (route: string, token: string | null, body: unknown): Promise<Response> =>
          fetch(`${service.url}${route}`, {
            method: 'POST',
            headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'idempotency-key': `e2e${route.replaceAll('/', '-')}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
        const login = await post('/v1/sessions/wechat', null, { code: simulators.issueCode('chen-yi').code });
        expect(login.status).toBe(200);
        const visitor = ((await login.json()) as { accessToken: string }).accessToken;
        const startAnswer = await post('/v1/activation/start', visitor, { nationalId, name: '陈一' });
        if (startAnswer.status !== 202) throw new Error(`start answered ${startAnswer.status}: ${await startAnswer.text()}`);
        const started = (await startAnswer.json()) as { challengeId: string };
        let sms: { params: Record<string, unknown> } | undefined;
        for (let poll = 0; poll < 1500 && !sms; poll += 1) {
          sms = simulators.messagesTo('13900139000')[0];
          if (!sms) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const activation = await post('/v1/activation/confirm', visitor, { challengeId: started.challengeId, code: String(sms!.params.code) });
        expect(activation.status).toBe(200);
        const { accessToken: token } = (await activation.json()) as { accessToken: string };

        // The service's projections show the activation once their checkpoints reach its last
        // event. They read the feed, which a transaction open anywhere in the PostgreSQL cluster
        // holds back for as long as it stays open: wait for the checkpoints, up to the deadline.
        const appended = await lastFeedPosition(database.db);
        expect(appended).not.toBeNull();
        const auditor = await tokenService(jwtSecret).sign({ sub: 'e2e-auditor', role: 'auditor', org: 'e2e-p' }, { ttlSeconds: 600 });
        let progress: { checkpoints?: Record<string, string>; leaderboardCheckpoint?: string } = {};
        await waitFor(
          async () => {
            const answer = await fetch(`${service.url}/v1/admin/projections`, { headers: { authorization: `Bearer ${auditor}` } });
            progress = (await answer.json()) as typeof progress;
            return (
              answer.status === 200 &&
              (await checkpointReached(database.db, progress.checkpoints?.ledger, appended!)) &&
              (await checkpointReached(database.db, progress.leaderboardCheckpoint, appended!))
            );
          },
          { what: `the ledger and leaderboard projections to reach position ${appended}`, seen: () => JSON.stringify(progress), intervalMs: 200 },
        );

        const statement = (await (await fetch(`${service.url}/v1/me/statement`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
          lines: Array<{ reason: string; availableAfterPoints: number }>;
        };
        expect(statement.lines).toEqual([expect.objectContaining({ reason: 'PointsGranted', availableAfterPoints: 100 })]);
        const answer = await fetch(`${service.url}/v1/leaderboards/e2e-p?period=all`, { headers: { authorization: `Bearer ${token}` } });
        expect(answer.status).toBe(200);
        const board = (await answer.json()) as { entries: Array<{ memberId: string; points: number }> };
        expect(board.entries).toEqual([expect.objectContaining({ memberId, points: 100 })]);

        // The relay and the insurance worker run in the service's process (WORKERS defaults to on),
        // against the insurer simulator it started: the policy number follows the activation.
        expect(service.output()).toContain('Redis maxmemory-policy is noeviction');
        expect(service.output()).toContain('workers: insurance');
        const policy = await waitFor(
          async () => {
            const insurance = await fetch(`${service.url}/v1/me/insurance`, { headers: { authorization: `Bearer ${token}` } });
            const body = (await insurance.json()) as { policies?: Array<{ status: string; policyNumber: string | null }> };
            return body.policies?.[0]?.status === 'granted' ? body.policies[0] : null;
          },
          { what: 'the activation insurance to be granted by the service’s own worker', intervalMs: 100 },
        );
        expect(policy.policyNumber).toMatch(/^AMA-\d{4}-\d{8}$/);
      } finally {
        await ledger.close();
        await simulators.close();
        expect(await stopService(service)).toBe(0);
        await rm(dataDir, { recursive: true, force: true });
        const redis = new Redis(process.env.TEST_REDIS_URL!);
        const stale = await redis.keys(`${redisKeyPrefix}*`);
        if (stale.length > 0) await redis.del(...stale);
        await redis.quit();
      }
      // Room for the service to start on a busy machine (startService's own deadline) and one feed wait.
    }, testTimeout() + 60_000);
  });

  it('refuses bad configuration and names every wrong variable', async () => {
    const child = spawn(process.execPath, [entry], {
      env: baseEnv({ PORT: 'eighty', DATABASE_URL: 'mysql://localhost/x', LOG_FORMAT: 'xml' }),
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain("PORT must be an integer from 0 to 65535 (got 'eighty')");
    expect(stderr).toContain("DATABASE_URL must use postgres: or postgresql: (got 'mysql:')");
    expect(stderr).toContain("LOG_FORMAT must be 'text' or 'json'");
  });

  it('refuses EVENT_STORE=kurrentdb without KURRENTDB_URL before touching anything', async () => {
    const child = spawn(process.execPath, [entry], { env: baseEnv({ EVENT_STORE: 'kurrentdb' }) });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('KURRENTDB_URL must be set when EVENT_STORE=kurrentdb');
  });

  it('runs with embedded PostgreSQL and Redis when no URLs are given, keeping its data across restarts', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'union-ledger-e2e-'));
    try {
      const env = baseEnv({ DATA_DIR: dataDir, PORT: '0', EMBEDDED_POSTGRES_PORT: String(await freePort()) });
      const first = await startService(env, 120_000);
      expect(first.output()).toContain('starting embedded PostgreSQL');
      expect(first.output()).toContain('embedded Redis');
      expect(first.output()).toContain('WeChat: simulator at http://127.0.0.1:');
      // Ready once /health answers 200: on a loaded machine the first seconds after a start can
      // lag the event loop past the overload threshold, which answers 503 as it should.
      await waitFor(async () => (await fetch(`${first.url}/health`)).status === 200, { what: 'the embedded service to answer /health with 200' });
      expect(await stopService(first)).toBe(0);
      expect(existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);

      const second = await startService(env, 120_000);
      await waitFor(async () => (await fetch(`${second.url}/health`)).status === 200, { what: 'the restarted service to answer /health with 200' });
      expect(await stopService(second, 'SIGINT')).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});
