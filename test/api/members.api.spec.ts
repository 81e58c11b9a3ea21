import { readModels } from '../../src/composition-root';
import { dumpTables } from '../../src/projections';
import { catchUpLeaderboards, rebuildLeaderboards } from '../../src/projections/earning';
import { checkTrialBalance, LEDGER_PROJECTION } from '../../src/projections/ledger';
import { waitForFeedEnd } from '../support/feed';
import { activateThroughWeChat, startLedgerApp, testNationalId, type Answer, type LedgerApp } from '../support/ledger-app';
import { testTimeout } from '../support/wait-for';

/**
 * The member API over HTTP on real PostgreSQL and Redis: activation, earning, spending,
 * statements, leaderboards, and the concurrency guarantees (one check-in per day, never negative).
 */

let app: LedgerApp;
let keyCounter = 0;
const key = (): string => `k-${(keyCounter += 1)}`;
const system = { type: 'system', id: 'test-setup' };

async function registerTree(): Promise<void> {
  const orgs: Array<[string, string | null, 'province' | 'city' | 'county' | 'grassroots']> = [
    ['js', null, 'province'],
    ['js-nj', 'js', 'city'],
    ['js-nj-gl', 'js-nj', 'county'],
    ['u-a', 'js-nj-gl', 'grassroots'],
    ['u-b', 'js-nj-gl', 'grassroots'],
    ['zj', null, 'province'],
    ['zj-u', 'zj', 'grassroots'],
  ];
  for (const [orgId, parentId, level] of orgs) {
    await app.ledger.orgs.registerOrganisation({ orgId, name: `Union ${orgId}`, parentId, level }, { commandId: `org:${orgId}`, actor: system });
  }
}

async function enrol(serial: number, name: string, orgId: string): Promise<{ nationalId: string; memberId: string }> {
  const nationalId = testNationalId(serial);
  const idHmac = app.ledger.vault.idHmac(nationalId);
  const memberId = app.ledger.vault.memberIdFor(idHmac);
  const piiCipher = await app.ledger.vault.seal(memberId, { idNumber: nationalId, phone: phoneOf(serial) });
  await app.ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId, name, idHmac, piiCipher }, { commandId: `enrol:${idHmac}`, actor: system });
  return { nationalId, memberId };
}

const phoneOf = (serial: number): string => `1380000${String(serial).padStart(4, '0')}`;

/** Activates through WeChat and SMS (test/support/ledger-app.ts) and returns the member's access token. */
async function activate(nationalId: string, name: string): Promise<string> {
  const serial = [...Array(1000).keys()].find((candidate) => testNationalId(candidate) === nationalId)!;
  return (await activateThroughWeChat(app, { user: `wx-${serial}`, nationalId, name, phone: phoneOf(serial) })).accessToken;
}

/**
 * Catch-ups read the feed, which a transaction open anywhere in the PostgreSQL cluster holds back
 * for as long as it stays open. Waiting here first, up to the test's deadline, makes them read to
 * the end of the log (their own built-in wait is shorter than a test's deadline).
 */
/** Every PostgreSQL read model, once the feed shows every event committed so far (a transaction elsewhere may hide them a while). */
async function catchUpLedger(): Promise<void> {
  await waitForFeedEnd(app.ledger.db);
  await app.ledger.catchUpReadModels();
}

async function catchUpLedgerAndLeaderboards(): Promise<void> {
  await catchUpLedger();
  await catchUpLeaderboards(app.ledger.store, app.ledger.db, app.ledger.leaderboards);
}

function expectError(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status, code });
}

beforeAll(async () => {
  app = await startLedgerApp();
  await registerTree();
  await catchUpLedger();
}, testTimeout());
afterAll(async () => {
  await app?.close();
});

