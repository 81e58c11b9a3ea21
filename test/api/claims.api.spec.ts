import { eventsToAppend } from '../../src/application/command-handler';
import { DRAW_DEADLINE_AFTER_CLOSE_MS, drawLottery, lotteryStream, type LotteryEvent } from '../../src/domain/claims';
import { schemaVersionOf } from '../../src/domain/shared';
import { checkTrialBalance } from '../../src/projections/ledger';
import { ADMIN, PROGRAMME, enrolActive, setUpUnions } from '../support/claims-fixtures';
import { runCliOn } from '../support/cli';
import { waitForFeedEnd } from '../support/feed';
import { startLedgerApp, type Answer, type LedgerApp } from '../support/ledger-app';
import { testTimeout } from '../support/wait-for';

/**
 * Claims over HTTP on real PostgreSQL and Redis: a burst of concurrent claims for a small quota
 * (exactly N granted, nobody twice, every loser told CLAIM.SOLD_OUT at once), the window's codes,
 * eligibility, the read models; and a lottery paid with points whose winners the CLI recomputes.
 */

const HOUR = 3600_000;
let nowMs = Date.parse('2027-01-10T02:00:00Z');
const OPENS = nowMs + HOUR;
const CLOSES = OPENS + HOUR;
let app: LedgerApp;
let adminToken: string;
let keyCounter = 0;
const key = (): string => `ck-${(keyCounter += 1)}`;
const members: string[] = [];
const tokens = new Map<string, string>();
let outsider: string;
const MEMBERS = 240;
const UNITS = 12;

function expectCode(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status, code });
}

function expectOk(answer: Answer, status = 200): Record<string, unknown> {
  expect({ status: answer.status, body: answer.status === status ? {} : answer.body }).toEqual({ status, body: {} });
  return answer.body;
}

async function catchUp(): Promise<void> {
  await waitForFeedEnd(app.ledger.db);
  await app.ledger.catchUpReadModels();
}

const voucher = { category: 'rail-ticket', faceValue: '50.00', validFrom: new Date(OPENS).toISOString(), validUntil: new Date(CLOSES + 30 * 24 * HOUR).toISOString() };

beforeAll(async () => {
  app = await startLedgerApp({ clock: () => new Date(nowMs) });
  await setUpUnions(app.ledger, 1_000_000);
  for (let serial = 1; serial <= MEMBERS; serial += 1) members.push(await enrolActive(app.ledger, serial, serial % 2 === 0 ? 'u-1' : 'u-2'));
  outsider = await enrolActive(app.ledger, MEMBERS + 1, 'other');
  for (const memberId of [...members, outsider]) tokens.set(memberId, await app.token(memberId, 'member', 'u-1'));
  adminToken = await app.token(ADMIN.sub, 'admin', 'gd');
}, testTimeout(2));
afterAll(async () => {
  await app?.close();
});

