import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { probeTcp } from '../src/infra/embedded';
import { createBenchDatabase, resolvePostgres } from './lib/database';
import { startService, type ServiceProcess } from './lib/service-process';

/**
 * `npm run probe:http`: the built service (dist/src/main.js, PORT=0) against what an attacker
 * without a token, or a slow client, can make it hold (issue 7). Only 127.0.0.1 is contacted.
 *
 * 1. RSS of the service before, at its peak during, and after 16 parallel 31 MiB uploads without
 *    a token: once as text/csv to a route that takes no upload (/v1/me/check-ins), once to an
 *    upload route (/v1/admin/imports/members). Target: growth under 64 MiB.
 * 2. A few hundred slow sockets: headers a byte at a time, a JSON body a byte at a time, and idle
 *    keep-alive connections after one request. Target: every one closed by the server within 35 s.
 *
 * PostgreSQL and Redis: DATABASE_URL / REDIS_URL, else the local default ports. A fresh database
 * and a Redis key prefix of its own are used and removed afterwards. The whole run stops by itself
 * within two minutes; exit 0 when both targets are met, 1 otherwise.
 */

const MiB = 1024 * 1024;
const UPLOADS = 16;
const UPLOAD_BYTES = 31 * MiB;
const RSS_GROWTH_LIMIT_BYTES = 64 * MiB;
const SLOW_SOCKETS_PER_KIND = Number(process.env.PROBE_SLOW_SOCKETS_PER_KIND ?? 100);
const SLOW_SOCKET_LIMIT_MS = 35_000;
/** A socket the server has not closed by then is counted as open for good. */
const SLOW_SOCKET_GIVE_UP_MS = 45_000;
const SLOW_BYTE_INTERVAL_MS = 2_000;
const RUN_DEADLINE_MS = 115_000;
const HOST = '127.0.0.1';
/** The service of this run, so the deadline can stop it too. */
let running: ServiceProcess | undefined;

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

interface UploadOutcome {
  status: number | null;
  error: string | null;
}

/**
 * One upload of `bytes` bytes written as fast as the socket takes them (Connection: close, as
 * upload tools send); resolves when the connection is gone, with the answer and the first error
 * (a reset) seen on the way. Node's client stops sending the body once it has read an answer.
 */
function upload(port: number, route: string, bytes: number): Promise<UploadOutcome> {
  return new Promise((resolve) => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let status: number | null = null;
    let error: string | null = null;
    const request = http.request({ host: HOST, port, path: route, method: 'POST', agent: false, headers: { 'content-type': 'text/csv', 'content-length': String(bytes), 'idempotency-key': randomBytes(6).toString('hex') } });
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => (status = response.statusCode ?? null));
    });
    request.on('error', (failure: NodeJS.ErrnoException) => (error ??= failure.code ?? failure.message));
    request.on('close', () => resolve({ status, error }));
    let written = 0;
    const pump = (): void => {
      while (written < bytes) {
        const piece = bytes - written >= chunk.length ? chunk : chunk.subarray(0, bytes - written);
        written += piece.length;
        if (!request.write(piece)) {
          request.once('drain', pump);
          return;
        }
      }
      request.end();
    };
    pump();
  });
}

async function bigBodies(service: ServiceProcess, port: number, route: string): Promise<{ before: number; peak: number; after: number; outcomes: UploadOutcome[] }> {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = rssBytes(service.pid);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssBytes(service.pid));
  }, 25);
  const outcomes = await Promise.all(Array.from({ length: UPLOADS }, () => upload(port, route, UPLOAD_BYTES)));
  await new Promise((resolve) => setTimeout(resolve, 500));
  clearInterval(sampler);
  const after = rssBytes(service.pid);
  return { before, peak: Math.max(peak, after), after, outcomes };
}

type SlowKind = 'slow headers' | 'slow body' | 'idle keep-alive';

interface SlowOutcome {
  kind: SlowKind;
  /** From connect to the server closing the socket; null if it was still open when the probe gave up. */
  openMs: number | null;
  answer: string;
}

/** A socket that dribbles, or idles, until the server closes it. */
function slowSocket(port: number, kind: SlowKind): Promise<SlowOutcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect({ host: HOST, port });
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (openMs: number | null): void => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      const statusLine = /^HTTP\/1\.1 (\d{3})/gm;
      const statuses = [...answer.matchAll(statusLine)].map((match) => match[1]).join(',');
      resolve({ kind, openMs, answer: statuses || '(none)' });
    };
    const giveUp = setTimeout(() => finish(null), SLOW_SOCKET_GIVE_UP_MS);
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => (answer += data));
    socket.on('error', () => undefined);
    socket.on('close', () => finish(Date.now() - started));
    socket.on('connect', () => {
      if (kind === 'slow headers') {
        socket.write(`GET /health HTTP/1.1\r\nHost: ${HOST}\r\nX-Slow: `);
        timer = setInterval(() => socket.write('a'), SLOW_BYTE_INTERVAL_MS);
      } else if (kind === 'slow body') {
        socket.write(`POST /v1/me/check-ins HTTP/1.1\r\nHost: ${HOST}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nIdempotency-Key: slow\r\n\r\n{`);
        timer = setInterval(() => socket.write(' '), SLOW_BYTE_INTERVAL_MS);
      } else {
        socket.write(`GET /health HTTP/1.1\r\nHost: ${HOST}\r\nConnection: keep-alive\r\n\r\n`);
      }
    });
  });
}