describe('activation', () => {
  it('grants the reward and requests the insurance once (the flow itself: test/api/identity.api.spec.ts)', async () => {
    const { nationalId, memberId } = await enrol(1, '张三', 'u-a');
    await activate(nationalId, '张三');
    const events = await app.ledger.store.readStream(`member-${memberId}`);
    expect(events.map((event) => event.type)).toEqual(['MemberEnrolled', 'MemberActivated', 'LoginBound', 'PointsGranted', 'InsuranceGrantRequested']);
    expect(events.filter((event) => event.type === 'PointsGranted').map((event) => event.data.points)).toEqual([100]);
  });
});

describe('idempotency of earning actions, answered by the event store (issue 12)', () => {
  let token: string;
  let memberId: string;
  beforeAll(async () => {
    const enrolled = await enrol(77, '钱七', 'u-a');
    memberId = enrolled.memberId;
    token = await activate(enrolled.nationalId, '钱七');
  });
  const rows = async (): Promise<number> =>
    Number((await app.ledger.db.one<{ count: string }>('SELECT count(*) AS count FROM ul_idempotency WHERE actor = $1', [memberId])).count);
  const stream = async (): Promise<string[]> => (await app.ledger.store.readStream(`member-${memberId}`)).map((event) => event.type);

  it('writes no idempotency row for an accepted check-in, and answers its retry with the same events, appended once', async () => {
    const before = await rows();
    const first = await app.call('POST', '/v1/me/check-ins', { token, key: 'es-checkin' });
    expect(first.status).toBe(201);
    expect(await rows()).toBe(before);
    const again = await app.call('POST', '/v1/me/check-ins', { token, key: 'es-checkin' });
    expect(again.status).toBe(201);
    expect(again.body.events).toEqual(first.body.events);
    expect((await stream()).filter((type) => type === 'CheckedIn')).toHaveLength(1);
  });

  it('refuses the same key with another body (IDEMPOTENCY.KEY_REUSED), and writes nothing for it', async () => {
    const first = await app.call('POST', '/v1/me/article-reads', { token, key: 'es-article', body: { articleId: 'es-a-1' } });
    expect(first.status).toBe(201);
    const before = await stream();
    const reused = await app.call('POST', '/v1/me/article-reads', { token, key: 'es-article', body: { articleId: 'es-a-2' } });
    expectError(reused, 409, 'IDEMPOTENCY.KEY_REUSED');
    expect(await stream()).toEqual(before);
    const retried = await app.call('POST', '/v1/me/article-reads', { token, key: 'es-article', body: { articleId: 'es-a-1' } });
    expect(retried.status).toBe(201);
    expect(retried.body.events).toEqual(first.body.events);
  });

  it('stores a refusal (no event exists for it) and answers its retry with it, flagged as a replay', async () => {
    const before = await rows();
    const refused = await app.call('POST', '/v1/me/check-ins', { token, key: 'es-checkin-twice' });
    expectError(refused, 409, 'CHECKIN.ALREADY_TODAY');
    expect(await rows()).toBe(before + 1);
    const again = await app.call('POST', '/v1/me/check-ins', { token, key: 'es-checkin-twice' });
    expect(again.status).toBe(409);
    expect(again.body).toEqual(refused.body);
    expect(again.headers.get('idempotent-replay')).toBe('true');
    expectError(await app.call('POST', '/v1/me/article-reads', { token, key: 'es-checkin-twice', body: { articleId: 'es-a-3' } }), 409, 'IDEMPOTENCY.KEY_REUSED');
  });

  it('answers evaluations, activities and comments from the stream too: no row, one effect, another body refused', async () => {
    const cases: Array<{ path: string; body: Record<string, unknown>; other: Record<string, unknown>; event: string }> = [
      { path: '/v1/me/evaluations', body: { campaignId: 'es-eval', overall: 4 }, other: { campaignId: 'es-eval', overall: 5 }, event: 'EvaluationSubmitted' },
      { path: '/v1/me/activities', body: { activityId: 'es-act' }, other: { activityId: 'es-act-2' }, event: 'ActivityParticipated' },
      { path: '/v1/me/comments', body: { targetId: 'es-post', text: '好' }, other: { targetId: 'es-post', text: '很好' }, event: 'CommentPosted' },
    ];
    for (const { path, body, other, event } of cases) {
      const before = await rows();
      const first = await app.call('POST', path, { token, key: `es${path.replace(/\//g, '-')}`, body });
      expect({ path, status: first.status }).toEqual({ path, status: 201 });
      expect(await rows()).toBe(before);
      const again = await app.call('POST', path, { token, key: `es${path.replace(/\//g, '-')}`, body });
      expect(again.status).toBe(201);
      expect(again.body.events).toEqual(first.body.events);
      expectError(await app.call('POST', path, { token, key: `es${path.replace(/\//g, '-')}`, body: other }), 409, 'IDEMPOTENCY.KEY_REUSED');
      expect((await stream()).filter((type) => type === event)).toHaveLength(1);
    }
  });

  it('spends, holds and settles once per key without a row; a retry answers the original events and spends nothing more', async () => {
    const balance = async (): Promise<unknown> => (await app.call('GET', '/v1/me/balance', { token })).body;
    const before = await rows();
    const spent = await app.call('POST', '/v1/me/spends', { token, key: 'es-spend', body: { points: 3, purpose: 'mall' } });
    expect(spent.status).toBe(201);
    const afterSpend = await balance();
    const spentAgain = await app.call('POST', '/v1/me/spends', { token, key: 'es-spend', body: { points: 3, purpose: 'mall' } });
    expect(spentAgain.body.events).toEqual(spent.body.events);
    expect(await balance()).toEqual(afterSpend);
    expectError(await app.call('POST', '/v1/me/spends', { token, key: 'es-spend', body: { points: 4, purpose: 'mall' } }), 409, 'IDEMPOTENCY.KEY_REUSED');
    // The same key on another route is another request too.
    expectError(await app.call('POST', '/v1/me/holds', { token, key: 'es-spend', body: { points: 3, purpose: 'mall', expiresInSeconds: 600 } }), 409, 'IDEMPOTENCY.KEY_REUSED');

    const held = await app.call('POST', '/v1/me/holds', { token, key: 'es-hold', body: { points: 2, purpose: 'mall', expiresInSeconds: 600 } });
    expect(held.status).toBe(201);
    const heldAgain = await app.call('POST', '/v1/me/holds', { token, key: 'es-hold', body: { points: 2, purpose: 'mall', expiresInSeconds: 600 } });
    expect({ status: heldAgain.status, holdId: heldAgain.body.holdId, events: heldAgain.body.events }).toEqual({ status: 201, holdId: 'es-hold', events: held.body.events });
    const posted = await app.call('POST', '/v1/me/holds/es-hold/post', { token, key: 'es-post-hold' });
    expect(posted.status).toBe(200);
    const postedAgain = await app.call('POST', '/v1/me/holds/es-hold/post', { token, key: 'es-post-hold' });
    expect({ status: postedAgain.status, events: postedAgain.body.events }).toEqual({ status: 200, events: posted.body.events });
    expect(await rows()).toBe(before);
    // A refusal still gets its row, and its retry the same refusal.
    const refused = await app.call('POST', '/v1/me/holds/es-hold/void', { token, key: 'es-void-hold' });
    expectError(refused, 409, 'HOLD.ALREADY_POSTED');
    expect(await rows()).toBe(before + 1);
    const refusedAgain = await app.call('POST', '/v1/me/holds/es-hold/void', { token, key: 'es-void-hold' });
    expect({ status: refusedAgain.status, body: refusedAgain.body, replay: refusedAgain.headers.get('idempotent-replay') }).toEqual({ status: 409, body: refused.body, replay: 'true' });
    const types = await stream();
    expect(types.filter((type) => type === 'PointsSpent')).toHaveLength(1);
    expect(types.filter((type) => type === 'PointsHeld')).toHaveLength(1);
    expect(types.filter((type) => type === 'HoldPosted')).toHaveLength(1);
  });
});