describe('a claim campaign', () => {
  const campaign = {
    campaignId: 'spring-tickets',
    orgId: 'gd',
    name: '春运火车票',
    units: UNITS,
    opensAt: new Date(OPENS).toISOString(),
    closesAt: new Date(CLOSES).toISOString(),
    minPoints: 50,
    programmeId: PROGRAMME,
    voucher,
  };
  const claim = (memberId: string, idempotencyKey = key()) =>
    app.call('POST', '/v1/me/claim-campaigns/spring-tickets/claim', { token: tokens.get(memberId)!, key: idempotencyKey });

  it('is created by an admin of the union only, and its vouchers are reserved from the budget', async () => {
    expectCode(await app.call('POST', '/v1/admin/claim-campaigns', { token: tokens.get(members[0]!)!, key: key(), body: campaign }), 403, 'AUTH.FORBIDDEN');
    const otherAdmin = await app.token('admin-other', 'admin', 'other');
    expectCode(await app.call('POST', '/v1/admin/claim-campaigns', { token: otherAdmin, key: key(), body: campaign }), 403, 'ORG.FORBIDDEN');
    expectCode(await app.call('POST', '/v1/admin/claim-campaigns', { token: adminToken, key: key(), body: { ...campaign, units: 0 } }), 400, 'VALIDATION.FAILED');
    const created = expectOk(await app.call('POST', '/v1/admin/claim-campaigns', { token: adminToken, key: key(), body: campaign }), 201);
    expect(created).toMatchObject({ campaignId: 'spring-tickets', units: UNITS, voucher: { faceValue: '50.00' } });
    await catchUp();
    const budget = expectOk(await app.call('GET', `/v1/admin/programmes/${PROGRAMME}`, { token: adminToken }));
    expect((budget.budgets as Array<Record<string, string>>).find((node) => node.orgId === 'gd')).toMatchObject({ remaining: '9400.00' });
  });

  it('refuses claims before the window opens', async () => {
    expectCode(await claim(members[0]!), 409, 'CLAIM.NOT_OPEN');
  });

  it('refuses members outside the subtree, before the burst and without taking a unit', async () => {
    nowMs = OPENS;
    expectCode(await claim(outsider), 403, 'CLAIM.NOT_ELIGIBLE');
    const view = expectOk(await app.call('GET', '/v1/admin/claim-campaigns/spring-tickets', { token: adminToken }));
    expect(view).toMatchObject({ admitted: 0, remaining: UNITS });
  });

  it('grants exactly N of a concurrent burst, nobody twice, and tells every loser CLAIM.SOLD_OUT', async () => {
    nowMs = OPENS + 1000;
    // Every member claims, and a tenth of them claim twice at once (a double tap with two keys).
    const requests = [...members.map((memberId) => ({ memberId })), ...members.filter((_, index) => index % 10 === 0).map((memberId) => ({ memberId }))];
    const answers = await Promise.all(requests.map(async ({ memberId }) => ({ memberId, answer: await claim(memberId) })));
    const granted = answers.filter(({ answer }) => answer.status === 201);
    expect(granted).toHaveLength(UNITS);
    expect(new Set(granted.map(({ memberId }) => memberId)).size).toBe(UNITS);
    expect(granted.map(({ answer }) => answer.body.seq).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: UNITS }, (_, index) => index + 1));
    const refused = answers.filter(({ answer }) => answer.status !== 201);
    const codes = new Set(refused.map(({ answer }) => `${answer.status} ${String(answer.body.code)}`));
    expect([...codes].sort()).toEqual(expect.arrayContaining(['409 CLAIM.SOLD_OUT']));
    for (const code of codes) expect(['409 CLAIM.SOLD_OUT', '409 CLAIM.ALREADY_CLAIMED']).toContain(code);
    // ALREADY_CLAIMED only for a second tap of a winner.
    const winners = new Set(granted.map(({ memberId }) => memberId));
    for (const { memberId, answer } of refused) if (answer.body.code === 'CLAIM.ALREADY_CLAIMED') expect(winners.has(memberId)).toBe(true);

    // The log holds the N claims; the read model shows them in arrival order; each winner holds a voucher.
    await catchUp();
    const view = expectOk(await app.call('GET', '/v1/admin/claim-campaigns/spring-tickets', { token: adminToken }));
    expect(view).toMatchObject({ granted: UNITS, admitted: UNITS, pending: 0, remaining: 0 });
    const list = expectOk(await app.call('GET', '/v1/admin/claim-campaigns/spring-tickets/claims?limit=500', { token: adminToken }));
    expect((list.claims as Array<{ seq: number; memberId: string }>).map((row) => row.seq)).toEqual(Array.from({ length: UNITS }, (_, index) => index + 1));
    const [first] = granted;
    const mine = expectOk(await app.call('GET', '/v1/me/claim-campaigns/spring-tickets/claim', { token: tokens.get(first!.memberId)! }));
    expect(mine).toMatchObject({ status: 'granted', seq: first!.answer.body.seq, voucherId: `claim:spring-tickets:${first!.memberId}` });
    const wallet = expectOk(await app.call('GET', '/v1/me/wallet', { token: tokens.get(first!.memberId)! }));
    expect(JSON.stringify(wallet)).toContain(`claim:spring-tickets:${first!.memberId}`);
    const loser = refused.find(({ memberId }) => !winners.has(memberId))!;
    expect(expectOk(await app.call('GET', '/v1/me/claim-campaigns/spring-tickets/claim', { token: tokens.get(loser.memberId)! }))).toMatchObject({ status: 'none' });
    expect((await checkTrialBalance(app.ledger.db)).ok).toBe(true);
  });

  it('answers a loser’s retry with the same refusal and a new claim of a winner with CLAIM.ALREADY_CLAIMED, writing no idempotency row', async () => {
    nowMs = OPENS + 2000;
    const rows = async () => Number((await app.ledger.db.one<{ n: string }>(`SELECT count(*) AS n FROM ul_idempotency WHERE path LIKE '%/claim-campaigns/%'`)).n);
    const list = expectOk(await app.call('GET', '/v1/admin/claim-campaigns/spring-tickets/claims', { token: adminToken }));
    const holder = (list.claims as Array<{ memberId: string; seq: number }>)[0]!;
    const retryKey = key();
    const winners = new Set((list.claims as Array<{ memberId: string }>).map((row) => row.memberId));
    const loser = members.find((memberId) => !winners.has(memberId))!;
    const refused = await claim(loser, retryKey);
    expectCode(refused, 409, 'CLAIM.SOLD_OUT');
    const again = await claim(loser, retryKey);
    expectCode(again, 409, 'CLAIM.SOLD_OUT');
    expectCode(await claim(holder.memberId), 409, 'CLAIM.ALREADY_CLAIMED');
    expect(await rows()).toBe(0);
  });

  it('answers a granted claim retried with its Idempotency-Key from ClaimGranted, with Idempotent-Replay', async () => {
    nowMs = OPENS + 2500;
    const winner = members[0]!;
    // A second campaign of one unit: the first member to claim wins, and retries with the same key.
    const second = { ...campaign, campaignId: 'one-ticket', units: 1 };
    expectOk(await app.call('POST', '/v1/admin/claim-campaigns', { token: adminToken, key: key(), body: second }), 201);
    const retryKey = key();
    const call = () => app.call('POST', '/v1/me/claim-campaigns/one-ticket/claim', { token: tokens.get(winner)!, key: retryKey });
    const first = expectOk(await call(), 201);
    const replay = await call();
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replay')).toBe('true');
    expect(replay.body).toEqual(first);
    expectCode(await app.call('POST', '/v1/me/claim-campaigns/one-ticket/claim', { token: tokens.get(winner)!, key: key() }), 409, 'CLAIM.ALREADY_CLAIMED');
  });

  it('refuses claims after the window with CLAIM.CLOSED', async () => {
    nowMs = CLOSES;
    expectCode(await claim(members[5]!), 409, 'CLAIM.CLOSED');
  });

  it('hides another subtree’s campaign from its admins', async () => {
    const otherAdmin = await app.token('admin-other', 'admin', 'other');
    expectCode(await app.call('GET', '/v1/admin/claim-campaigns/spring-tickets', { token: otherAdmin }), 404, 'CLAIM.CAMPAIGN_NOT_FOUND');
  });
});

