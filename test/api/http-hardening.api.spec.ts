import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { createHttpApp } from '../../src/api/http';
import { tokenService, UnionLedger } from '../../src/composition-root';
import { loadConfig } from '../../src/config/config';
import { closeDatabase, connectDatabase } from '../../src/infra/database';
import { createLogger } from '../../src/infra/logging';
import { freePort } from '../../src/infra/embedded';
import { createRedisClients, type Runtime } from '../../src/infra/runtime';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startLedgerApp, TEST_HTTP_LIMITS, type LedgerApp } from '../support/ledger-app';

/**
 * HTTP hardening (issue 7): bodies read only after authentication on upload routes, text/csv only
 * where uploads are taken, 413 the client can read, static files that never 500, helmet's
 * headers, client aborts that are one info line, and 503 SERVICE.UNAVAILABLE with Retry-After,
 * at once, when Redis or PostgreSQL is down. Nothing here asserts on timing: a request that would
 * hang instead of answering fails on its deadline, which is generous.
 */

const DEADLINE_MS = 15_000;
let app: LedgerApp;
/** What the app logged (pino JSON lines), read by the client-abort test. */
const logged: string[] = [];

beforeAll(async () => {
  app = await startLedgerApp({ logger: createLogger({ level: 'info', process: 'service', destination: { write: (chunk: string) => void logged.push(chunk) } }) });
  const system = { type: 'system', id: 'test' };
  await app.ledger.orgs.registerOrganisation({ orgId: 'js', name: '江苏', parentId: null, level: 'province' }, { commandId: 'o-js', actor: system });
  await app.ledger.catchUpReadModels();
});
afterAll(async () => {
  await app?.close();
});

interface EarlyAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** Bytes of the body the client had written when the answer arrived. */
  sentBytes: number;
}

/**
 * Declares a large body (Content-Length) but sends only its first chunk, then waits for the
 * answer: a server that reads the body before answering never answers (until the deadline).
 */
function answerBeforeBody(baseUrl: string, route: string, headers: Record<string, string>, declaredBytes: number): Promise<EarlyAnswer> {
  return new Promise((resolve, reject) => {
    const target = new URL(route, baseUrl);
    const request = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { ...headers, 'content-length': String(declaredBytes) } });
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`no answer within ${DEADLINE_MS} ms while the body was incomplete: the server waits for the body`));
    }, DEADLINE_MS);
    const first = Buffer.alloc(64 * 1024, 0x61);
    request.write(first);
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        clearTimeout(timer);
        request.destroy();
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, sentBytes: first.length });
      });
    });
  });
}

