import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { readModels, UnionLedger } from '../composition-root';
import { loadConfig } from '../config/config';
import { checkLayout, dumpTables, listCheckpoints } from '.';
import { catchUpLeaderboards, LEADERBOARD_PERIODS } from './earning';
import { createTestDatabase, type TestDatabase } from '../../test/support/database';
import { activateMembers } from '../../test/support/insurance';
import { testTimeout, waitFor } from '../../test/support/wait-for';

/**
 * Partitioned projections on real PostgreSQL and Redis: the same log projected as one partition
 * and as four gives the same read-model tables and the same leaderboards (top N merged across the
 * partitions' boards, ranks summed), catch-up and rebuild run the partitions in parallel, a
 * process refuses to run a projection under another layout than its stored checkpoints', and two
 * live "processes" with four partitions each split the roles and reach the same result.
 */

const MEMBERS = 60;
let database: TestDatabase;
let redis: Redis;
const ledgers: UnionLedger[] = [];
const run = randomBytes(4).toString('hex');
const keys = { masterKey: randomBytes(32), hmacKey: randomBytes(32) };

function ledgerWith(partitions: number, prefix: string): UnionLedger {
  const config = loadConfig({ PROJECTION_PARTITIONS: String(partitions), LEADERSHIP_TICK_MS: '100', REDIS_KEY_PREFIX: prefix });
  const ledger = new UnionLedger({ config, db: database.db, piiKeys: keys, redis, listen: true });
  ledgers.push(ledger);
  return ledger;
}

const partitionedTables = readModels()
  .filter((projection) => projection.partitionable)
  .flatMap((projection) => projection.tables);

beforeAll(async () => {
  database = await createTestDatabase();
  redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
}, testTimeout());
afterAll(async () => {
  for (const ledger of ledgers) await ledger.close();
  const stale = await redis?.keys(`ul-test-part-${run}*`);
  if (stale && stale.length > 0) await Promise.all(stale.map((key) => redis.del(key)));
  await redis?.quit();
  await database?.drop();
});

it(
  'gives the same read models and leaderboards with 1 and 4 partitions, offline and live across two processes',
  async () => {
    const one = ledgerWith(1, `ul-test-part-${run}-one:`);
    await activateMembers(one, MEMBERS);
    // Check-ins for a third of the members: scores differ, and ties remain across partitions.
    const memberIds = (await database.db.any<{ stream_id: string }>(`SELECT DISTINCT stream_id FROM ul_events WHERE stream_id LIKE 'member-%' ORDER BY 1`)).map((row) =>
      row.stream_id.slice('member-'.length),
    );
    expect(memberIds).toHaveLength(MEMBERS);
    for (const memberId of memberIds.filter((_, index) => index % 3 === 0)) {
      await one.members.execute(memberId, { type: 'CheckIn' }, { commandId: `checkin:${memberId}`, actor: { type: 'member', id: memberId } });
    }

    await one.rebuildReadModels();
    const expected = await dumpTables(database.db, partitionedTables);
    await catchUpLeaderboards(one.store, database.db, one.leaderboards);
    const expectedBoards = await one.leaderboards.dump();
    expect(expectedBoards.split('\n').length).toBeGreaterThan(MEMBERS);

    // Four partitions, rebuilt in parallel: the same rows, and a checkpoint per partition.
    const four = ledgerWith(4, `ul-test-part-${run}-four:`);
    await four.rebuildReadModels();
    expect(await dumpTables(database.db, partitionedTables)).toEqual(expected);
    const checkpoints = Object.keys(await listCheckpoints(database.db));
    expect(checkpoints).toEqual(expect.arrayContaining(['members#0/4', 'members#1/4', 'members#2/4', 'members#3/4', 'orgs', 'ledger']));
    expect(checkpoints).not.toContain('members');
    await expect(checkLayout(database.db, 'members', 2)).rejects.toThrow(/union-ledger rebuild/);

    await catchUpLeaderboards(four.store, database.db, four.leaderboards);
    expect(await four.leaderboards.dump()).toEqual(expectedBoards);
    for (const period of LEADERBOARD_PERIODS.filter((candidate) => candidate === 'all')) {
      for (const orgId of ['p-ins', 'u-ins']) {
        expect(await four.leaderboards.top(orgId, period, '', 100)).toEqual(await one.leaderboards.top(orgId, period, '', 100));
        expect(await four.leaderboards.top(orgId, period, '', 7)).toEqual(await one.leaderboards.top(orgId, period, '', 7));
        for (const memberId of memberIds) {
          expect(await four.leaderboards.rankOf(orgId, period, '', memberId)).toEqual(await one.leaderboards.rankOf(orgId, period, '', memberId));
        }
      }
    }

    // Live: two processes with four partitions each, from an empty layout; they split the roles,
    // each role in one of them, and reach the same boards.
    const liveA = ledgerWith(4, `ul-test-part-${run}-live:`);
    const liveB = ledgerWith(4, `ul-test-part-${run}-live:`);
    const errors: string[] = [];
    liveA.startProjections((projection, error) => errors.push(`${projection}: ${(error as Error).message}`));
    liveB.startProjections((projection, error) => errors.push(`${projection}: ${(error as Error).message}`));
    await waitFor(async () => (await liveA.leaderboards.dump()) === expectedBoards, { what: 'the live partitioned leaderboards to match', seen: () => errors.join('; ') });
    await waitFor(
      () => {
        const a = liveA.ledProjections();
        const b = liveB.ledProjections();
        return a.length > 0 && b.length > 0 && a.every((role) => !b.includes(role)) && a.length + b.length === readModels().length + 3 * 3 + 4;
      },
      { what: 'both processes to lead a disjoint share of the roles', seen: () => `A=${liveA.ledProjections().join(',')} B=${liveB.ledProjections().join(',')}` },
    );
    expect(errors).toEqual([]);
  },
  testTimeout(4),
);
