import { createHash, randomInt } from 'node:crypto';
import type { Database, Queryable } from './database';

/**
 * Leadership across processes: each role (a projection, one partition of it, the relay) runs in
 * exactly one process at a time, however many `serve` and `worker` processes share the stores.
 *
 * A role is a session-level PostgreSQL advisory lock taken on a connection of its own (not the
 * pool's): the lock lives exactly as long as that session. When the holder dies (kill -9, a lost
 * host) its socket closes, PostgreSQL ends the session and releases the lock, and another process
 * takes the role at its next tick (LEADERSHIP_TICK_MS, one second by default). When the holder
 * loses its connection instead, the tick's query fails and every role it held is revoked at once:
 * its tasks are stopped before it could possibly take them again.
 *
 * Fencing: a task does not trust that it is still leader. `Lease.fence(tx)` checks, inside the
 * transaction that moves its checkpoint, that the lock is still granted to this process's leader
 * session (pg_locks), so a holder whose session is gone cannot commit a batch. The checkpoints'
 * compare-and-set stays as the last guard for the window between that check and the commit.
 *
 * Balance: every process of a group also holds a "member" lock of its own, so each counts the live
 * processes of its group and takes at most its fair share (ceil(roles / processes)) of the roles;
 * a process above its share hands one role back per tick. Projections and their partitions thus
 * spread over the `serve` processes, and a dead process's share moves to the survivors.
 */

/** classid of the roles' advisory locks (two-int form, objsubid 2: apart from the stream locks' one-bigint form). */
const ROLE_LOCK_CLASS = 0x554c_4c44; // "ULLD"
/** Hash of the group name, as classid of its members' locks; the member's objid is random. */
const memberClassOf = (group: string): number => hash31(`members:${group}`);

/** A role name as a 31-bit lock key (collisions are refused at registration, not assumed away). */
export function hash31(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0) & 0x7fff_ffff;
}

export class LeadershipLostError extends Error {
  readonly code = 'LEADERSHIP.LOST';
}

export interface Lease {
  readonly role: string;
  /** Aborted when this process stops being the role's leader (revoked, handed over, closing). */
  readonly signal: AbortSignal;
  /** Throws LeadershipLostError unless this process's leader session still holds the role's lock (run it in the checkpoint's transaction). */
  fence(on: Queryable): Promise<void>;
  /**
   * The same check as an SQL condition, for a statement the transaction runs anyway (the
   * checkpoint's compare-and-set: saveCheckpoint), which saves a round trip per batch. Throws
   * LeadershipLostError at once when the lease is already known to be lost. A statement that
   * found the condition false calls `fence` to tell a lost lease from its other causes.
   */
  fenceCondition(): string;
}

/** What a leader runs: started when the role is won, stopped when it is lost or handed over. */
export interface LeaderTask {
  stop(): Promise<void>;
}

export interface LeadershipOptions {
  /** The group whose processes share out its roles (e.g. `projections`, `relay`). */
  group: string;
  /** How often locks are tried, the session checked and the share recomputed (default 1000 ms). */
  tickMs?: number;
  log?: (line: string) => void;
  /** Each role won or lost, for logs and tests. */
  onChange?: (role: string, leader: boolean) => void;
}

interface RoleState {
  role: string;
  key: number;
  start: (lease: Lease) => LeaderTask | Promise<LeaderTask>;
  held?: { task: Promise<LeaderTask | undefined>; abort: AbortController };
}

type DirectConnection = Awaited<ReturnType<Database['connect']>>;

/** The longest a tick may wait on the leader session before it is taken as lost. */
const TICK_QUERY_TIMEOUT_MS = 5_000;
/** Roles per group: a bound on the tick's lock array and on the loop below. */
const MAX_ROLES = 1_024;

export class Leadership {
  private readonly roles = new Map<string, RoleState>();
  private connection: DirectConnection | undefined;
  private pid: number | undefined;
  private readonly memberKey = randomInt(1, 0x7fff_ffff);
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private closed = false;
  private readonly tickMs: number;

  constructor(
    private readonly db: Database,
    private readonly options: LeadershipOptions,
  ) {
    this.tickMs = options.tickMs ?? 1_000;
  }

  /** Registers a role; the first tick after it (at once) tries to win it. */
  add(role: string, start: RoleState['start']): void {
    if (this.roles.has(role)) throw new Error(`invariant violated: role ${role} registered twice`);
    if (this.roles.size >= MAX_ROLES) throw new Error(`invariant violated: more than ${MAX_ROLES} roles in group ${this.options.group}`);
    const key = hash31(role);
    for (const other of this.roles.values()) {
      if (other.key === key) throw new Error(`invariant violated: roles ${role} and ${other.role} hash to the same lock key`);
    }
    this.roles.set(role, { role, key, start });
    this.schedule(0);
  }

  /** Roles this process leads now. */
  held(): string[] {
    return [...this.roles.values()].filter((state) => state.held).map((state) => state.role);
  }

