import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Body, Controller, Get, Module, Post, type INestApplication } from '@nestjs/common';
import Redis from 'ioredis';
import { Roles, CurrentUser, type JwtClaims, type Role } from '../../src/api/common/auth';
import { IdempotencyKey, purgeIdempotencyKeys } from '../../src/api/common/idempotency';
import { int, object, optional, parseBody, str } from '../../src/api/common/validation';
import { createHttpApp } from '../../src/api/http';
import { loadConfig } from '../../src/config/config';
import { openRuntime, tokenService, UnionLedger } from '../../src/composition-root';
import type { Runtime } from '../../src/infra/runtime';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { TEST_HTTP_LIMITS } from '../support/ledger-app';
import { waitFor } from '../support/wait-for';

/**
 * The API infrastructure over HTTP: the real app (guards, interceptor, filter, OpenAPI) on a real
 * runtime (a fresh PostgreSQL database, the test Redis), with a test-only controller mounted.
 */

const SECRET = `api-test-secret-${randomBytes(16).toString('hex')}`;
const BUMP = object({ amount: int({ min: 1, max: 10 }), gate: optional(str({ min: 1, max: 40 })) });

/** How often each handler really ran, so replays can be told apart from re-runs. */
const runs = { bump: 0, boom: 0, coded: 0 };

/** A bump that names a gate waits in the handler until the test opens that gate. */
class Gate {
  open: () => void = () => undefined;
  readonly opened = new Promise<void>((resolve) => {
    this.open = resolve;
  });
}
const gates = new Map<string, Gate>();
function gate(name: string): Gate {
  const existing = gates.get(name);
  if (existing) return existing;
  const created = new Gate();
  gates.set(name, created);
  return created;
}

@Controller('test')
class TestController {
  @Post('bump')
  async bump(@Body() body: unknown, @CurrentUser() user: JwtClaims, @IdempotencyKey() key: string): Promise<Record<string, unknown>> {
    const input = parseBody(BUMP, body);
    if (input.gate) await gate(input.gate).opened;
    runs.bump += 1;
    return { run: runs.bump, amount: input.amount, sub: user.sub, key };
  }

  @Post('admin-only')
  @Roles('admin')
  adminOnly(): { ok: true } {
    return { ok: true };
  }

  @Post('boom')
  boom(): never {
    runs.boom += 1;
    throw new Error('relation "secret_internal_table" does not exist');
  }

  @Post('coded')
  coded(): never {
    runs.coded += 1;
    // What a domain error looks like to the API: a stable code and a status, no class import needed.
    throw Object.assign(new Error('not enough points'), { code: 'POINTS.INSUFFICIENT', httpStatus: 422, details: { balance: 3 } });
  }

  @Get('whoami')
  whoami(@CurrentUser() user: JwtClaims): JwtClaims {
    return user;
  }
}

@Module({ controllers: [TestController] })
class TestModule {}

const tokens = tokenService(SECRET);
/** These tests reach no route that calls WeChat or sends an SMS. */
const unusedOutside = {
  wechat: { code2session: () => Promise.reject(new Error('not used in these tests')) },
  sms: { send: () => Promise.reject(new Error('not used in these tests')), inquire: () => Promise.reject(new Error('not used in these tests')) },
};

function token(sub: string, role: Role = 'member'): Promise<string> {
  return tokens.sign({ sub, role, org: 'union-test' }, { ttlSeconds: 600 });
}

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

