import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { testTimeout } from '../../../test/support/wait-for';
import { SessionRevocations } from './revocations';
import { REFRESH_RETRY_GRACE_SECONDS, SessionService } from './sessions';
import { signingKey, TokenService } from './tokens';

/**
 * Refresh-token rotation on a real PostgreSQL, with the clock in the test's hands: a retried
 * refresh (its answer lost) gets the same successor within the grace window, two refreshes at
 * once get one successor, and a spent token is a replay once its successor was used or the grace
 * window is over: the family ends. Ended sessions reach another process's revocation list at its
 * next sync, and leave it once their access tokens have run out.
 */

let database: TestDatabase;
let sessions: SessionService;
let nowMs = Date.parse('2026-12-01T02:00:00Z');
const subject = { sub: 'member-refresh', role: 'member' as const, org: 'union-1' };
const currentOrg = async (): Promise<string> => 'union-1';

beforeAll(async () => {
  database = await createTestDatabase();
  sessions = new SessionService(database.db, new TokenService([signingKey('sessions-int-spec-secret-sessions-int-spec-secret')]), () => new Date(nowMs));
}, testTimeout());
afterAll(async () => {
  await database?.drop();
});

async function codeOf(attempt: Promise<unknown>): Promise<string> {
  try {
    await attempt;
  } catch (error) {
    return (error as { code: string }).code;
  }
  throw new Error('expected the refresh to be refused');
}

it('answers a retried refresh with the same successor within the grace window, while the successor is unused', async () => {
  const opened = await sessions.open(subject, 'phone');
  const first = await sessions.refresh(opened.refreshToken!, currentOrg);
  nowMs += (REFRESH_RETRY_GRACE_SECONDS - 1) * 1000;
  const retried = await sessions.refresh(opened.refreshToken!, currentOrg);
  expect(retried).toMatchObject({ refreshToken: first.refreshToken, sessionId: opened.sessionId, subject: subject.sub });
  // The successor works as usual, and then the first token is a replay: the family ends.
  const second = await sessions.refresh(first.refreshToken!, currentOrg);
  expect(await codeOf(sessions.refresh(opened.refreshToken!, currentOrg))).toBe('SESSION.REFRESH_REUSED');
  expect(await codeOf(sessions.refresh(second.refreshToken!, currentOrg))).toBe('SESSION.REVOKED');
});

it('treats a spent token presented after the grace window as a replay, even with its successor unused', async () => {
  const opened = await sessions.open(subject, 'phone');
  const first = await sessions.refresh(opened.refreshToken!, currentOrg);
  nowMs += REFRESH_RETRY_GRACE_SECONDS * 1000 + 1;
  expect(await codeOf(sessions.refresh(opened.refreshToken!, currentOrg))).toBe('SESSION.REFRESH_REUSED');
  expect(await codeOf(sessions.refresh(first.refreshToken!, currentOrg))).toBe('SESSION.REVOKED');
});

it('gives two refreshes of one token at once the same successor, and keeps one live token in the family', async () => {
  const opened = await sessions.open(subject, 'tablet');
  const answers = await Promise.all(Array.from({ length: 4 }, () => sessions.refresh(opened.refreshToken!, currentOrg)));
  expect(new Set(answers.map((answer) => answer.refreshToken)).size).toBe(1);
  const live = await database.db.one<{ count: number }>('SELECT count(*)::int AS count FROM ul_sessions WHERE family_id = $1 AND spent_at IS NULL AND revoked_at IS NULL', [
    opened.sessionId,
  ]);
  expect(live.count).toBe(1);
});

it('stores no refresh token in plaintext, the sealed successor included', async () => {
  const opened = await sessions.open(subject, 'laptop');
  const first = await sessions.refresh(opened.refreshToken!, currentOrg);
  const rows = await database.db.any<{ text: string }>('SELECT t::text AS text FROM ul_sessions t WHERE family_id = $1', [opened.sessionId]);
  for (const { text } of rows) {
    for (const token of [opened.refreshToken!, first.refreshToken!]) {
      expect(text).not.toContain(token);
      expect(text).not.toContain(Buffer.from(token, 'base64url').toString('hex'));
    }
  }
});