  /** Runs one tick now (tests; the timer runs them otherwise). */
  async tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.runTick().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick().finally(() => this.schedule(this.tickMs));
    }, delayMs);
    this.timer.unref();
  }

  private async runTick(): Promise<void> {
    if (this.closed) return;
    try {
      const connection = await this.connect();
      const unheld = [...this.roles.values()].filter((state) => !state.held);
      const heldCount = this.roles.size - unheld.length;
      const members = Number(
        (
          await this.withTimeout(
            connection.one<{ members: string }>(
              `SELECT count(*) AS members FROM pg_locks
                WHERE locktype = 'advisory' AND granted AND classid = $1 AND objsubid = 2
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
              [memberClassOf(this.options.group)],
            ),
          )
        ).members,
      );
      const share = Math.ceil(this.roles.size / Math.max(1, members));
      if (heldCount > share) {
        // Above the fair share (a process joined): hand one role back; another takes it at its tick.
        const extra = [...this.roles.values()].reverse().find((state) => state.held);
        if (extra) await this.release(extra, 'handed over');
        return;
      }
      if (heldCount >= share || unheld.length === 0) return;
      // The roles nobody holds now (another process's are skipped rather than tried in vain), from
      // a different starting point in every process, so that processes starting together split them.
      const taken = new Set(
        (
          await this.withTimeout(
            connection.any<{ key: number }>(
              `SELECT objid::int AS key FROM pg_locks
                WHERE locktype = 'advisory' AND granted AND classid = $1 AND objsubid = 2
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
              [ROLE_LOCK_CLASS],
            ),
          )
        ).map((row) => Number(row.key)),
      );
      const free = unheld.filter((state) => !taken.has(state.key));
      if (free.length === 0) return;
      const offset = this.memberKey % free.length;
      const ordered = [...free.slice(offset), ...free.slice(0, offset)].slice(0, share - heldCount);
      const won = await this.withTimeout(
        connection.any<{ key: number; won: boolean }>('SELECT key, pg_try_advisory_lock($1, key) AS won FROM unnest($2::int[]) AS key', [
          ROLE_LOCK_CLASS,
          ordered.map((state) => state.key),
        ]),
      );
      const wonKeys = new Set(won.filter((row) => row.won).map((row) => Number(row.key)));
      for (const state of ordered) if (wonKeys.has(state.key)) this.begin(state);
    } catch (error) {
      // The leader session is gone or silent: whatever this process led, it leads no longer.
      this.options.log?.(`leadership (${this.options.group}): leader session lost, every role revoked: ${(error as Error).message}`);
      await this.dropConnection();
    }
  }

  private async withTimeout<T>(query: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from the leader session within ${TICK_QUERY_TIMEOUT_MS} ms`)), TICK_QUERY_TIMEOUT_MS);
    });
    try {
      return await Promise.race([query, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async connect(): Promise<DirectConnection> {
    if (this.connection) return this.connection;
    const connection = await this.db.connect({ direct: true });
    // An error or the end of the session: revoke at once, not at the next tick.
    const lost = (): void => {
      if (this.connection === connection) void this.dropConnection();
    };
    connection.client.on('error', lost);
    connection.client.on('end', lost);
    try {
      const row = await connection.one<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_advisory_lock($1, $2)', [memberClassOf(this.options.group), this.memberKey]);
      this.pid = row.pid;
    } catch (error) {
      await Promise.resolve(connection.done(true)).catch(() => undefined);
      throw error;
    }
    this.connection = connection;
    return connection;
  }

  private begin(state: RoleState): void {
    const abort = new AbortController();
    const pid = this.pid!;
    const key = state.key;
    // Integers only (the lock's class, key and the session's pid), so the condition is plain SQL text.
    const held = `EXISTS (SELECT 1 FROM pg_locks
                            WHERE locktype = 'advisory' AND granted AND classid = ${ROLE_LOCK_CLASS} AND objid = ${Number(key)} AND objsubid = 2 AND pid = ${Number(pid)}
                              AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))`;
    const lease: Lease = {
      role: state.role,
      signal: abort.signal,
      fenceCondition: () => {
        if (abort.signal.aborted) throw new LeadershipLostError(`no longer the leader of ${state.role}`);
        return held;
      },
      fence: async (on) => {
        if (abort.signal.aborted) throw new LeadershipLostError(`no longer the leader of ${state.role}`);
        const row = await on.one<{ held: boolean }>(`SELECT ${held} AS held`);
        if (!row.held) {
          abort.abort();
          throw new LeadershipLostError(`the leader session of ${state.role} no longer holds its lock`);
        }
      },
    };
    const task = (async () => {
      try {
        return await state.start(lease);
      } catch (error) {
        this.options.log?.(`leadership (${this.options.group}): ${state.role} failed to start: ${(error as Error).message}`);
        return undefined;
      }
    })();
    state.held = { task, abort };
    this.options.log?.(`leadership (${this.options.group}): leading ${state.role}`);
    this.options.onChange?.(state.role, true);
  }

  /** Stops the role's task and gives its lock back (when the session is alive). */
  private async release(state: RoleState, why: string): Promise<void> {
    const held = state.held;
    if (!held) return;
    state.held = undefined;
    held.abort.abort();
    const task = await held.task;
    await task?.stop().catch(() => undefined);
    if (this.connection) {
      await this.connection.one('SELECT pg_advisory_unlock($1, $2) AS released', [ROLE_LOCK_CLASS, state.key]).catch(() => undefined);
    }
    this.options.log?.(`leadership (${this.options.group}): ${state.role} ${why}`);
    this.options.onChange?.(state.role, false);
  }

  private async dropConnection(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.pid = undefined;
    // Tasks first abort (their fence fails from now on), then stop; the session's locks die with it.
    const stopping = [...this.roles.values()].filter((state) => state.held);
    for (const state of stopping) state.held!.abort.abort();
    for (const state of stopping) {
      const held = state.held!;
      state.held = undefined;
      const task = await held.task;
      await task?.stop().catch(() => undefined);
      this.options.onChange?.(state.role, false);
    }
    if (connection) await Promise.resolve(connection.done(true)).catch(() => undefined);
  }

  /** Stops every task this process leads and releases its locks (the session ends with them). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    for (const state of this.roles.values()) await this.release(state, 'released (closing)');
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await Promise.resolve(connection.done()).catch(() => undefined);
  }
}
