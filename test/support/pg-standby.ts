import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/infra/embedded';

const run = promisify(execFile);

/**
 * A real PostgreSQL primary and a streaming standby of it, both private to one test file, from
 * the installed PostgreSQL binaries (initdb, pg_ctl, pg_basebackup). Private rather than a standby
 * of the machine's shared server on 5432: that server's pg_hba.conf has no `replication` line
 * (`host all all 127.0.0.1/32 trust` does not cover replication connections), and a test must not
 * edit and reload a server other work shares. A private pair also lets the test pause and resume
 * the standby's replay (pg_wal_replay_pause) without disturbing anybody.
 *
 * Both run as the `postgres` OS user when the test runs as root (PostgreSQL refuses to run as
 * root), on free loopback ports, with their files under one temporary directory that stop() deletes.
 */
export interface ReplicatedPostgres {
  /** `postgres://root@127.0.0.1:<primary port>/<database>`. */
  primaryUrl(database?: string): string;
  standbyUrl(database?: string): string;
  /** Runs one SQL statement with psql on the primary or the standby (as the superuser root). */
  sql(on: 'primary' | 'standby', statement: string, database?: string): Promise<string>;
  /** Stops both servers (immediate) and deletes their files. */
  stop(): Promise<void>;
  readonly binDir: string;
}

/** The installed PostgreSQL's binaries: PG_BIN_DIR, else the newest /usr/lib/postgresql/<n>/bin; undefined when there are none. */
export function postgresBinDir(): string | undefined {
  const fromEnv = process.env.PG_BIN_DIR;
  if (fromEnv) return existsSync(path.join(fromEnv, 'pg_basebackup')) ? fromEnv : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => /^\d+$/.test(name) && existsSync(path.join(root, name, 'bin', 'pg_basebackup')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(root, versions[0], 'bin');
}

/** Why the replica tests cannot run here, or undefined when they can. */
export function replicaUnavailableReason(): string | undefined {
  if (!postgresBinDir()) return 'no installed PostgreSQL binaries (initdb, pg_basebackup) under /usr/lib/postgresql/<n>/bin or PG_BIN_DIR';
  if (process.getuid?.() === 0 && !existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) return 'running as root without runuser to start PostgreSQL as the postgres user';
  return undefined;
}

export async function startReplicatedPostgres(options: { fsync?: boolean } = {}): Promise<ReplicatedPostgres> {
  const binDir = postgresBinDir();
  if (!binDir) throw new Error(replicaUnavailableReason());
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ul-replica-'));
  let postgresUid: number | undefined;
  let postgresGid: number | undefined;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    postgresUid = Number(stdout.trim());
    postgresGid = Number(gid.trim());
    await chown(dir, postgresUid, postgresGid);
  }
  await chmod(dir, 0o700);
  const tool = (name: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(binDir, name), ...args], { cwd: dir }) : run(path.join(binDir, name), args, { cwd: dir });
  const primaryDir = path.join(dir, 'primary');
  const standbyDir = path.join(dir, 'standby');
  const [primaryPort, standbyPort] = [await freePort(), await freePort()];
  const started: string[] = [];

  const stop = async (): Promise<void> => {
    for (const dataDir of started.reverse()) await tool('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    started.length = 0;
    await rm(dir, { recursive: true, force: true });
  };

  try {
    // initdb's pg_hba.conf with --auth=trust has `host replication all 127.0.0.1/32 trust`.
    await tool('initdb', ['-D', primaryDir, '-U', 'root', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C']);
    // fsync off by default: these files are thrown away, and a commit's visibility on the standby
    // does not depend on it (the WAL is still streamed record by record). A benchmark turns it on.
    await appendFile(
      path.join(primaryDir, 'postgresql.conf'),
      `\nport = ${primaryPort}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nwal_level = replica\nmax_wal_senders = 4\nfsync = ${options.fsync ? 'on' : 'off'}\nmax_connections = 60\nshared_buffers = 32MB\n`,
    );
    await tool('pg_ctl', ['-D', primaryDir, '-l', path.join(dir, 'primary.log'), '-w', '-t', '60', 'start']);
    started.push(primaryDir);
    // -R writes standby.signal and primary_conninfo; -X stream copies the WAL written meanwhile.
    await tool('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'root', '-D', standbyDir, '-R', '-X', 'stream', '--checkpoint=fast', '--no-sync']);
    await appendFile(path.join(standbyDir, 'postgresql.conf'), `\nport = ${standbyPort}\nhot_standby = on\n`);
    await tool('pg_ctl', ['-D', standbyDir, '-l', path.join(dir, 'standby.log'), '-w', '-t', '60', 'start']);
    started.push(standbyDir);
  } catch (error) {
    await stop();
    throw error;
  }

  const url = (port: number, database = 'postgres') => `postgres://root@127.0.0.1:${port}/${database}`;
  return {
    binDir,
    primaryUrl: (database) => url(primaryPort, database),
    standbyUrl: (database) => url(standbyPort, database),
    async sql(on, statement, database = 'postgres') {
      const port = on === 'primary' ? primaryPort : standbyPort;
      const { stdout } = await run(path.join(binDir, 'psql'), ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'root', '-d', database, '-c', statement]);
      return stdout.trim();
    },
    stop,
  };
}
