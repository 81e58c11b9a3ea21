import { randomUUID } from 'node:crypto';
import { runCliOn } from '../../../test/support/cli';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { waitForFeedEnd } from '../../../test/support/feed';
import { testTimeout } from '../../../test/support/wait-for';
import { createEventStore } from '../../composition-root';
import { loadConfig } from '../../config/config';
import { pointsPosting, POSTINGS_SCHEMA_VERSION } from '../../domain/shared';
import type { EventStore, JsonObject } from '../../eventstore/event-store';
import { catchUpProjection } from '../../projections';
import { ledgerProjection } from '../../projections/ledger';
import { RuleBook } from '../earning';
import { MemberService } from '../members';

jest.setTimeout(testTimeout(3));

/**
 * `audit grants` against grants the real decider made (activation, check-ins on three days, a
 * quiz, articles up to the daily points cap), and the owner-forged append of the issue: a
 * well-chained PointsGranted of 5,000 points added with the owner's rights through ul_append,
 * which no chain, seal or journal check can see.
 */

let database: TestDatabase;
let store: EventStore;
let nowMs = Date.parse('2026-11-23T09:00:00+08:00');
const meta = () => ({ commandId: randomUUID(), actor: { type: 'member', id: 'test' } });

beforeAll(async () => {
  database = await createTestDatabase();
  store = createEventStore(loadConfig({}), database.db, { listen: false });
  const members = new MemberService(store, new RuleBook(store), { clock: () => new Date(nowMs) });
  await members.execute('m1', { type: 'EnrolMember', memberId: 'm1', orgId: 'u-1', name: 'Li', idHmac: 'hmac-m1', piiCipher: 'x' }, meta());
  await members.execute('m1', { type: 'ActivateMember', name: 'Li' }, meta());
  for (let day = 0; day < 3; day += 1) {
    await members.execute('m1', { type: 'CheckIn' }, meta());
    nowMs += 24 * 3_600_000;
  }
  await members.execute('m1', { type: 'AnswerQuiz', quizId: 'q1', answer: 'a', correctAnswer: 'a' }, meta());
  for (let article = 0; article < 12; article += 1) await members.execute('m1', { type: 'ReadArticle', articleId: `a${article}` }, meta());
});

afterAll(async () => {
  await store.close();
  await database.drop();
});

describe('union-ledger audit grants', () => {
  it("recomputes the decider's grants, caps included, and finds them all equal", async () => {
    const { code, stdout } = await runCliOn(database, 'audit', 'grants');
    expect(stdout).toMatch(/^OK: (1[5-9]|2\d) points grants recomputed from their pinned rule versions, all equal/);
    expect(code).toBe(0);
  });

  it('names an owner-forged grant of 5,000 points, which verify passes', async () => {
    const [last] = await store.readStream('member-m1', { direction: 'backwards', maxCount: 1 });
    const honest = (await store.readStream('member-m1')).find((event) => event.type === 'PointsGranted' && event.data['ruleId'] === 'checkin')!;
    // The owner appends through ul_append itself: a valid chain, balanced postings.
    await store.appendToStream(
      'member-m1',
      [
        {
          eventId: randomUUID(),
          type: 'PointsGranted',
          schemaVersion: POSTINGS_SCHEMA_VERSION,
          data: { ...honest.data, grantId: 'm1:checkin:2026-11-30', points: 5000, postings: [pointsPosting('issuer:checkin', 'member:m1:available', 5000)] } as unknown as JsonObject,
          metadata: honest.metadata,
        },
      ],
      { expectedRevision: last!.revision },
    );
    await waitForFeedEnd(database.db);
    await catchUpProjection(store, database.db, ledgerProjection());
    expect(await runCliOn(database, 'verify')).toMatchObject({ code: 0, stdout: expect.stringContaining('every event folded') });

    const { code, stdout } = await runCliOn(database, 'audit', 'grants');
    expect(code).toBe(1);
    expect(stdout).toContain('DIFFERS: grant m1:checkin:2026-11-30 (member-m1 revision');
    expect(stdout).toContain('points recorded 5000, recomputed 5'); // the check-in rule of that version gives 5
  });
});
