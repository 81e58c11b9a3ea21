import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { UnionLedger } from '../../composition-root';
import { loadConfig } from '../../config/config';
import { takeToken } from '../../api/common/rate-limit';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { activateMembers } from '../../../test/support/insurance';
import { testTimeout } from '../../../test/support/wait-for';

/**
 * Two service instances over the same stores (each a UnionLedger with its own member-state cache
 * and its own pool, as two processes would have): a decision never rests on a stale cache, because
 * every append carries the cached revision and a conflict re-reads the stream; and the rate limit
 * is one bucket in Redis whichever instance takes the token.
 */

let database: TestDatabase;
const ledgers: UnionLedger[] = [];
const keys = { masterKey: randomBytes(32), hmacKey: randomBytes(32) };

beforeAll(async () => {
  database = await createTestDatabase();
}, testTimeout());
afterAll(async () => {
  for (const ledger of ledgers) await ledger.close();
  await database?.drop();
});

it(
  'decides on the stream, not on another instance\'s stale cache: one check-in a day across two instances',
  async () => {
    const first = new UnionLedger({ config: loadConfig({}), db: database.db, piiKeys: keys, listen: false });
    const second = new UnionLedger({ config: loadConfig({}), db: database.db, piiKeys: keys, listen: false });
    ledgers.push(first, second);
    await activateMembers(first, 4);
    const memberIds = (await database.db.any<{ stream_id: string }>(`SELECT DISTINCT stream_id FROM ul_events WHERE stream_id LIKE 'member-%' ORDER BY 1`)).map((row) =>
      row.stream_id.slice('member-'.length),
    );
    for (const memberId of memberIds) {
      const actor = { type: 'member', id: memberId };
      // Both instances read the member into their caches (a command with nothing to do) before either checks in.
      await first.members.releaseDueHolds(memberId, { commandId: `warm-a:${memberId}`, actor });
      await second.members.releaseDueHolds(memberId, { commandId: `warm-b:${memberId}`, actor });
      // The first checks in; the second's cache is now one revision behind the stream.
      await first.members.execute(memberId, { type: 'CheckIn' }, { commandId: `a:${memberId}`, actor });
      await expect(second.members.execute(memberId, { type: 'CheckIn' }, { commandId: `b:${memberId}`, actor })).rejects.toMatchObject({ code: 'CHECKIN.ALREADY_TODAY' });
      // And both at once, with new command ids: neither checks in a second time.
      const attempts = await Promise.allSettled([
        first.members.execute(memberId, { type: 'CheckIn' }, { commandId: `again-a:${memberId}`, actor }),
        second.members.execute(memberId, { type: 'CheckIn' }, { commandId: `again-b:${memberId}`, actor }),
      ]);
      expect(attempts.map((attempt) => attempt.status)).toEqual(['rejected', 'rejected']);
    }
    const checkIns = await database.db.one<{ count: string }>(`SELECT count(*) FROM ul_events WHERE event_type = 'CheckedIn'`);
    expect(Number(checkIns.count)).toBe(memberIds.length);
  },
  testTimeout(2),
);

it('takes rate-limit tokens from one bucket in Redis whichever instance takes them', async () => {
  const a = new Redis(process.env.TEST_REDIS_URL!);
  const b = new Redis(process.env.TEST_REDIS_URL!);
  try {
    const key = `ul-test-rate-${randomBytes(4).toString('hex')}:ratelimit:someone`;
    const results = await Promise.all(Array.from({ length: 20 }, (_, index) => takeToken(index % 2 === 0 ? a : b, key, 1, 6)));
    // A burst of 6 at one token a second: 6 allowed in all, not 6 per instance.
    expect(results.filter((result) => result.allowed)).toHaveLength(6);
    await a.del(key);
  } finally {
    a.disconnect();
    b.disconnect();
  }
});