/** A GET with the path sent exactly as given (fetch would normalise the dots away). */
function rawGet(baseUrl: string, rawPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(baseUrl);
    const request = http.request({ host: target.hostname, port: target.port, path: rawPath, method: 'GET' }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

describe('request bodies', () => {
  it('answers an unauthenticated upload with 401 before reading its body', async () => {
    const answer = await answerBeforeBody(app.url, '/v1/admin/imports/members', { 'content-type': 'text/csv', 'idempotency-key': 'k-1' }, 31 * 1024 * 1024);
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 401, code: 'AUTH.MISSING_TOKEN' });
  });

  it('answers an upload by a caller without the role with 403 before reading its body', async () => {
    const token = await app.token('m-1', 'member', 'js');
    const answer = await answerBeforeBody(app.url, '/v1/admin/imports/orgs', { 'content-type': 'text/csv', 'idempotency-key': 'k-2', authorization: `Bearer ${token}` }, 31 * 1024 * 1024);
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 403, code: 'AUTH.FORBIDDEN' });
  });

  it('refuses text/csv on a route that takes no upload with 415, without reading it', async () => {
    const answer = await answerBeforeBody(app.url, '/v1/me/check-ins', { 'content-type': 'text/csv', 'idempotency-key': 'k-3' }, 31 * 1024 * 1024);
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 415, code: 'HTTP.UNSUPPORTED_MEDIA_TYPE' });
  });

  it('refuses an upload larger than the limit with 413 before reading it', async () => {
    const token = await app.token('a-1', 'admin', 'js');
    const answer = await answerBeforeBody(app.url, '/v1/admin/imports/orgs', { 'content-type': 'text/csv', 'idempotency-key': 'k-4', authorization: `Bearer ${token}` }, 64 * 1024 * 1024);
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 413, code: 'HTTP.PAYLOAD_TOO_LARGE' });
  });

  it('lets clients that send whole uploads with Connection: close read the 401 (no connection reset)', async () => {
    const uploadWhole = (bytes: number): Promise<string> =>
      new Promise((resolve) => {
        const target = new URL('/v1/admin/imports/members', app.url);
        const request = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent: false, headers: { 'content-type': 'text/csv', 'content-length': String(bytes) } });
        // Settled when the connection is gone: the answer read, and no error (a reset) on the way.
        // (Node's client stops sending the rest of a body once it has read a complete answer.)
        let status = 'no answer';
        let failure: string | undefined;
        request.on('response', (response) => {
          response.resume();
          response.on('end', () => (status = String(response.statusCode)));
        });
        request.on('error', (error: NodeJS.ErrnoException) => (failure ??= `error ${error.code ?? error.message}`));
        request.on('close', () => resolve(failure ?? status));
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let written = 0;
        const pump = (): void => {
          while (written < bytes) {
            written += chunk.length;
            if (!request.write(chunk)) {
              request.once('drain', pump);
              return;
            }
          }
          request.end();
        };
        pump();
      });
    const answers = await Promise.all(Array.from({ length: 16 }, () => uploadWhole(24 * 1024 * 1024)));
    expect(answers).toEqual(Array(16).fill('401'));
  });

  it('answers an oversize JSON body with a 413 the client reads (no connection reset)', async () => {
    const token = await app.token('m-2', 'member', 'js');
    const response = await fetch(`${app.url}/v1/me/check-ins`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'k-5', 'content-type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(3 * 1024 * 1024) }),
      signal: AbortSignal.timeout(DEADLINE_MS),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: 'HTTP.PAYLOAD_TOO_LARGE' });
  });

  it('still takes an authenticated upload as text/csv', async () => {
    const response = await fetch(`${app.url}/v1/admin/imports/orgs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await app.token('a-2', 'admin', 'js')}`, 'idempotency-key': 'k-6', 'content-type': 'text/csv; charset=utf-8' },
      body: 'id,name,parent_id,level\njs-nj,南京,js,city\n',
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { totals: unknown }).totals).toEqual({ rows: 1, applied: 1, unchanged: 0, rejected: 0 });
  });
});

describe('static files and headers', () => {
  it.each(['/docs/../../etc/passwd', '/docs/%2e%2e/%2e%2e/etc/passwd', '/docs/..%2f..%2fetc%2fpasswd', '/docs/no-such-file.js'])('answers %s with 404, never 500', async (rawPath) => {
    const answer = await rawGet(app.url, rawPath);
    expect(answer.status).toBe(404);
    expect(answer.body).not.toContain('root:');
  });

  it('sets helmet’s security headers', async () => {
    const response = await fetch(`${app.url}/health`);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
  });
});

