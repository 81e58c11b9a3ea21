import { randomUUID } from 'node:crypto';
import type { RecordedEvent } from '../../eventstore/event-store';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { testTimeout } from '../../../test/support/wait-for';
import { membersProjection } from './members-projection';
import { MemberNames } from './queries';

/**
 * The leaderboards' name cache on real PostgreSQL: names come from ul_members as the members
 * projection wrote them, a cached name is served without the table (here shown by emptying the
 * table, as a rebuild does for a moment), members not projected yet are not cached, and the
 * cache keeps at most its bound, dropping the least recently used name.
 */

jest.setTimeout(testTimeout(2));

let database: TestDatabase;
let position = 0n;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

/** Projects MemberEnrolled for each (member, name) through the members projection. */
async function enrol(...members: Array<[string, string]>): Promise<void> {
  const events = members.map(([memberId, name]): RecordedEvent => {
    position += 1n;
    return {
      eventId: randomUUID(),
      streamId: `member-${memberId}`,
      revision: 0n,
      type: 'MemberEnrolled',
      schemaVersion: 1,
      data: { memberId, orgId: 'u-1', name, idHmac: 'hmac', piiCipher: 'cipher' },
      metadata: { occurredAt: '2026-11-30T08:00:00.000Z' },
      recordedAt: new Date(),
      globalPosition: position,
    };
  });
  await database.db.tx((tx) => membersProjection().apply(tx, events));
}

it('serves a projected name from the cache, and looks up members not projected yet again', async () => {
  const names = new MemberNames();
  await enrol(['a', 'Ann'], ['b', 'Bo']);
  expect(await names.of(database.db, ['a', 'b', 'c'])).toEqual(new Map([['a', 'Ann'], ['b', 'Bo']]));

  // A rebuild empties the table and writes the same names again: the cached ones still answer.
  await database.db.none('TRUNCATE ul_members');
  expect(await names.of(database.db, ['a', 'b'])).toEqual(new Map([['a', 'Ann'], ['b', 'Bo']]));

  // 'c' was missing, so it was not cached: once projected, its name shows.
  await enrol(['c', 'Cy']);
  expect(await names.of(database.db, ['c', 'a'])).toEqual(new Map([['c', 'Cy'], ['a', 'Ann']]));
});

it('keeps at most its bound, dropping the least recently used name', async () => {
  const names = new MemberNames(2);
  await enrol(['d', 'Di'], ['e', 'Ed'], ['f', 'Fay']);
  await names.of(database.db, ['d', 'e']);
  await names.of(database.db, ['d']); // 'e' is now the least recently used
  await names.of(database.db, ['f']); // and goes
  await database.db.none("DELETE FROM ul_members WHERE member_id IN ('d', 'e', 'f')");
  expect(await names.of(database.db, ['d', 'e', 'f'])).toEqual(new Map([['d', 'Di'], ['f', 'Fay']]));
  expect(() => new MemberNames(0)).toThrow('invariant violated');
});
