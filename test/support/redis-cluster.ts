import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, probeTcp } from '../../src/infra/embedded';
import { waitFor } from './wait-for';

const run = promisify(execFile);

/**
 * A six-node Redis Cluster (three masters, three replicas) of the installed `redis-server`, on
 * free loopback ports, with its files under one temporary directory: what a test of the queues
 * and leaderboards on REDIS_CLUSTER_NODES runs against. stop() ends the nodes and deletes the files.
 */
export interface LocalRedisCluster {
  nodes: Array<{ host: string; port: number }>;
  /** REDIS_CLUSTER_NODES for this cluster. */
  nodesVariable: string;
  /** redis-cli against one node. */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The port of the master serving `key`'s slot now (as the first node sees it). */
  ownersOf(key: string): Promise<{ master: number }>;
  /**
   * Kills the node on `port` with SIGKILL (what a crashed host looks like); the cluster promotes its
   * replica after cluster-node-timeout. Returns once every other node sees the cluster ok again.
   */
  kill(port: number): Promise<void>;
  /** A manual failover (CLUSTER FAILOVER on the replica): the replica takes over once it has all the master's writes; returns the new master's port. */
  failOver(masterPort: number): Promise<number>;
  stop(): Promise<void>;
}

async function available(command: string): Promise<boolean> {
  try {
    await run(command, ['--version']);
    return true;
  } catch {
    return false;
  }
}

/** Why a cluster cannot be started here, or undefined when it can. */
export async function redisClusterUnavailableReason(): Promise<string | undefined> {
  if (!(await available('redis-server'))) return 'redis-server is not on PATH';
  if (!(await available('redis-cli'))) return 'redis-cli is not on PATH';
  return undefined;
}

export async function startRedisCluster(): Promise<LocalRedisCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ul-redis-cluster-'));
  const ports: number[] = [];
  while (ports.length < 6) {
    const port = await freePort();
    // The cluster bus listens on port + 10000: both must be free, and distinct from the others'.
    if (port > 55_000 || ports.includes(port) || (await probeTcp('127.0.0.1', port + 10_000, 200))) continue;
    ports.push(port);
  }
  const processes: ChildProcess[] = [];
  const byPort = new Map<number, ChildProcess>();
  const dead = new Set<number>();
  const live = () => ports.filter((port) => !dead.has(port));
  const cli = async (port: number, ...args: string[]): Promise<string> => (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout.trim();

  const stop = async (): Promise<void> => {
    for (const child of processes) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    }
    processes.length = 0;
    await rm(dir, { recursive: true, force: true });
  };

  try {
    for (const port of ports) {
      const nodeDir = path.join(dir, String(port));
      await mkdir(nodeDir);
      // cluster-node-timeout 2000: a dead master is noticed within seconds, so a test stays short.
      // appendonly with fsync always: an acknowledged write is on disk before the answer. noeviction: BullMQ's requirement.
      const child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', nodeDir, '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000',
          '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction', '--protected-mode', 'no'],
        { stdio: 'ignore' },
      );
      processes.push(child);
      byPort.set(port, child);
    }
    for (const port of ports) await waitFor(() => probeTcp('127.0.0.1', port, 200), { what: `redis-server on ${port} to listen`, timeoutMs: 20_000 });
    await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes']);
    for (const port of ports) {
      await waitFor(async () => /cluster_state:ok/.test(await cli(port, 'CLUSTER', 'INFO')), { what: `node ${port} to see the cluster ok`, timeoutMs: 30_000 });
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const ownersOf = async (key: string): Promise<{ master: number }> => {
    const via = live()[0]!;
    const slot = Number(await cli(via, 'CLUSTER', 'KEYSLOT', key));
    // CLUSTER NODES: id addr flags master-id ping pong epoch link-state slots...
    const lines = (await cli(via, 'CLUSTER', 'NODES')).split('\n').map((line) => line.trim().split(' '));
    const portOf = (fields: string[]) => Number(/:(\d+)@/.exec(fields[1]!)![1]);
    const master = lines.find((fields) => fields[2]!.includes('master') && !fields[2]!.includes('fail') && fields.slice(8).some((range) => {
      const [from, to] = range.split('-').map(Number);
      return slot >= from! && slot <= (to ?? from)!;
    }));
    // None during a failover (the old master is flagged fail, the replica not yet promoted): 0.
    return { master: master ? portOf(master) : 0 };
  };

  return {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    nodesVariable: ports.map((port) => `127.0.0.1:${port}`).join(','),
    cli,
    ownersOf,
    async kill(port) {
      const child = byPort.get(port);
      if (!child) throw new Error(`no node on ${port}`);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      dead.add(port);
      for (const other of live()) {
        await waitFor(async () => /cluster_state:ok/.test(await cli(other, 'CLUSTER', 'INFO').catch(() => '')), { what: `node ${other} to see the cluster ok after ${port} died`, timeoutMs: 60_000 });
      }
    },
    async failOver(masterPort) {
      // The master's own view names its replica (right after a failover the demoted node takes a moment to attach).
      const replica = await waitFor(
        async () => {
          const lines = (await cli(masterPort, 'CLUSTER', 'NODES')).split('\n').map((line) => line.trim().split(' '));
          const self = lines.find((fields) => fields[2]!.includes('myself'))!;
          return lines.find((fields) => fields[2]!.includes('slave') && !fields[2]!.includes('fail') && fields[3] === self[0]);
        },
        { what: `a replica of the master on ${masterPort}`, timeoutMs: 30_000 },
      );
      const replicaPort = Number(/:(\d+)@/.exec(replica[1]!)![1]);
      // A manual failover needs the replica in sync with its master (master_link_status:up).
      await waitFor(async () => /master_link_status:up/.test(await cli(replicaPort, 'INFO', 'replication')), { what: `the replica on ${replicaPort} to be in sync`, timeoutMs: 30_000 });
      await cli(replicaPort, 'CLUSTER', 'FAILOVER');
      await waitFor(async () => /role:master/.test(await cli(replicaPort, 'INFO', 'replication')), { what: `the replica on ${replicaPort} to take over`, timeoutMs: 30_000 });
      for (const port of live()) {
        await waitFor(async () => /cluster_state:ok/.test(await cli(port, 'CLUSTER', 'INFO')), { what: `node ${port} to see the cluster ok after the failover`, timeoutMs: 30_000 });
      }
      return replicaPort;
    },
    stop,
  };
}
