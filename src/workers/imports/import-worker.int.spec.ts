import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { RosterImports } from '../../application/imports';
import { UnionLedger } from '../../composition-root';
import { loadConfig } from '../../config/config';
import type { EventStore, StreamAppend } from '../../eventstore/event-store';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { testNationalId } from '../../../test/support/ledger-app';
import { testTimeout, waitFor } from '../../../test/support/wait-for';
import { QueueSet } from '../queue-set';
import { startWorkerService, type WorkerService } from '../worker-service';
import { importsWorker } from './import-worker';

/**
 * The imports worker through real BullMQ and Redis: a worker closed in the middle of an import
 * ends it at a chunk boundary and hands the job back (delayed, no attempt spent); the next worker
 * continues at the next chunk, and every row ends enrolled once.
 */

const ROWS = 2_000;

let database: TestDatabase;
let redis: Redis;
let ledger: UnionLedger;
let queues: QueueSet;
const running: WorkerService[] = [];
const prefix = `ul-test-imp-${randomBytes(4).toString('hex')}:`;
const log = { log: () => undefined, warn: () => undefined, error: (line: string) => process.stderr.write(`${line}\n`) };

beforeAll(async () => {
  database = await createTestDatabase();
  redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
  ledger = new UnionLedger({ config: loadConfig({ REDIS_KEY_PREFIX: prefix }), db: database.db, piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) }, listen: false });
  queues = new QueueSet(redis, prefix);
  const system = { type: 'system', id: 'test' };
  await ledger.orgs.registerOrganisation({ orgId: 'nj', name: 'nj', parentId: null, level: 'province' }, { commandId: 'o-nj', actor: system });
  await ledger.orgs.registerOrganisation({ orgId: 'nj-u1', name: 'nj-u1', parentId: 'nj', level: 'grassroots' }, { commandId: 'o-nj-u1', actor: system });
});
afterAll(async () => {
  for (const service of running) await service.close();
  await queues?.close();
  await ledger?.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis?.quit();
  await database?.drop();
});

/** The worker service over `imports` alone (the relay included), as a worker process runs it. */
async function startImportsWorker(imports: RosterImports): Promise<WorkerService> {
  const service = await startWorkerService({
    ledger,
    db: database.db,
    redis,
    redisKeyPrefix: prefix,
    queues,
    settings: { concurrency: undefined, lockMs: 10_000 },
    log,
    schedules: false,
    registry: { imports: importsWorker({ ledger: { rosterImports: imports } as unknown as UnionLedger }) },
  });
  running.push(service);
  return service;
}

it(
  'closes mid-import at a chunk boundary, hands the job back without spending an attempt, and the next worker finishes it once',
  async () => {
    const lines = ['name,national_id,phone,org_id'];
    for (let n = 0; n < ROWS; n += 1) lines.push(`会员${n},${testNationalId(n)},139${String(30_000_000 + n).padStart(8, '0')},nj-u1`);
    const { importId } = await ledger.rosterImports.request({ sub: 'admin-nj', role: 'admin', org: 'nj' }, Buffer.from(lines.join('\n')));

    // The first worker's commits wait at a gate after the first one, so the close lands mid-import whatever the machine's speed.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let firstCommitted!: () => void;
    const committed = new Promise<void>((resolve) => (firstCommitted = resolve));
    let commits = 0;
    const gated = new Proxy(ledger.store, {
      get(target, property, receiver) {
        if (property === 'appendToStreams') {
          return async (appends: readonly StreamAppend[]) => {
            const result = await target.appendToStreams(appends);
            commits += 1;
            if (commits === 1) {
              firstCommitted();
              await gate;
            }
            return result;
          };
        }
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }) as EventStore;
    const first = await startImportsWorker(new RosterImports({ store: gated, db: database.db, vault: () => ledger.vault, members: ledger.members, orgs: ledger.orgs, orgAccess: ledger.orgAccess }));
    await committed;
    const closing = first.close();
    release();
    await closing;
    running.splice(running.indexOf(first), 1);

    const stopped = await ledger.rosterImports.load(importId);
    expect(stopped.status).toBe('requested');
    expect(stopped.chunksDone).toBeGreaterThanOrEqual(1);
    expect(stopped.chunksDone).toBeLessThan(ROWS / 500);
    const jobs = await queues.get('imports').getJobs(['delayed', 'waiting', 'wait'], 0, 10);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.attemptsMade).toBe(0);

    await startImportsWorker(new RosterImports({ store: ledger.store, db: database.db, vault: () => ledger.vault, members: ledger.members, orgs: ledger.orgs, orgAccess: ledger.orgAccess }));
    await waitFor(async () => (await ledger.rosterImports.load(importId)).status === 'completed', { what: `import ${importId} to complete`, intervalMs: 200 });
    const done = await ledger.rosterImports.load(importId);
    expect(done.totals).toEqual({ rows: ROWS, applied: ROWS, unchanged: 0, rejected: 0 });
    const enrolled = await database.db.one<{ events: number; streams: number }>(
      `SELECT count(*)::int AS events, count(DISTINCT stream_id)::int AS streams FROM ul_events WHERE event_type = 'MemberEnrolled'`,
    );
    expect(enrolled).toEqual({ events: ROWS, streams: ROWS });
    expect(await database.db.one<{ n: number }>('SELECT count(*)::int AS n FROM ul_import_files', [], (row) => row.n)).toBe(0);
  },
  testTimeout(2),
);