describe('earning', () => {
  let token: string;
  beforeAll(async () => {
    const { nationalId } = await enrol(3, '赵六', 'u-a');
    token = await activate(nationalId, '赵六');
  });

  it('grants exactly one check-in when ten arrive at once on the same day', async () => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => app.call('POST', '/v1/me/check-ins', { token, key: key() })));
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    for (const answer of answers.filter((item) => item.status !== 201)) expectError(answer, 409, 'CHECKIN.ALREADY_TODAY');
    const balance = await app.call('GET', '/v1/me/balance', { token });
    expect(balance.body).toMatchObject({ availablePoints: 105, streak: 1 });
  });

  it('grants a correct quiz answer once and records a wrong one without points', async () => {
    const admin = await app.token('admin-js', 'admin', 'js');
    for (const quizId of ['q-1', 'q-2']) {
      const published = await app.call('POST', '/v1/admin/quizzes', {
        token: admin,
        key: key(),
        body: { quizId, question: '工会法哪年颁布?', options: ['A', 'B', 'C'], correctAnswer: 'B' },
      });
      expect(published.status).toBe(201);
    }
    const right = await app.call('POST', '/v1/me/quiz-answers', { token, key: key(), body: { quizId: 'q-1', answer: 'B' } });
    expect(right.body).toMatchObject({ pointsGranted: 10, correct: true });
    expectError(await app.call('POST', '/v1/me/quiz-answers', { token, key: key(), body: { quizId: 'q-1', answer: 'B' } }), 409, 'QUIZ.ALREADY_ANSWERED');
    const wrong = await app.call('POST', '/v1/me/quiz-answers', { token, key: key(), body: { quizId: 'q-2', answer: 'A' } });
    expect(wrong.body).toMatchObject({ pointsGranted: 0, correct: false });
    expectError(await app.call('POST', '/v1/me/quiz-answers', { token, key: key(), body: { quizId: 'nope', answer: 'A' } }), 404, 'QUIZ.NOT_FOUND');
  });

  it('scopes quizzes to a subtree: an admin elsewhere cannot reach these members, nor publish outside their own subtree', async () => {
    // The issue's case: a grassroots admin in another province published a quiz members everywhere answered.
    const elsewhere = await app.token('admin-zj-u', 'admin', 'zj-u');
    const theirs = await app.call('POST', '/v1/admin/quizzes', {
      token: elsewhere,
      key: key(),
      body: { quizId: 'q-zj', question: '?', options: ['A', 'B'], correctAnswer: 'A' },
    });
    expect(theirs.status).toBe(201);
    expectError(await app.call('POST', '/v1/me/quiz-answers', { token, key: key(), body: { quizId: 'q-zj', answer: 'A' } }), 404, 'QUIZ.NOT_FOUND');
    const outside = await app.call('POST', '/v1/admin/quizzes', {
      token: elsewhere,
      key: key(),
      body: { quizId: 'q-grab', question: '?', options: ['A', 'B'], correctAnswer: 'A', orgId: 'js' },
    });
    expectError(outside, 403, 'ORG.FORBIDDEN');
    // A quiz of the member's city reaches its unions.
    const cityAdmin = await app.token('admin-nj', 'admin', 'js-nj');
    const city = await app.call('POST', '/v1/admin/quizzes', { token: cityAdmin, key: key(), body: { quizId: 'q-nj', question: '?', options: ['A', 'B'], correctAnswer: 'A' } });
    expect(city.status).toBe(201);
    expect((await app.call('POST', '/v1/me/quiz-answers', { token, key: key(), body: { quizId: 'q-nj', answer: 'A' } })).body).toMatchObject({ correct: true });
  });

  it('records an evaluation once per campaign and lists it back', async () => {
    const body = { campaignId: 'eval-2026', overall: 5, items: { item1: 4, item3: 5 }, suggestion: '希望多组织活动' };
    const submitted = await app.call('POST', '/v1/me/evaluations', { token, key: key(), body });
    expect(submitted.status).toBe(201);
    expect(submitted.body.pointsGranted).toBe(50);
    expectError(await app.call('POST', '/v1/me/evaluations', { token, key: key(), body }), 409, 'EVALUATION.ALREADY_SUBMITTED');
    expectError(await app.call('POST', '/v1/me/evaluations', { token, key: key(), body: { ...body, campaignId: 'e2', overall: 6 } }), 400, 'VALIDATION.FAILED');
    expectError(await app.call('POST', '/v1/me/evaluations', { token, key: key(), body: { ...body, campaignId: 'e3', items: { item10: 3 } } }), 400, 'VALIDATION.FAILED');
    expectError(await app.call('POST', '/v1/me/evaluations', { token, key: key(), body: { ...body, campaignId: 'e4', suggestion: 'x'.repeat(501) } }), 400, 'VALIDATION.FAILED');
    const listed = await app.call('GET', '/v1/me/evaluations', { token });
    expect(listed.body.evaluations).toEqual([
      expect.objectContaining({ campaignId: 'eval-2026', overall: 5, items: { item1: 4, item3: 5 }, suggestion: '希望多组织活动', orgId: 'u-a' }),
    ]);
  });

  it('caps article points per day by the rules', async () => {
    let granted = 0;
    for (let index = 0; index < 12; index += 1) {
      const answer = await app.call('POST', '/v1/me/article-reads', { token, key: key(), body: { articleId: `a-${index}` } });
      expect(answer.status).toBe(201);
      granted += answer.body.pointsGranted as number;
    }
    expect(granted).toBe(20); // 2 points each, at most 10 reads and 20 points a day.
  });
});