describe('API infrastructure over HTTP', () => {
  let database: TestDatabase;
  let runtime: Runtime;
  let app: INestApplication;
  let url: string;
  let dataDir: string;
  const keyPrefix = `ul-test-${randomBytes(4).toString('hex')}:`;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'ul-api-'));
    const config = loadConfig({ DATABASE_URL: database.url, REDIS_URL: process.env.TEST_REDIS_URL, DATA_DIR: dataDir });
    runtime = await openRuntime(config, { withRedis: true, log: () => undefined });
    const ledger = new UnionLedger({ config, db: runtime.db, redis: runtime.redis, piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) }, identity: { tokens, outside: unusedOutside } });
    // Admin tokens speak for an organisation, which must exist (ScopeGuard).
    await ledger.orgs.registerOrganisation({ orgId: 'union-test', name: 'Test union', parentId: null, level: 'province' }, { commandId: 'org:union-test', actor: { type: 'system', id: 'test' } });
    app = await createHttpApp(ledger, runtime, {
      limits: TEST_HTTP_LIMITS,
      bodyLimitBytes: 64 * 1024,
      // A refill of one token a second: the 429 test needs its 60 requests to arrive before the
      // bucket refills by 20, which gives a busy machine 20 s rather than 1 s to send them.
      rateLimit: { perSecond: 1, burst: 40, keyPrefix },
      extraModules: [TestModule],
    });
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
    if (runtime?.redis) {
      const stale = await runtime.redis.keys(`${keyPrefix}*`);
      if (stale.length > 0) await runtime.redis.del(...stale);
    }
    await runtime?.close();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function call(method: string, route: string, options: { token?: string | Promise<string>; key?: string; body?: unknown; raw?: string; contentType?: string } = {}): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${await options.token}`;
    if (options.key) headers['idempotency-key'] = options.key;
    let body: string | undefined;
    if (options.raw !== undefined || options.body !== undefined) {
      body = options.raw ?? JSON.stringify(options.body);
      headers['content-type'] = options.contentType ?? 'application/json';
    }
    const response = await fetch(`${url}${route}`, { method, headers, body });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  function expectErrorShape(answer: Answer, status: number, code: string): void {
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status, code });
    expect(typeof answer.body.message).toBe('string');
    expect(typeof answer.body.details).toBe('object');
    expect(Object.keys(answer.body).sort()).toEqual(['code', 'details', 'message']);
  }

  it('keeps /health public and asks for a bearer token everywhere else (401)', async () => {
    expect((await call('GET', '/health')).status).toBe(200);
    const missing = await call('GET', '/test/whoami');
    expectErrorShape(missing, 401, 'AUTH.MISSING_TOKEN');
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');
    expectErrorShape(await call('GET', '/test/whoami', { token: 'not.a.token' }), 401, 'AUTH.INVALID_TOKEN');
    const foreign = await tokenService('another-secret-another-secret-another!!').sign({ sub: 'm-x', role: 'admin', org: 'u' }, { ttlSeconds: 60 });
    expectErrorShape(await call('GET', '/test/whoami', { token: foreign }), 401, 'AUTH.INVALID_TOKEN');
    const me = await call('GET', '/test/whoami', { token: token('m-who') });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ sub: 'm-who', role: 'member', org: 'union-test' });
  });

  it('answers 403 AUTH.FORBIDDEN to a role the route does not allow', async () => {
    expectErrorShape(await call('POST', '/test/admin-only', { token: token('m-role'), key: 'k1' }), 403, 'AUTH.FORBIDDEN');
    expect((await call('POST', '/test/admin-only', { token: token('a-role', 'admin'), key: 'k1' })).status).toBe(201);
  });

  it('requires an Idempotency-Key on POST (400) and checks its form', async () => {
    expectErrorShape(await call('POST', '/test/bump', { token: token('m-key'), body: { amount: 1 } }), 400, 'IDEMPOTENCY.KEY_REQUIRED');
    expectErrorShape(await call('POST', '/test/bump', { token: token('m-key'), key: 'has space', body: { amount: 1 } }), 400, 'IDEMPOTENCY.KEY_INVALID');
    expectErrorShape(await call('POST', '/test/bump', { token: token('m-key'), key: 'k'.repeat(201), body: { amount: 1 } }), 400, 'IDEMPOTENCY.KEY_INVALID');
  });

  it('replays the original response for the same key and body, without running the handler again', async () => {
    const before = runs.bump;
    const first = await call('POST', '/test/bump', { token: token('m-replay'), key: 'order-1:a.b_c-d', body: { amount: 3 } });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replay')).toBeNull();
    expect(first.body).toMatchObject({ amount: 3, sub: 'm-replay', key: 'order-1:a.b_c-d' });
    // Key order and spacing do not change the request's identity (canonical JSON).
    const again = await call('POST', '/test/bump', { token: token('m-replay'), key: 'order-1:a.b_c-d', raw: '{ "amount" : 3 }' });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replay')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(runs.bump).toBe(before + 1);
  });

  it('replays the original response byte for byte, key order included', async () => {
    const send = async () =>
      fetch(`${url}/test/bump`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await token('m-bytes')}`, 'idempotency-key': 'k-bytes', 'content-type': 'application/json' },
        body: JSON.stringify({ amount: 4 }),
      });
    const first = await send();
    const firstText = await first.text();
    const again = await send();
    expect(again.headers.get('idempotent-replay')).toBe('true');
    expect({ status: again.status, type: again.headers.get('content-type'), text: await again.text() }).toEqual({
      status: first.status,
      type: first.headers.get('content-type'),
      text: firstText,
    });
    // The same for a stored client error.
    const coded = async () => fetch(`${url}/test/coded`, { method: 'POST', headers: { authorization: `Bearer ${await token('m-bytes')}`, 'idempotency-key': 'k-bytes-2' } });
    const firstError = await (await coded()).text();
    expect(await (await coded()).text()).toBe(firstError);
  });

  it('keys are per subject: another member may use the same key', async () => {
    const mine = await call('POST', '/test/bump', { token: token('m-owner-1'), key: 'shared', body: { amount: 1 } });
    const theirs = await call('POST', '/test/bump', { token: token('m-owner-2'), key: 'shared', body: { amount: 1 } });
    expect([mine.status, theirs.status]).toEqual([201, 201]);
    expect(theirs.headers.get('idempotent-replay')).toBeNull();
    expect(theirs.body.sub).toBe('m-owner-2');
  });

  it('answers 409 IDEMPOTENCY.KEY_REUSED for the same key with a different body or path', async () => {
    const before = runs.bump;
    expect((await call('POST', '/test/bump', { token: token('m-reuse'), key: 'k-reuse', body: { amount: 1 } })).status).toBe(201);
    expectErrorShape(await call('POST', '/test/bump', { token: token('m-reuse'), key: 'k-reuse', body: { amount: 2 } }), 409, 'IDEMPOTENCY.KEY_REUSED');
    expectErrorShape(await call('POST', '/test/coded', { token: token('m-reuse'), key: 'k-reuse', body: { amount: 1 } }), 409, 'IDEMPOTENCY.KEY_REUSED');
    expect(runs.bump).toBe(before + 1);
  });

  it('runs concurrent requests with the same key exactly once', async () => {
    const before = runs.bump;
    const body = { amount: 2, gate: 'race' };
    const answered: Answer[] = [];
    const calls = Array.from({ length: 8 }, () =>
      call('POST', '/test/bump', { token: token('m-race'), key: 'k-race', body }).then((answer) => {
        answered.push(answer);
        return answer;
      }),
    );
    // The request that takes the key waits in the handler until the gate opens, so the other seven
    // find the key in progress however slowly a busy machine gets them there (a fixed delay in the
    // handler could run out first, and a late request would be answered with a replay instead).
    await waitFor(() => answered.length === 7, {
      what: 'seven of the eight requests to be answered while the first is held in the handler',
      timeoutMs: 30_000, // No feed involved: only a slow machine, and within Jest's 60 s.
      seen: () => answered.map((answer) => answer.status).join(', '),
    });
    expect(runs.bump).toBe(before);
    gate('race').open();
    const answers = await Promise.all(calls);
    expect(runs.bump).toBe(before + 1);
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    for (const answer of answers.filter((candidate) => candidate.status === 409)) expectErrorShape(answer, 409, 'IDEMPOTENCY.IN_PROGRESS');
    const winner = answers.find((answer) => answer.status === 201)!;
    const replay = await call('POST', '/test/bump', { token: token('m-race'), key: 'k-race', body });
    expect(replay.headers.get('idempotent-replay')).toBe('true');
    expect(replay.body).toEqual(winner.body);
  });

  it('answers validation errors as { code: VALIDATION.FAILED, message, details } and replays them', async () => {
    const bad = await call('POST', '/test/bump', { token: token('m-valid'), key: 'k-valid', body: { amount: 0, extra: true } });
    expectErrorShape(bad, 400, 'VALIDATION.FAILED');
    expect(bad.body.details).toEqual({
      issues: [
        { path: '/extra', reason: 'is not an allowed property (allowed: amount, gate)' },
        { path: '/amount', reason: 'must be from 1 to 10' },
      ],
    });
    const again = await call('POST', '/test/bump', { token: token('m-valid'), key: 'k-valid', body: { amount: 0, extra: true } });
    expect(again.headers.get('idempotent-replay')).toBe('true');
    expect(again.body).toEqual(bad.body);
  });

  it('renders domain errors by their code and status, and stores them for retries', async () => {
    const before = runs.coded;
    const first = await call('POST', '/test/coded', { token: token('m-coded'), key: 'k-coded' });
    expectErrorShape(first, 422, 'POINTS.INSUFFICIENT');
    expect(first.body).toEqual({ code: 'POINTS.INSUFFICIENT', message: 'not enough points', details: { balance: 3 } });
    const again = await call('POST', '/test/coded', { token: token('m-coded'), key: 'k-coded' });
    expect(again.status).toBe(422);
    expect(again.body).toEqual(first.body);
    expect(runs.coded).toBe(before + 1);
  });

  it('answers an unexpected failure with a generic 500 and releases the key so a retry runs again', async () => {
    const before = runs.boom;
    const first = await call('POST', '/test/boom', { token: token('m-boom'), key: 'k-boom' });
    expectErrorShape(first, 500, 'INTERNAL');
    expect(JSON.stringify(first.body)).not.toContain('secret_internal_table');
    expect(typeof (first.body.details as Record<string, unknown>).requestId).toBe('string');
    const retry = await call('POST', '/test/boom', { token: token('m-boom'), key: 'k-boom' });
    expect(retry.status).toBe(500);
    expect(runs.boom).toBe(before + 2);
  });

  it('answers malformed JSON, oversized bodies, wrong media types and unknown routes with 4xx, never 500', async () => {
    const auth = { token: token('m-http'), key: 'k-http' };
    expectErrorShape(await call('POST', '/test/bump', { ...auth, raw: '{"amount":' }), 400, 'HTTP.BAD_REQUEST');
    expectErrorShape(await call('POST', '/test/bump', { ...auth, raw: JSON.stringify({ amount: 1, pad: 'x'.repeat(70_000) }) }), 413, 'HTTP.PAYLOAD_TOO_LARGE');
    expectErrorShape(await call('POST', '/test/bump', { ...auth, raw: '<amount/>', contentType: 'application/xml' }), 415, 'HTTP.UNSUPPORTED_MEDIA_TYPE');
    expectErrorShape(await call('GET', '/no/such/route', auth), 404, 'HTTP.NOT_FOUND');
    // The JSON parser refuses prototype pollution before any handler sees it.
    expect((await call('POST', '/test/bump', { ...auth, raw: '{"amount":1,"__proto__":{"x":1}}' })).status).toBe(400);
  });

  it('answers 429 RATE_LIMITED with Retry-After once a subject has used its burst', async () => {
    const answers = await Promise.all(Array.from({ length: 60 }, () => call('GET', '/test/whoami', { token: token('m-rate') })));
    const limited = answers.filter((answer) => answer.status === 429);
    expect(answers.filter((answer) => answer.status === 200).length).toBeGreaterThanOrEqual(40);
    expect(limited.length).toBeGreaterThan(0);
    expectErrorShape(limited[0]!, 429, 'RATE_LIMITED');
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another subject has a bucket of its own.
    expect((await call('GET', '/test/whoami', { token: token('m-rate-other') })).status).toBe(200);
  });

  it('serves the OpenAPI document at /docs-json and the UI at /docs, without a token', async () => {
    const response = await fetch(`${url}/docs-json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      components: { securitySchemes: Record<string, unknown> };
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string; required: boolean }> }>>;
    };
    expect(document.openapi).toMatch(/^3\./);
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(document.paths['/test/bump']?.post?.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: true }));
    const ui = await fetch(`${url}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger');
  });

  it('purges idempotency keys older than the retention', async () => {
    await database.db.none(`UPDATE ul_idempotency SET created_at = now() - interval '25 hours' WHERE actor = 'm-replay'`);
    expect(await purgeIdempotencyKeys(database.db)).toBe(1);
    const { count } = await database.db.one<{ count: string }>(`SELECT count(*) FROM ul_idempotency WHERE actor = 'm-replay'`);
    expect(Number(count)).toBe(0);
  });
});

describe('rate limiting when Redis is unavailable', () => {
  it('fails open: requests go through', async () => {
    const database = await createTestDatabase();
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ul-api-'));
    const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir });
    const runtime = await openRuntime(config, { withRedis: false, log: () => undefined });
    // A client that never connects stands for a Redis that is down.
    const down = new Redis({ lazyConnect: true, enableOfflineQueue: false });
    const ledger = new UnionLedger({ config, db: runtime.db, redis: down, piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) }, identity: { tokens, outside: unusedOutside } });
    const app = await createHttpApp(ledger, { ...runtime, redis: down }, { limits: TEST_HTTP_LIMITS, rateLimit: { burst: 1, perSecond: 1 }, extraModules: [TestModule] });
    try {
      await app.listen(0, '127.0.0.1');
      const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${base}/test/whoami`, { headers: { authorization: `Bearer ${await token('m-open')}` } });
        expect(response.status).toBe(200);
      }
    } finally {
      await app.close();
      down.disconnect();
      await runtime.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