async function main(): Promise<number> {
  const postgres = await resolvePostgres();
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!process.env.REDIS_URL && !(await probeTcp(HOST, 6379))) throw new Error('no Redis: set REDIS_URL or run one on 127.0.0.1:6379');
  const database = await createBenchDatabase(postgres.adminUrl, 2);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ul-probe-http-'));
  const prefix = `ul-probe-${randomBytes(4).toString('hex')}:`;
  let service: ServiceProcess | undefined;
  try {
    service = await startService({
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: prefix,
      DATA_DIR: dataDir,
      HOST,
      PORT: '0',
      JWT_SECRET: randomBytes(32).toString('hex'),
    });
    running = service;
    const port = Number(new URL(service.url).port);
    for (let index = 0; index < 5; index += 1) await fetch(`${service.url}/health`);
    console.log(`service ${service.url} (pid ${service.pid}); ${postgres.description}; Redis ${redisUrl}\n`);

    let ok = true;
    console.log(`${UPLOADS} parallel ${mib(UPLOAD_BYTES)} uploads without a token`);
    for (const route of ['/v1/me/check-ins', '/v1/admin/imports/members']) {
      const result = await bigBodies(service, port, route);
      const growth = result.peak - result.before;
      const statuses = new Map<string, number>();
      for (const outcome of result.outcomes) {
        const label = outcome.error ? `error ${outcome.error}${outcome.status ? ` after ${outcome.status}` : ''}` : String(outcome.status);
        statuses.set(label, (statuses.get(label) ?? 0) + 1);
      }
      const met = growth < RSS_GROWTH_LIMIT_BYTES;
      ok &&= met;
      console.log(
        `  POST ${route.padEnd(27)} RSS before ${mib(result.before)}, peak ${mib(result.peak)}, after ${mib(result.after)}: ` +
          `growth ${mib(growth)} (target < ${mib(RSS_GROWTH_LIMIT_BYTES)}: ${met ? 'met' : 'MISSED'}); answers ${[...statuses].map(([label, count]) => `${count} x ${label}`).join(', ')}`,
      );
    }

    console.log(`\n${SLOW_SOCKETS_PER_KIND} slow sockets of each kind (a byte every ${seconds(SLOW_BYTE_INTERVAL_MS)} / idle), all at once`);
    const kinds: SlowKind[] = ['slow headers', 'slow body', 'idle keep-alive'];
    const slow = Promise.all(kinds.flatMap((kind) => Array.from({ length: SLOW_SOCKETS_PER_KIND }, () => slowSocket(port, kind))));
    // Meanwhile the service still answers others.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const started = Date.now();
    const health = await fetch(`${service.url}/health`, { signal: AbortSignal.timeout(10_000) }).then((response) => response.status, (error: Error) => error.message);
    console.log(`  GET /health while they are open: ${health} in ${Date.now() - started} ms`);
    const outcomes = await slow;
    for (const kind of kinds) {
      const mine = outcomes.filter((outcome) => outcome.kind === kind);
      const open = mine.filter((outcome) => outcome.openMs === null).length;
      const times = mine.flatMap((outcome) => (outcome.openMs === null ? [] : [outcome.openMs])).sort((a, b) => a - b);
      const longest = open > 0 ? Number.POSITIVE_INFINITY : (times[times.length - 1] ?? 0);
      const answers = new Map<string, number>();
      for (const outcome of mine) answers.set(outcome.answer, (answers.get(outcome.answer) ?? 0) + 1);
      const met = longest <= SLOW_SOCKET_LIMIT_MS;
      ok &&= met;
      console.log(
        `  ${kind.padEnd(16)} closed by the server after ${seconds(times[0] ?? 0)} to ${open > 0 ? `never (${open} still open after ${seconds(SLOW_SOCKET_GIVE_UP_MS)})` : seconds(longest)} ` +
          `(target <= ${seconds(SLOW_SOCKET_LIMIT_MS)}: ${met ? 'met' : 'MISSED'}); answers ${[...answers].map(([label, count]) => `${count} x ${label}`).join(', ')}`,
      );
    }
    const errors = service.errorLines().filter((line) => /\bERROR\b/.test(line));
    console.log(`\nERROR lines in the service log: ${errors.length}${errors.length > 0 ? `\n  ${errors.slice(0, 5).join('\n  ')}` : ''}`);
    console.log(ok ? '\nall targets met' : '\nTARGETS MISSED');
    return ok ? 0 : 1;
  } finally {
    await service?.stop();
    await database.close({ keep: false });
    await postgres.stop();
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      const stale = await redis.keys(`${prefix}*`);
      if (stale.length > 0) await redis.del(...stale);
    } finally {
      redis.disconnect();
    }
    await rm(dataDir, { recursive: true, force: true });
  }
}

const deadline = setTimeout(() => {
  console.error(`probe:http did not finish within ${seconds(RUN_DEADLINE_MS)}: giving up`);
  if (running) process.kill(running.pid, 'SIGKILL');
  process.exit(1);
}, RUN_DEADLINE_MS);
deadline.unref();

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`probe:http failed: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