describe('a points lottery', () => {
  const LOTTERY_OPENS = CLOSES + HOUR;
  const LOTTERY_CLOSES = LOTTERY_OPENS + HOUR;
  const entrants = () => members.slice(0, 30);

  it('publishes a commitment, holds the entries’ points, reveals the seed after the close, and its winners are recomputed by the CLI', async () => {
    nowMs = CLOSES + 1000;
    const created = expectOk(
      await app.call('POST', '/v1/admin/lotteries', {
        token: adminToken,
        key: key(),
        body: {
          lotteryId: 'new-year-draw',
          orgId: 'gd',
          name: '新春积分抽奖',
          entryPoints: 30,
          prizes: 3,
          opensAt: new Date(LOTTERY_OPENS).toISOString(),
          closesAt: new Date(LOTTERY_CLOSES).toISOString(),
          losers: 'refund',
          maxEntries: 1000,
          programmeId: PROGRAMME,
          voucher: { ...voucher, validUntil: new Date(LOTTERY_CLOSES + 30 * 24 * HOUR).toISOString() },
        },
      }),
      201,
    );
    expect(created.commitment).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(created)).not.toContain('sealed');
    const lotteryId = 'new-year-draw';
    const enter = (memberId: string) => app.call('POST', `/v1/me/lotteries/${lotteryId}/entries`, { token: tokens.get(memberId)!, key: key() });
    expectCode(await enter(members[0]!), 409, 'LOTTERY.NOT_OPEN');

    nowMs = LOTTERY_OPENS;
    const before = await Promise.all(entrants().map(async (memberId) => (await app.ledger.members.load(memberId)).state.available));
    const entered = await Promise.all(entrants().map((memberId) => enter(memberId)));
    for (const answer of entered) expectOk(answer, 201);
    expectCode(await enter(members[0]!), 409, 'LOTTERY.ALREADY_ENTERED');
    expectCode(await enter(outsider), 403, 'LOTTERY.NOT_ELIGIBLE');
    for (const [index, memberId] of entrants().entries()) {
      const { state } = await app.ledger.members.load(memberId);
      expect({ available: state.available, held: state.held }).toEqual({ available: before[index]! - 30, held: 30 });
    }
    // Before the draw: the commitment, never the seed.
    const open = expectOk(await app.call('GET', `/v1/lotteries/${lotteryId}`, { token: tokens.get(members[0]!)! }));
    expect(open).toMatchObject({ status: 'open', entries: 30, seed: null, winners: null, commitment: created.commitment });
    expectCode(await app.call('POST', `/v1/admin/lotteries/${lotteryId}/draw`, { token: adminToken, key: key() }), 409, 'LOTTERY.NOT_CLOSED');

    nowMs = LOTTERY_CLOSES;
    expectCode(await enter(members[40]!), 409, 'LOTTERY.CLOSED');
    const drawn = expectOk(await app.call('POST', `/v1/admin/lotteries/${lotteryId}/draw`, { token: adminToken, key: key() }));
    expect(drawn).toMatchObject({ status: 'settled', entries: 30, commitment: created.commitment });
    expect(drawn.seed).toMatch(/^[0-9a-f]{64}$/);
    const winners = drawn.winners as string[];
    expect(winners).toHaveLength(3);

    // Points conserved: winners paid their entry, losers got it back; nothing stays held.
    for (const [index, memberId] of entrants().entries()) {
      const { state } = await app.ledger.members.load(memberId);
      expect({ memberId, available: state.available, held: state.held }).toEqual({ memberId, available: before[index]! - (winners.includes(memberId) ? 30 : 0), held: 0 });
    }
    await catchUp();
    const listed = expectOk(await app.call('GET', `/v1/lotteries/${lotteryId}/entries?only=winners`, { token: adminToken }));
    expect((listed.entries as Array<{ memberId: string }>).map((entry) => entry.memberId).sort()).toEqual([...winners].sort());
    const mine = expectOk(await app.call('GET', `/v1/me/lotteries/${lotteryId}/entry`, { token: tokens.get(winners[0]!)! }));
    expect(mine).toMatchObject({ outcome: 'won', prizeRank: 1 });
    const prize = expectOk(await app.call('GET', '/v1/me/wallet', { token: tokens.get(winners[0]!)! }));
    expect(JSON.stringify(prize)).toContain(`lottery:${lotteryId}:${winners[0]!}`);
    expect((await checkTrialBalance(app.ledger.db)).ok).toBe(true);

    // The auditor's recomputation, from the log alone, through the real CLI.
    const audit = await runCliOn(app.database, 'audit', 'lottery', lotteryId, '--json');
    expect(audit.code).toBe(0);
    // Jest's console capture may print into the same stdout before the report: the report is the last JSON object.
    const report = JSON.parse(audit.stdout.slice(audit.stdout.lastIndexOf('\n{\n') + 1)) as Record<string, unknown>;
    expect(report).toMatchObject({ ok: true, commitmentOk: true, entriesHashOk: true, entries: 30, seed: drawn.seed, recordedWinners: winners, recomputedWinners: winners });
    const text = await runCliOn(app.database, 'audit', 'lottery', lotteryId);
    expect(text.stdout).toContain('OK: the recorded winners are the draw of the committed seed over the entries');
    expect((await runCliOn(app.database, 'audit', 'lottery', 'no-such-lottery')).code).toBe(2);
  });

  it('credits a points prize to each winner, once, and spends the losers’ entries when the rules say so', async () => {
    const opens = LOTTERY_CLOSES + HOUR;
    const closes = opens + HOUR;
    nowMs = opens - 1000;
    const lotteryId = 'points-draw';
    const created = expectOk(
      await app.call('POST', '/v1/admin/lotteries', {
        token: adminToken,
        key: key(),
        body: { lotteryId, orgId: 'gd', name: '积分大奖', entryPoints: 10, prizes: 2, opensAt: new Date(opens).toISOString(), closesAt: new Date(closes).toISOString(), losers: 'spend', maxEntries: 100, prizePoints: 200 },
      }),
      201,
    );
    expect(created).toMatchObject({ prizePoints: 200, voucher: null, programmeId: null });
    // Both a voucher and points: refused.
    expectCode(
      await app.call('POST', '/v1/admin/lotteries', {
        token: adminToken,
        key: key(),
        body: { lotteryId: 'both', orgId: 'gd', name: 'x', entryPoints: 10, prizes: 1, opensAt: new Date(opens).toISOString(), closesAt: new Date(closes).toISOString(), losers: 'spend', maxEntries: 100, prizePoints: 200, programmeId: PROGRAMME, voucher },
      }),
      400,
      'LOTTERY.PRIZE_INVALID',
    );
    const players = members.slice(100, 110);
    nowMs = opens;
    const before = await Promise.all(players.map(async (memberId) => (await app.ledger.members.load(memberId)).state.available));
    for (const memberId of players) expectOk(await app.call('POST', `/v1/me/lotteries/${lotteryId}/entries`, { token: tokens.get(memberId)!, key: key() }), 201);
    nowMs = closes;
    const drawKey = key();
    const drawn = expectOk(await app.call('POST', `/v1/admin/lotteries/${lotteryId}/draw`, { token: adminToken, key: drawKey }));
    const winners = drawn.winners as string[];
    expect(winners).toHaveLength(2);
    // A second draw (another key) settles nothing twice.
    expectOk(await app.call('POST', `/v1/admin/lotteries/${lotteryId}/draw`, { token: adminToken, key: key() }));
    for (const [index, memberId] of players.entries()) {
      const { state } = await app.ledger.members.load(memberId);
      expect({ memberId, available: state.available, held: state.held }).toEqual({ memberId, available: before[index]! - 10 + (winners.includes(memberId) ? 200 : 0), held: 0 });
    }
    await catchUp();
    expect((await checkTrialBalance(app.ledger.db)).ok).toBe(true);
    const audit = await runCliOn(app.database, 'audit', 'lottery', lotteryId);
    expect(audit.code).toBe(0);
  });

  /** What is left of the union's budget in the programme, after the read models catch up. */
  const remaining = async () => {
    await catchUp();
    const programme = expectOk(await app.call('GET', `/v1/admin/programmes/${PROGRAMME}`, { token: adminToken }));
    return (programme.budgets as Array<Record<string, string>>).find((node) => node.orgId === 'gd')!.remaining;
  };

  it('returns the value of a campaign’s unclaimed units to the budget once the window is over, exactly once', async () => {
    const opens = nowMs + 1000;
    const closes = opens + HOUR;
    const body = { campaignId: 'leftovers', orgId: 'gd', name: '剩余名额', programmeId: PROGRAMME, units: 5, opensAt: new Date(opens).toISOString(), closesAt: new Date(closes).toISOString(), voucher: { ...voucher, validFrom: new Date(opens).toISOString(), validUntil: new Date(closes + 30 * 24 * HOUR).toISOString() } };
    await app.ledger.claims.reconcile(); // The earlier campaigns, long over, close now: what follows is this one's alone.
    const before = await remaining();
    expectOk(await app.call('POST', '/v1/admin/claim-campaigns', { token: adminToken, key: key(), body }), 201);
    expect(await remaining()).toBe((Number(before) - 250).toFixed(2));
    nowMs = opens;
    for (const memberId of members.slice(200, 202)) expectOk(await app.call('POST', '/v1/me/claim-campaigns/leftovers/claim', { token: tokens.get(memberId)!, key: key() }), 201);
    // Within the window and its last minute, nothing is returned.
    nowMs = closes;
    await app.ledger.claims.reconcile();
    expect(await remaining()).toBe((Number(before) - 250).toFixed(2));
    nowMs = closes + 61_000;
    // Two runs at once (two worker processes): the value comes back once.
    await Promise.all([app.ledger.claims.reconcile(), app.ledger.claims.closeCampaign('leftovers')]);
    await app.ledger.claims.reconcile();
    expect(await remaining()).toBe((Number(before) - 100).toFixed(2));
    const view = expectOk(await app.call('GET', '/v1/admin/claim-campaigns/leftovers', { token: adminToken }));
    expect(view).toMatchObject({ granted: 2, closed: { unclaimed: 3, returned: '150.00' } });
    expect((await checkTrialBalance(app.ledger.db)).ok).toBe(true);
  });

  /**
   * Creates a voucher lottery (50.00 a prize) whose entries open an hour from now and close an hour
   * later, enters `players`, and leaves the clock at the close.
   */
  async function voucherLottery(lotteryId: string, prizes: number, players: string[], rules: { entryPoints?: number; losers?: 'refund' | 'spend' } = {}): Promise<void> {
    const opens = nowMs + HOUR;
    const closes = opens + HOUR;
    const terms = { lotteryId, orgId: 'gd', name: lotteryId, entryPoints: rules.entryPoints ?? 10, prizes, losers: rules.losers ?? 'refund', maxEntries: 100 };
    const window = { opensAt: new Date(opens).toISOString(), closesAt: new Date(closes).toISOString() };
    const prize = { programmeId: PROGRAMME, voucher: { ...voucher, validUntil: new Date(closes + 60 * 24 * HOUR).toISOString() } };
    expectOk(await app.call('POST', '/v1/admin/lotteries', { token: adminToken, key: key(), body: { ...terms, ...window, ...prize } }), 201);
    nowMs = opens;
    for (const memberId of players) expectOk(await app.call('POST', `/v1/me/lotteries/${lotteryId}/entries`, { token: tokens.get(memberId)!, key: key() }), 201);
    nowMs = closes;
  }

  it('returns the value of voucher prizes nobody won to the budget with the settlement, exactly once', async () => {
    const lotteryId = 'few-players';
    const before = await remaining();
    const player = members[230]!;
    await voucherLottery(lotteryId, 4, [player]);
    // Four prizes of 50.00 reserved at creation.
    expect(await remaining()).toBe((Number(before) - 200).toFixed(2));
    // Two draws at once (two admins, two keys): one settlement, the three prizes nobody could win returned once.
    const [first, second] = await Promise.all([
      app.call('POST', `/v1/admin/lotteries/${lotteryId}/draw`, { token: adminToken, key: key() }),
      app.call('POST', `/v1/admin/lotteries/${lotteryId}/draw`, { token: adminToken, key: key() }),
    ]);
    for (const answer of [first!, second!]) expect(expectOk(answer)).toMatchObject({ status: 'settled', winners: [player], unawarded: { prizes: 3, returned: '150.00' } });
    expect(await remaining()).toBe((Number(before) - 50).toFixed(2));
    expectOk(await app.call('POST', `/v1/admin/lotteries/${lotteryId}/draw`, { token: adminToken, key: key() }));
    expect(await remaining()).toBe((Number(before) - 50).toFixed(2));
    const shown = expectOk(await app.call('GET', `/v1/lotteries/${lotteryId}`, { token: tokens.get(player)! }));
    expect(shown).toMatchObject({ status: 'settled', unawarded: { prizes: 3, returned: '150.00' } });
    const wallet = expectOk(await app.call('GET', '/v1/me/wallet', { token: tokens.get(player)! }));
    expect(JSON.stringify(wallet)).toContain(`lottery:${lotteryId}:${player}`);
    expect((await checkTrialBalance(app.ledger.db)).ok).toBe(true);
  });

  it('lapses a lottery nobody drew by its deadline: the entries refunded, the prizes’ value back in the budget, once', async () => {
    const lotteryId = 'forgotten';
    const before = await remaining();
    const players = members.slice(231, 234);
    const points = () =>
      Promise.all(
        players.map(async (memberId) => {
          const { available, held } = (await app.ledger.members.load(memberId)).state;
          return { available, held };
        }),
      );
    const pointsBefore = await points();
    await voucherLottery(lotteryId, 2, players, { entryPoints: 20, losers: 'spend' });
    const closes = nowMs;
    expect(await remaining()).toBe((Number(before) - 100).toFixed(2));

    // Up to the deadline nothing lapses; past it the draw is refused, and the sweep lapses the lottery.
    nowMs = closes + DRAW_DEADLINE_AFTER_CLOSE_MS;
    await catchUp();
    expect(await app.ledger.lotteries.sweep()).toMatchObject({ lotteriesLapsed: 0, lotteriesFailed: 0 });
    await expect(app.ledger.lotteries.lapse(lotteryId)).rejects.toMatchObject({ code: 'LOTTERY.NOT_OVERDUE' });
    nowMs += 1;
    expectCode(await app.call('POST', `/v1/admin/lotteries/${lotteryId}/draw`, { token: adminToken, key: key() }), 409, 'LOTTERY.DRAW_TOO_LATE');
    // Two sweeps at once (two worker processes): one lapse, the value returned once.
    const sweeps = await Promise.all([app.ledger.lotteries.sweep(), app.ledger.lotteries.sweep()]);
    expect(sweeps.reduce((sum, sweep) => sum + sweep.lotteriesLapsed, 0)).toBe(1);
    expect(await remaining()).toBe(before);
    // Every entry refunded at once, although the lottery's rules spend losers' points: nobody lost a draw.
    expect(await points()).toEqual(pointsBefore);
    expectCode(await app.call('POST', `/v1/admin/lotteries/${lotteryId}/draw`, { token: adminToken, key: key() }), 409, 'LOTTERY.LAPSED');
    const shown = expectOk(await app.call('GET', `/v1/lotteries/${lotteryId}`, { token: tokens.get(players[0]!)! }));
    expect(shown).toMatchObject({ status: 'lapsed', entries: 3, seed: null, winners: null, unawarded: { prizes: 2, returned: '100.00' } });
    const mine = expectOk(await app.call('GET', `/v1/me/lotteries/${lotteryId}/entry`, { token: tokens.get(players[0]!)! }));
    expect(mine).toMatchObject({ outcome: 'refunded' });
    expect(await app.ledger.lotteries.sweep()).toMatchObject({ lotteriesLapsed: 0, lotteriesFailed: 0 });
    expect((await checkTrialBalance(app.ledger.db)).ok).toBe(true);
  });

  /** Appends lottery events by hand, as a process that crashed mid-way (or an older version) left them. */
  async function appendByHand(lotteryId: string, events: LotteryEvent[], commandId: string): Promise<void> {
    const meta = { commandId, actor: { type: 'system', id: 'test' } };
    await app.ledger.store.appendToStream(lotteryStream(lotteryId), eventsToAppend(events, meta, new Date(nowMs), (event) => schemaVersionOf(event.data)), { expectedRevision: 'any' });
  }

  it('finishes a settlement a crash interrupted (the sweep), a member who left among the winners', async () => {
    const lotteryId = 'interrupted';
    const before = await remaining();
    const [stays, leaves] = [members[234]!, members[235]!];
    await voucherLottery(lotteryId, 3, [stays, leaves]);
    await app.ledger.members.execute(leaves, { type: 'LeaveUnion', adminId: 'admin-gd', reason: '退会' }, { commandId: `leave-${leaves}`, actor: { type: 'admin', id: 'admin-gd' } });
    // The draw was recorded, and the process died before settling anything.
    const state = await app.ledger.lotteries.state(lotteryId);
    const seed = await app.ledger.vault.openText(`lottery-${lotteryId}`, state.terms!.sealedSeed);
    await appendByHand(lotteryId, drawLottery(state, seed!, new Date(nowMs)), 'draw-by-hand');
    await catchUp();
    expect(await app.ledger.lotteries.sweep()).toMatchObject({ lotteriesSettled: 0, lotteriesFailed: 0 });
    nowMs += 5 * 60 * 1000;
    expect(await app.ledger.lotteries.sweep()).toMatchObject({ lotteriesSettled: 1, lotteriesFailed: 0 });
    const settled = await app.ledger.lotteries.state(lotteryId);
    expect(settled).toMatchObject({ status: 'settled', unawarded: { prizes: 1, returnedFen: 5000 } });
    // Both won: the one still a member paid the entry; the one who left cannot settle a hold, which runs out by itself, and gets the prize.
    expect((await app.ledger.members.load(stays)).state.held).toBe(0);
    expect((await app.ledger.members.load(leaves)).state.held).toBe(10);
    for (const memberId of [stays, leaves]) expect(JSON.stringify(expectOk(await app.call('GET', '/v1/me/wallet', { token: tokens.get(memberId)! })))).toContain(`lottery:${lotteryId}:${memberId}`);
    expect(await remaining()).toBe((Number(before) - 100).toFixed(2));
    expect((await checkTrialBalance(app.ledger.db)).ok).toBe(true);
  });

  it('returns what nobody won in a lottery settled before settlements recorded it, when it is drawn again, once', async () => {
    const lotteryId = 'settled-long-ago';
    const before = await remaining();
    await voucherLottery(lotteryId, 2, []);
    const state = await app.ledger.lotteries.state(lotteryId);
    const seed = await app.ledger.vault.openText(`lottery-${lotteryId}`, state.terms!.sealedSeed);
    // As the older version settled it: no entries, and a LotterySettled without `unawarded`.
    await appendByHand(lotteryId, [...drawLottery(state, seed!, new Date(nowMs)), { type: 'LotterySettled', data: { lotteryId, won: 0, refunded: 0, spent: 0, late: 0 } }], 'old-settlement');
    expect(await remaining()).toBe((Number(before) - 100).toFixed(2));
    for (let draw = 0; draw < 2; draw += 1) {
      expect(expectOk(await app.call('POST', `/v1/admin/lotteries/${lotteryId}/draw`, { token: adminToken, key: key() }))).toMatchObject({ status: 'settled', unawarded: null });
      expect(await remaining()).toBe(before);
    }
    expect((await checkTrialBalance(app.ledger.db)).ok).toBe(true);
  });
});
