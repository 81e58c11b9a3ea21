import { Controller, Get, Module } from '@nestjs/common';
import { Public } from '../../src/api/common/auth';
import { createLogger } from '../../src/infra/logging';
import { startLedgerApp, type LedgerApp } from '../support/ledger-app';
import { testTimeout, waitFor } from '../support/wait-for';

/**
 * Structured logs (issue 9): one pino JSON line per request with its id, method, route template,
 * status and duration, and never a bearer token, a cookie or the personal data a client sent.
 */

const NATIONAL_ID = '110101199003074514';
const NAME = '测试姓名甲';
const PHONE = '13912345678';
const COOKIE = 'ul_dashboard=cookie-secret-0123456789';

/** A route that fails as a bug would: a 500 whose error the filter logs during the request. */
@Controller('probe-logging')
class FailingProbeController {
  @Public()
  @Get('boom')
  boom(): never {
    throw new Error('probe: an unexpected failure');
  }
}

@Module({ controllers: [FailingProbeController] })
class FailingProbeModule {}

interface LogLine {
  level: string;
  msg: string;
  reqId?: string;
  method?: string;
  route?: string;
  statusCode?: number;
  durationMs?: number;
  process?: string;
  context?: string;
}

describe('request logs', () => {
  let app: LedgerApp;
  const written: string[] = [];
  beforeAll(async () => {
    const logger = createLogger({ level: 'info', process: 'service', destination: { write: (chunk: string) => void written.push(chunk) } });
    app = await startLedgerApp({ logger, extraModules: [FailingProbeModule] });
  }, testTimeout());
  afterAll(async () => {
    await app?.close();
  });

  const lines = (): LogLine[] =>
    written
      .join('')
      .split('\n')
      .filter((text) => text.trim() !== '')
      .map((text) => JSON.parse(text) as LogLine);
  const isRequestLine = (line: LogLine): boolean => line.msg === 'request completed' || line.msg === 'request failed';
  const requestLine = (reqId: string): LogLine | undefined => lines().find((line) => line.reqId === reqId && isRequestLine(line));

  it('writes one line per request: request id, method, route template, status, duration', async () => {
    const answer = await fetch(`${app.url}/health?probe=1`);
    expect(answer.status).toBe(200);
    const reqId = answer.headers.get('x-request-id')!;
    expect(reqId).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(() => requestLine(reqId) !== undefined, { what: 'the request line of GET /health', seen: () => written.join('') });
    expect(lines().filter((line) => line.reqId === reqId && isRequestLine(line))).toHaveLength(1);
    expect(requestLine(reqId)).toMatchObject({ level: 'info', msg: 'request completed', method: 'GET', route: '/health', statusCode: 200, process: 'service' });
    expect(requestLine(reqId)!.durationMs).toEqual(expect.any(Number));

    // A route's template, never the URL asked for; an unknown route is `unmatched`.
    const missing = await fetch(`${app.url}/v1/no-such-route/abc-987`, { headers: { 'x-request-id': 'gateway-req-00042' } });
    expect([missing.status, missing.headers.get('x-request-id')]).toEqual([404, 'gateway-req-00042']);
    await waitFor(() => requestLine('gateway-req-00042') !== undefined, { what: 'the request line of the unknown route' });
    expect(requestLine('gateway-req-00042')).toMatchObject({ method: 'GET', route: 'unmatched', statusCode: 404 });
    expect(written.join('')).not.toContain('abc-987');
  });

  it('never shows the bearer token, cookies or the personal data of a request', async () => {
    const visitor = await app.token('wx-logged-visitor', 'visitor', '-');
    const sensitive = { nationalId: NATIONAL_ID, name: NAME };
    const started = await fetch(`${app.url}/v1/activation/start?phone=${PHONE}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${visitor}`, cookie: COOKIE, 'content-type': 'application/json', 'idempotency-key': 'log-activation-1' },
      body: JSON.stringify(sensitive),
    });
    // The same request without a token, and one whose body fails validation (its answer names the field).
    const refused = await fetch(`${app.url}/v1/activation/start`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: COOKIE }, body: JSON.stringify(sensitive) });
    const invalid = await fetch(`${app.url}/v1/activation/start`, {
      method: 'POST',
      headers: { authorization: `Bearer ${visitor}`, 'content-type': 'application/json', 'idempotency-key': 'log-activation-2' },
      body: JSON.stringify({ nationalId: `${NATIONAL_ID}ZZ`, name: NAME, phone: PHONE }),
    });
    expect(refused.status).toBe(401);
    expect(invalid.status).toBe(400);
    const ids = [started, refused, invalid].map((answer) => answer.headers.get('x-request-id')!);
    await waitFor(() => ids.every((id) => requestLine(id) !== undefined), { what: 'the three request lines', seen: () => written.join('') });
    expect(ids.map((id) => requestLine(id)!.route)).toEqual(['/v1/activation/start', '/v1/activation/start', '/v1/activation/start']);
    expect(ids.map((id) => requestLine(id)!.statusCode)).toEqual([started.status, 401, 400]);

    const text = written.join('');
    for (const secret of [NATIONAL_ID, NAME, PHONE, visitor, visitor.split('.')[2]!, 'cookie-secret-0123456789']) {
      expect({ secret, logged: text.includes(secret) }).toEqual({ secret, logged: false });
    }
  });

  it("carries the request id on the lines logged while serving a request (Nest's Logger through nestjs-pino)", async () => {
    const failed = await fetch(`${app.url}/probe-logging/boom?nationalId=${NATIONAL_ID}`);
    expect(failed.status).toBe(500);
    const reqId = failed.headers.get('x-request-id')!;
    await waitFor(() => requestLine(reqId) !== undefined, { what: 'the request line of the failed request', seen: () => written.join('') });
    expect(requestLine(reqId)).toMatchObject({ level: 'error', msg: 'request failed', route: '/probe-logging/boom', statusCode: 500 });
    const filterLine = lines().find((line) => line.reqId === reqId && line.context === 'http');
    expect(filterLine).toMatchObject({ level: 'error' });
    expect(filterLine!.msg).toContain('GET /probe-logging/boom failed: Error: probe: an unexpected failure');
    expect(written.join('')).not.toContain(NATIONAL_ID);
  });

  it('censors personal fields and credentials that a log call passes by other paths', () => {
    const captured: string[] = [];
    const logger = createLogger({ level: 'info', process: 'worker', destination: { write: (chunk: string) => void captured.push(chunk) } });
    logger.info({ member: { nationalId: NATIONAL_ID, name: NAME, phone: PHONE }, headers: { authorization: 'Bearer abc.def.ghi', cookie: COOKIE } }, 'a careless call');
    const line = JSON.parse(captured.join('')) as Record<string, Record<string, unknown>>;
    expect(line.member).toEqual({ nationalId: '[redacted]', name: '[redacted]', phone: '[redacted]' });
    expect(line.headers).toEqual({ authorization: '[redacted]', cookie: '[redacted]' });
  });
});