describe('spending', () => {
  it('never lets concurrent spends racing for the last points take the balance below zero', async () => {
    const { nationalId } = await enrol(4, '钱七', 'u-b');
    const token = await activate(nationalId, '钱七'); // 100 points
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => app.call('POST', '/v1/me/spends', { token, key: key(), body: { points: 30, purpose: 'mall' } })),
    );
    const succeeded = answers.filter((answer) => answer.status === 201);
    expect(succeeded).toHaveLength(3);
    for (const answer of answers.filter((item) => item.status !== 201)) expectError(answer, 422, 'POINTS.INSUFFICIENT');
    expect((await app.call('GET', '/v1/me/balance', { token })).body).toMatchObject({ availablePoints: 10, heldPoints: 0 });
  });

  it('posts a hold named by the longest Idempotency-Key (200 characters)', async () => {
    const { nationalId } = await enrol(12, '郑十二', 'u-b');
    const token = await activate(nationalId, '郑十二');
    const holdKey = `h${'x'.repeat(199)}`;
    const held = await app.call('POST', '/v1/me/holds', { token, key: holdKey, body: { points: 1, purpose: 'mall', expiresInSeconds: 600 } });
    expect(held.status).toBe(201);
    const posted = await app.call('POST', `/v1/me/holds/${holdKey}/post`, { token, key: key() });
    expect({ status: posted.status, code: posted.body.code }).toEqual({ status: 200, code: undefined });
  });

  it('holds, then posts or voids exactly once', async () => {
    const { nationalId } = await enrol(5, '孙八', 'u-b');
    const token = await activate(nationalId, '孙八');
    const hold = await app.call('POST', '/v1/me/holds', { token, key: 'hold-1', body: { points: 40, purpose: 'mall', expiresInSeconds: 600 } });
    expect(hold.status).toBe(201);
    expect(hold.body.balance).toEqual({ availablePoints: 60, heldPoints: 40, lifetimeEarnedPoints: 100 });
    const posted = await app.call('POST', '/v1/me/holds/hold-1/post', { token, key: key() });
    expect(posted.status).toBe(200);
    expectError(await app.call('POST', '/v1/me/holds/hold-1/post', { token, key: key() }), 409, 'HOLD.ALREADY_POSTED');
    expectError(await app.call('POST', '/v1/me/holds/hold-1/void', { token, key: key() }), 409, 'HOLD.ALREADY_POSTED');
    await app.call('POST', '/v1/me/holds', { token, key: 'hold-2', body: { points: 60, purpose: 'mall', expiresInSeconds: 600 } });
    expect((await app.call('POST', '/v1/me/holds/hold-2/void', { token, key: key() })).body.balance).toEqual({
      availablePoints: 60,
      heldPoints: 0,
      lifetimeEarnedPoints: 100,
    });
    expectError(await app.call('POST', '/v1/me/holds/none/post', { token, key: key() }), 404, 'HOLD.NOT_FOUND');
  });
});