it('tells every process about an ended session at its next sync, and forgets it once its access tokens have run out', async () => {
  const here = new SessionRevocations(database.db, () => new Date(nowMs));
  const elsewhere = new SessionRevocations(database.db, () => new Date(nowMs));
  const local = new SessionService(database.db, new TokenService([signingKey('sessions-int-spec-secret-sessions-int-spec-secret')]), () => new Date(nowMs), here);
  const [a, b, c] = [await local.open(subject, 'a'), await local.open(subject, 'b'), await local.open({ ...subject, sub: 'another' }, 'c')];
  await elsewhere.sync();
  expect(await local.revokeFamily(a.sessionId, subject.sub)).toBe(true);
  // Ended here at once; elsewhere at its next read.
  expect(here.isEnded(a.sessionId)).toBe(true);
  expect(elsewhere.isEnded(a.sessionId)).toBe(false);
  await elsewhere.sync();
  expect([a, b, c].map((session) => elsewhere.isEnded(session.sessionId))).toEqual([true, false, false]);
  // Every device of a subject; a replayed refresh token ends its family too.
  expect(await local.revokeSubject(subject.sub)).toBeGreaterThanOrEqual(1);
  const first = await local.refresh(c.refreshToken!, currentOrg);
  await local.refresh(first.refreshToken!, currentOrg);
  await expect(local.refresh(c.refreshToken!, currentOrg)).rejects.toMatchObject({ code: 'SESSION.REFRESH_REUSED' });
  expect(here.isEnded(c.sessionId)).toBe(true);
  await elsewhere.sync();
  expect([a, b, c].map((session) => elsewhere.isEnded(session.sessionId))).toEqual([true, true, true]);
  expect(elsewhere.isEnded(undefined)).toBe(false);
  // 16 minutes later no access token of theirs is alive: the list forgets them.
  nowMs += 16 * 60 * 1000 + 1;
  await elsewhere.sync();
  expect([a, b, c].map((session) => elsewhere.isEnded(session.sessionId))).toEqual([false, false, false]);
});

it('keeps a sealed successor only on the newest spent token, and only within the retry window', async () => {
  const sealedOf = async (sessionId: string) =>
    (await database.db.any<{ sealed: boolean }>('SELECT successor_sealed IS NOT NULL AS sealed FROM ul_sessions WHERE family_id = $1 ORDER BY created_at, spent_at NULLS LAST', [sessionId])).map(
      (row) => row.sealed,
    );
  const opened = await sessions.open(subject, 'watch');
  const second = await sessions.refresh(opened.refreshToken!, currentOrg);
  nowMs += 1000;
  await sessions.refresh(second.refreshToken!, currentOrg);
  // The first token's successor was used: its sealed copy is gone, so it opens nothing, even with the database in hand.
  expect(await sealedOf(opened.sessionId)).toEqual([false, true, false]);
  // Within the window the housekeeping leaves it; after, it erases it.
  await sessions.forgetSpentSuccessors();
  expect(await sealedOf(opened.sessionId)).toEqual([false, true, false]);
  nowMs += REFRESH_RETRY_GRACE_SECONDS * 1000 + 1;
  expect(await sessions.forgetSpentSuccessors()).toBeGreaterThanOrEqual(1);
  expect(await sealedOf(opened.sessionId)).toEqual([false, false, false]);
  expect(await codeOf(sessions.refresh(second.refreshToken!, currentOrg))).toBe('SESSION.REFRESH_REUSED');
});

it('purges the rows whose refresh token has expired, and nothing a live session needs', async () => {
  const stale = await sessions.open({ ...subject, sub: 'purged' }, 'old phone');
  const staleNext = await sessions.refresh(stale.refreshToken!, currentOrg);
  nowMs += 20 * 24 * 3600 * 1000;
  const live = await sessions.open({ ...subject, sub: 'purged' }, 'new phone');
  nowMs += 11 * 24 * 3600 * 1000; // The old phone's tokens expired a day ago; the new phone's have 19 days left.
  expect(await sessions.purgeExpired()).toBeGreaterThanOrEqual(2);
  const left = await database.db.any<{ family_id: string }>("SELECT family_id FROM ul_sessions WHERE subject = 'purged'");
  expect(left.map((row) => row.family_id)).toEqual([live.sessionId]);
  expect(await codeOf(sessions.refresh(staleNext.refreshToken!, currentOrg))).toBe('SESSION.REFRESH_INVALID');
  expect((await sessions.refresh(live.refreshToken!, currentOrg)).sessionId).toBe(live.sessionId);
});
