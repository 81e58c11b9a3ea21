import { spawn, type ChildProcess } from 'node:child_process';
import Redis from 'ioredis';
import { freePort } from '../../src/infra/embedded';
import { waitFor } from '../support/wait-for';

/**
 * A Redis of the fault run's own, so that it can be killed -9 and started again on the same port
 * without touching the Redis other engineers and test runs share on 6379. The system's
 * `redis-server` is spawned directly rather than through redis-memory-server: the run needs a
 * SIGKILL of the very process and a new one on the same port, which that package's lifecycle
 * (stop, then a start that may choose its port) does not promise. Nothing is persisted
 * (`--save ''`, no AOF): a restart comes back empty, which is the case the relay's replay exists for.
 */
export interface PrivateRedis {
  url: string;
  port: number;
  /** SIGKILL, then a new empty server on the same port, ready before this resolves. */
  restartEmpty(): Promise<void>;
  stop(): Promise<void>;
}

const REDIS_BINARY = process.env.REDIS_SERVER_BINARY ?? 'redis-server';

function spawnRedis(port: number): { child: ChildProcess; exited: Promise<void>; output: () => string } {
  const child = spawn(REDIS_BINARY, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--protected-mode', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exited, output: () => output };
}

async function ready(url: string, server: { child: ChildProcess; output: () => string }): Promise<void> {
  await waitFor(
    async () => {
      if (server.child.exitCode !== null) throw new Error(`redis-server exited (${server.child.exitCode}): ${server.output()}`);
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    },
    { what: `the private redis-server at ${url} to answer`, intervalMs: 50, seen: server.output },
  );
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server = spawnRedis(port);
  await ready(url, server);
  return {
    url,
    port,
    async restartEmpty() {
      server.child.kill('SIGKILL');
      await server.exited;
      server = spawnRedis(port);
      await ready(url, server);
    },
    async stop() {
      server.child.kill('SIGKILL');
      await server.exited;
    },
  };
}
