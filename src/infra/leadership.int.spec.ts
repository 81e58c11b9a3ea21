import { connectDatabase, closeDatabase, type Database } from './database';
import { Leadership, LeadershipLostError, type Lease } from './leadership';
import { createTestDatabase, type TestDatabase } from '../../test/support/database';
import { testTimeout, waitFor } from '../../test/support/wait-for';
import { START } from '../eventstore/event-store';
import { CheckpointMovedError, loadCheckpoint, saveCheckpoint } from '../projections/runner';

/**
 * Leadership on a real PostgreSQL: two "processes" (each its own pool and Leadership, as two
 * processes would have) share out roles, exactly one runs each role, a dead holder's roles move to
 * the other within ticks, and a holder whose session is gone is fenced off.
 */

let database: TestDatabase;
const pools: Database[] = [];
const leaderships: Leadership[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
}, testTimeout());
afterAll(async () => {
  for (const leadership of leaderships) await leadership.close().catch(() => undefined);
  for (const pool of pools) await closeDatabase(pool);
  await database?.drop();
});

/** A process of its own: a pool with its own application name (so pg-promise does not share it), its leadership and its running tasks. */
function processOf(label: string, roles: string[]) {
  const db = connectDatabase({ url: database.url, poolMax: 3, applicationName: `ul-test-leader-${label}-${Math.random().toString(36).slice(2, 8)}` });
  pools.push(db);
  const running = new Set<string>();
  const leases = new Map<string, Lease>();
  const leadership = new Leadership(db, { group: 'test', tickMs: 100 });
  leaderships.push(leadership);
  for (const role of roles) {
    leadership.add(role, (lease) => {
      running.add(role);
      leases.set(role, lease);
      return {
        async stop() {
          running.delete(role);
        },
      };
    });
  }
  return { db, leadership, running, leases };
}

/**
 * Ends a "process"'s sessions as the server would end a killed one's. pg_terminate_backend only
 * signals the backend and returns at once; its locks go when it has exited, so without the
 * timeout argument (PostgreSQL 14+) the next statement can still see them held (one CI run did).
 */
async function terminateSessionsOf(label: string): Promise<void> {
  const rows = await database.db.any<{ ended: boolean }>(
    `SELECT pg_terminate_backend(pid, 10000) AS ended FROM pg_stat_activity WHERE application_name LIKE $1 AND pid <> pg_backend_pid()`,
    [`ul-test-leader-${label}-%`],
  );
  expect(rows.length).toBeGreaterThan(0);
  expect(rows.every((row) => row.ended)).toBe(true);
}

const ROLES = ['orgs', 'members#0/2', 'members#1/2', 'leaderboard#0/2', 'leaderboard#1/2', 'workers.relay'];

it(
  'runs every role in exactly one process, spreads them, and moves a dead holder\'s roles to the survivor',
  async () => {
    const a = processOf('a', ROLES);
    await waitFor(() => a.running.size === ROLES.length, { what: 'the first process to lead every role', seen: () => [...a.running].join(',') });
    const b = processOf('b', ROLES);
    // The second process joins: the first hands roles over one per tick until each has its share.
    await waitFor(() => a.running.size === 3 && b.running.size === 3, { what: 'the roles to spread 3 and 3', seen: () => `a=${[...a.running]} b=${[...b.running]}` });
    expect([...a.running].filter((role) => b.running.has(role))).toEqual([]);
    expect(new Set([...a.running, ...b.running]).size).toBe(ROLES.length);

    // A's sessions die as a killed process's would (the server ends them), and A never comes back:
    // its tasks stop at once, and B takes every role within ticks.
    const held = [...a.running];
    const staleLease = a.leases.get(held[0]!)!;
    await terminateSessionsOf('a');
    await a.leadership.close();
    expect(a.running.size).toBe(0);
    await waitFor(() => b.running.size === ROLES.length, { what: 'the survivor to lead every role', seen: () => `b=${[...b.running]}` });
    // The stale lease is fenced: its session's lock is gone.
    await expect(staleLease.fence(database.db)).rejects.toBeInstanceOf(LeadershipLostError);
    for (const role of ROLES) await expect(b.leases.get(role)!.fence(database.db)).resolves.toBeUndefined();

    // A new process joins and gets its share; never a role in both.
    const c = processOf('c', ROLES);
    await waitFor(() => c.running.size === 3 && b.running.size === 3, { what: 'C to join and the roles to spread again', seen: () => `b=${[...b.running]} c=${[...c.running]}` });
    expect([...c.running].filter((role) => b.running.has(role))).toEqual([]);
  },
  testTimeout(4),
);

it(
  "fences a checkpoint's compare-and-set in the same statement: a lease whose session is gone moves nothing, a held one does",
  async () => {
    const name = `fenced-${Math.random().toString(36).slice(2, 8)}`;
    const d = processOf('d', [name]);
    await waitFor(() => d.running.has(name), { what: 'process d to lead the role' });
    const lease = d.leases.get(name)!;
    // Held: the first save inserts, the next moves it on; a stale `from` is the checkpoint's own error.
    await database.db.tx((tx) => saveCheckpoint(tx, name, START, 5n, lease));
    await database.db.tx((tx) => saveCheckpoint(tx, name, 5n, 9n, lease));
    await expect(database.db.tx((tx) => saveCheckpoint(tx, name, 5n, 12n, lease))).rejects.toBeInstanceOf(CheckpointMovedError);
    expect(await loadCheckpoint(database.db, name)).toBe(9n);

    // The leader session dies; whether or not the tick has noticed yet, the save is refused as lost leadership.
    await terminateSessionsOf('d');
    await expect(database.db.tx((tx) => saveCheckpoint(tx, name, 9n, 20n, lease))).rejects.toBeInstanceOf(LeadershipLostError);
    expect(await loadCheckpoint(database.db, name)).toBe(9n);
  },
  testTimeout(2),
);