describe('read models', () => {
  it('pages the statement newest first with the rule and the balance after each line', async () => {
    const { nationalId } = await enrol(6, '周九', 'u-a');
    const token = await activate(nationalId, '周九');
    await app.call('POST', '/v1/me/check-ins', { token, key: key() });
    await app.call('POST', '/v1/me/spends', { token, key: key(), body: { points: 25, purpose: 'lottery' } });
    await catchUpLedger();

    const first = await app.call('GET', '/v1/me/statement?limit=2', { token });
    const lines = first.body.lines as Array<Record<string, unknown>>;
    expect(lines.map((line) => [line.reason, line.deltaAvailablePoints, line.availableAfterPoints])).toEqual([
      ['PointsSpent', -25, 80],
      ['PointsGranted', 5, 105],
    ]);
    expect(lines[1]).toMatchObject({ ruleId: 'checkin', ruleVersion: 1 });
    const second = await app.call('GET', `/v1/me/statement?limit=2&cursor=${first.body.nextCursor as string}`, { token });
    expect((second.body.lines as Array<Record<string, unknown>>).map((line) => [line.reason, line.ruleId, line.availableAfterPoints])).toEqual([
      ['PointsGranted', 'activation', 100],
    ]);
    expect(second.body.nextCursor).toBeNull();
    expectError(await app.call('GET', '/v1/me/statement?limit=1000', { token }), 400, 'VALIDATION.FAILED');
  }, testTimeout());

  it('ranks members in their union and every ancestor, and keeps other subtrees out of reach', async () => {
    await catchUpLedgerAndLeaderboards();
    const { nationalId } = await enrol(7, '吴十', 'u-b');
    const token = await activate(nationalId, '吴十');
    await waitForFeedEnd(app.ledger.db);
    await catchUpLeaderboards(app.ledger.store, app.ledger.db, app.ledger.leaderboards);

    const province = await app.call('GET', '/v1/leaderboards/js?period=all&top=100', { token });
    expect(province.status).toBe(200);
    const entries = province.body.entries as Array<{ points: number; rank: number; name: string | null }>;
    expect(entries.length).toBeGreaterThanOrEqual(5);
    expect(entries.map((entry) => entry.points)).toEqual([...entries.map((entry) => entry.points)].sort((a, b) => b - a));
    expect(entries[0]!.rank).toBe(1);
    const mine = await app.call('GET', '/v1/me/rank?orgId=u-b&period=week', { token });
    expect(mine.body).toMatchObject({ orgId: 'u-b', points: 100 });
    expect(mine.body.rank).toBeGreaterThanOrEqual(1);
    expectError(await app.call('GET', '/v1/leaderboards/u-a?period=week', { token }), 403, 'ORG.FORBIDDEN');
    expectError(await app.call('GET', '/v1/leaderboards/zj?period=week', { token }), 403, 'ORG.FORBIDDEN');
    expectError(await app.call('GET', '/v1/leaderboards/js?period=decade', { token }), 400, 'VALIDATION.FAILED');
    const admin = await app.token('admin-nj', 'admin', 'js-nj');
    expect((await app.call('GET', '/v1/leaderboards/u-a?period=all', { token: admin })).status).toBe(200);
    expectError(await app.call('GET', '/v1/leaderboards/zj?period=all', { token: admin }), 403, 'ORG.FORBIDDEN');
  }, testTimeout(2));

  it('rebuilds every projection from event zero into identical tables and leaderboards, with a zero trial balance', async () => {
    await catchUpLedgerAndLeaderboards();
    const tables = readModels().flatMap((projection) => projection.tables);
    const liveTables = await dumpTables(app.ledger.db, tables);
    const liveBoards = await app.ledger.leaderboards.dump();
    expect(liveTables.ul_journal?.length).toBeGreaterThan(0);

    await app.ledger.rebuildReadModels();
    await rebuildLeaderboards(app.ledger.store, app.ledger.db, app.ledger.leaderboards);
    expect(await dumpTables(app.ledger.db, tables)).toEqual(liveTables);
    expect(await app.ledger.leaderboards.dump()).toEqual(liveBoards);
    const checkpoint = await app.ledger.db.one<{ position: string }>('SELECT position FROM ul_checkpoints WHERE name = $1', [LEDGER_PROJECTION]);
    expect(BigInt(checkpoint.position)).toBeGreaterThan(0n);

    const report = await checkTrialBalance(app.ledger.db);
    expect(report).toMatchObject({
      ok: true,
      assets: [expect.objectContaining({ asset: 'POINTS', eventsTotal: '0', journalTotal: '0' })],
      mixedAssetAccounts: [],
      negativeAccounts: [],
      journalMismatches: [],
      balanceMismatches: [],
    });
  }, testTimeout());
});

