import net from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL whose connections can be cut: the worker processes reach
 * the database only through it, so a cut is a connection loss for them alone (the shared cluster
 * and every other database on it carry on). A cut destroys every open connection both ways (the
 * server sees its client gone and rolls back what was in flight) and, for as long as it lasts,
 * resets each new connection at once, as a database that is down refuses them.
 *
 * Hand-written on node:net rather than a package: nothing installed does this, and the whole of it
 * is a pipe in each direction and a set of open sockets.
 */
export interface CuttableProxy {
  /** host:port to put in the workers' DATABASE_URL. */
  port: number;
  /** Connections proxied so far, and connections refused while cut. */
  stats(): { connections: number; refused: number; cuts: number };
  /** Connections open now. */
  open(): number;
  /** Cuts every connection and refuses new ones until `restore()`. */
  cut(): number;
  restore(): void;
  close(): Promise<void>;
}

export async function startCuttableProxy(target: { host: string; port: number }): Promise<CuttableProxy> {
  const open = new Set<net.Socket>();
  let isCut = false;
  const counts = { connections: 0, refused: 0, cuts: 0 };
  const server = net.createServer((client) => {
    if (isCut) {
      counts.refused += 1;
      client.resetAndDestroy();
      return;
    }
    counts.connections += 1;
    const upstream = net.connect(target);
    open.add(client);
    open.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('invariant violated: the proxy has no address');
  return {
    port: address.port,
    stats: () => ({ ...counts }),
    open: () => open.size / 2,
    cut() {
      isCut = true;
      counts.cuts += 1;
      const dropped = open.size / 2;
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
      return dropped;
    },
    restore() {
      isCut = false;
    },
    async close() {
      for (const socket of open) socket.destroy();
      open.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