describe('client aborts', () => {
  it('logs an upload the client abandons as one info line, without an error or a stack', async () => {
    const from = logged.length;
    const target = new URL('/v1/admin/imports/orgs', app.url);
    const request = http.request({
      host: target.hostname,
      port: target.port,
      path: target.pathname,
      method: 'POST',
      headers: { authorization: `Bearer ${await app.token('a-3', 'admin', 'js')}`, 'idempotency-key': 'k-abort', 'content-type': 'text/csv', 'content-length': String(1024 * 1024) },
    });
    request.on('error', () => undefined);
    request.write('id,name,parent_id,level\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    request.destroy();
    const lines = () => logged.slice(from).map((line) => JSON.parse(line) as { level: string; msg: string; stack?: unknown });
    const deadline = Date.now() + DEADLINE_MS;
    while (!lines().some((line) => line.msg.includes('aborted')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const aborted = lines().filter((line) => line.msg.includes('aborted'));
    expect(aborted).toHaveLength(1);
    expect(aborted[0]!.level).toBe('info');
    expect(aborted[0]!.msg).not.toMatch(/\n\s+at /);
    expect(lines().filter((line) => line.level === 'error' || line.level === 'fatal')).toEqual([]);
  });
});

describe('dependencies that are down', () => {
  const secret = `outage-secret-${randomBytes(16).toString('hex')}`;
  let database: TestDatabase;
  let runtime: Runtime;
  let dataDir: string;

  /** Tokens of this suite's secret; no route here reaches WeChat or SMS. */
  const identityOptions = () => ({
    piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) },
    identity: {
      tokens: tokenService(secret),
      outside: {
        wechat: { code2session: () => Promise.reject(new Error('not used in these tests')) },
        sms: { send: () => Promise.reject(new Error('not used in these tests')), inquire: () => Promise.reject(new Error('not used in these tests')) },
      },
    },
  });

  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'ul-outage-'));
    // The test database's own pool, migrated; no Redis of the runtime's own.
    runtime = { db: database.db, redis: undefined, redisQueries: undefined, postgresDescription: 'test', redisDescription: undefined, migrations: { applied: [], current: 0 }, close: async () => undefined };
  });
  afterAll(async () => {
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function serve(ledger: UnionLedger, appRuntime: Runtime): Promise<{ url: string; app: INestApplication }> {
    const nest = await createHttpApp(ledger, appRuntime, { limits: TEST_HTTP_LIMITS });
    await nest.listen(0, '127.0.0.1');
    return { url: (await nest.getUrl()).replace('[::1]', '127.0.0.1'), app: nest };
  }

  it('answers leaderboard and rank reads with 503 SERVICE.UNAVAILABLE and Retry-After at once while Redis is down', async () => {
    const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir });
    // The clients the runtime would make, pointed at a port where no Redis listens.
    const redis = createRedisClients(`redis://127.0.0.1:${await freePort()}`);
    const ledger = new UnionLedger({ config, db: runtime.db, redis: redis.commands, redisQueries: redis.queries, ...identityOptions() });
    const system = { type: 'system', id: 'test' };
    await ledger.orgs.registerOrganisation({ orgId: 'gd', name: '广东', parentId: null, level: 'province' }, { commandId: 'o-gd', actor: system });
    const served = await serve(ledger, { ...runtime, redis: redis.commands });
    try {
      const auth = { authorization: `Bearer ${await tokenService(secret).sign({ sub: 'a-gd', role: 'admin', org: 'gd' }, { ttlSeconds: 600 })}` };
      for (const route of ['/v1/leaderboards/gd?period=week', '/v1/leaderboards/gd?period=all&top=10']) {
        const response = await fetch(`${served.url}${route}`, { headers: auth, signal: AbortSignal.timeout(DEADLINE_MS) });
        expect({ status: response.status, body: await response.json() }).toEqual({
          status: 503,
          body: { code: 'SERVICE.UNAVAILABLE', message: expect.stringContaining('Redis'), details: expect.objectContaining({ dependency: 'redis' }) },
        });
        expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
      const member = { authorization: `Bearer ${await tokenService(secret).sign({ sub: 'm-gd', role: 'member', org: 'gd' }, { ttlSeconds: 600 })}` };
      const rank = await fetch(`${served.url}/v1/me/rank?orgId=gd`, { headers: member, signal: AbortSignal.timeout(DEADLINE_MS) });
      expect(rank.status).toBe(503);
    } finally {
      await served.app.close();
      await ledger.close();
      redis.commands.disconnect();
      redis.queries.disconnect();
    }
  });

  it('answers 503 SERVICE.UNAVAILABLE with Retry-After, not 500, while PostgreSQL is unreachable', async () => {
    const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir });
    const dead = connectDatabase({ url: `postgres://postgres@127.0.0.1:${await freePort()}/nowhere`, poolMax: 2 });
    const ledger = new UnionLedger({ config, db: dead, listen: false, ...identityOptions() });
    const served = await serve(ledger, { ...runtime, db: dead, redis: undefined });
    try {
      const member = { authorization: `Bearer ${await tokenService(secret).sign({ sub: 'm-pg', role: 'member', org: 'gd' }, { ttlSeconds: 600 })}` };
      const balance = await fetch(`${served.url}/v1/me/balance`, { headers: member, signal: AbortSignal.timeout(DEADLINE_MS) });
      expect({ status: balance.status, body: await balance.json() }).toEqual({
        status: 503,
        body: { code: 'SERVICE.UNAVAILABLE', message: expect.stringContaining('PostgreSQL'), details: expect.objectContaining({ dependency: 'postgresql' }) },
      });
      expect(Number(balance.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const checkIn = await fetch(`${served.url}/v1/me/check-ins`, { method: 'POST', headers: { ...member, 'idempotency-key': 'k-pg' }, signal: AbortSignal.timeout(DEADLINE_MS) });
      expect({ status: checkIn.status, code: ((await checkIn.json()) as { code: string }).code }).toEqual({ status: 503, code: 'SERVICE.UNAVAILABLE' });
    } finally {
      await served.app.close();
      await ledger.close();
      await closeDatabase(dead);
    }
  });
});