describe('admin', () => {
  it('lets only a province admin publish a new rule version, guarded by the expected version', async () => {
    const provinceAdmin = await app.token('admin-js', 'admin', 'js');
    const cityAdmin = await app.token('admin-nj', 'admin', 'js-nj');
    const current = await app.call('GET', '/v1/admin/earning-rules', { token: provinceAdmin });
    expect(current.body.version).toBe(1);
    const rules = { ...(current.body.rules as Record<string, unknown>), checkin: { points: 8, caps: { day: { maxCount: 1 } } } };
    expectError(await app.call('PUT', '/v1/admin/earning-rules', { token: cityAdmin, key: key(), body: { expectedVersion: 1, rules } }), 403, 'AUTH.FORBIDDEN');
    // An unknown action is refused by the API's schema with its path, before the domain's own check (RULES.INVALID).
    const unknownAction = await app.call('PUT', '/v1/admin/earning-rules', { token: provinceAdmin, key: key(), body: { expectedVersion: 1, rules: { ...rules, bogus: { points: 1 } } } });
    expectError(unknownAction, 400, 'VALIDATION.FAILED');
    expect(unknownAction.body.details).toEqual({ issues: [expect.objectContaining({ path: '/rules/bogus' })] });
    const published = await app.call('PUT', '/v1/admin/earning-rules', { token: provinceAdmin, key: key(), body: { expectedVersion: 1, rules, streakBonus: null } });
    expect(published.status).toBe(200);
    expect(published.body).toMatchObject({ version: 2, rules: { checkin: { points: 8 } } });
    expectError(await app.call('PUT', '/v1/admin/earning-rules', { token: provinceAdmin, key: key(), body: { expectedVersion: 1, rules } }), 409, 'RULES.VERSION_CONFLICT');
    expectError(await app.call('PUT', '/v1/admin/earning-rules', { token: await app.token('m', 'member', 'u-a'), key: key(), body: {} }), 403, 'AUTH.FORBIDDEN');
  });
});
