import { ClaimGate } from '../../src/application/claims';
import { orderStream, stockStream } from '../../src/domain/mall';
import { checkTrialBalance } from '../../src/projections/ledger';
import { ADMIN, PROGRAMME, enrolActive, setUpUnions } from '../support/claims-fixtures';
import { waitForFeedEnd } from '../support/feed';
import { startLedgerApp, type Answer, type LedgerApp } from '../support/ledger-app';
import { testTimeout } from '../support/wait-for';

/**
 * A claim campaign whose prize is a mall SKU, over HTTP on real PostgreSQL and Redis: its N units
 * are reserved on the SKU's stock at creation; each granted claim is a paid pickup order of one
 * unit for that member, exactly once even when the grant is recorded twice at once (the member's
 * retry racing reconciliation after a crash); the order is collected at the unit with its pickup
 * code; the close sells the granted units and puts the unclaimed ones back on sale.
 */

const HOUR = 3600_000;
let nowMs = Date.parse('2027-01-10T02:00:00Z');
const OPENS = nowMs + HOUR;
const CLOSES = OPENS + HOUR;
let app: LedgerApp;
let adminToken: string;
let unitAdmin: string;
let keyCounter = 0;
const key = (): string => `cm-${(keyCounter += 1)}`;
const members: string[] = [];
const tokens = new Map<string, string>();
const MEMBERS = 16;
const UNITS = 5;
const STOCKED = 8;

function expectCode(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status, code });
}

function expectOk(answer: Answer, status = 200): Record<string, unknown> {
  expect({ status: answer.status, body: answer.status === status ? {} : answer.body }).toEqual({ status, body: {} });
  return answer.body;
}

async function stock(): Promise<Record<string, unknown>> {
  return expectOk(await app.call('GET', '/v1/mall/skus/ticket-box/stock', { token: adminToken }));
}

const campaign = {
  campaignId: 'spring-boxes',
  orgId: 'gd',
  name: '春节礼盒',
  units: UNITS,
  opensAt: new Date(OPENS).toISOString(),
  closesAt: new Date(CLOSES).toISOString(),
  prizeSkuId: 'ticket-box',
};
const claim = (memberId: string, idempotencyKey = key()) => app.call('POST', '/v1/me/claim-campaigns/spring-boxes/claim', { token: tokens.get(memberId)!, key: idempotencyKey });

beforeAll(async () => {
  app = await startLedgerApp({ clock: () => new Date(nowMs) });
  await setUpUnions(app.ledger, 100_000);
  for (let serial = 1; serial <= MEMBERS; serial += 1) members.push(await enrolActive(app.ledger, 500 + serial, 'u-1'));
  for (const memberId of members) tokens.set(memberId, await app.token(memberId, 'member', 'u-1'));
  adminToken = await app.token(ADMIN.sub, 'admin', 'gd');
  unitAdmin = await app.token('admin-u1', 'admin', 'u-1');
  await app.ledger.mall.listSku(ADMIN, { skuId: 'ticket-box', productId: 'box', productName: '礼盒', name: '春节礼盒', orgId: 'gd', pricePoints: 0, priceFen: 8800, shards: 3 }, key());
  await app.ledger.mall.restock(ADMIN, 'ticket-box', STOCKED, key());
}, testTimeout(2));
afterAll(async () => {
  await app?.close();
});

describe('a claim campaign whose prize is a mall SKU', () => {
  it('reserves its N units on the SKU’s stock when created, and refuses a prize that is both or neither, or more units than in stock', async () => {
    expectCode(await app.call('POST', '/v1/admin/claim-campaigns', { token: adminToken, key: key(), body: { ...campaign, programmeId: PROGRAMME } }), 400, 'CLAIM.PRIZE_INVALID');
    const { prizeSkuId: _sku, ...neither } = campaign;
    expectCode(await app.call('POST', '/v1/admin/claim-campaigns', { token: adminToken, key: key(), body: neither }), 400, 'CLAIM.PRIZE_INVALID');
    expectCode(await app.call('POST', '/v1/admin/claim-campaigns', { token: adminToken, key: key(), body: { ...campaign, campaignId: 'too-many', units: STOCKED + 1 } }), 422, 'MALL.OUT_OF_STOCK');
    expectCode(await app.call('POST', '/v1/admin/claim-campaigns', { token: adminToken, key: key(), body: { ...campaign, prizeSkuId: 'no-such' } }), 404, 'MALL.SKU_NOT_FOUND');
    const created = expectOk(await app.call('POST', '/v1/admin/claim-campaigns', { token: adminToken, key: key(), body: campaign }), 201);
    expect(created).toMatchObject({ campaignId: 'spring-boxes', units: UNITS, programmeId: null, voucher: null, prize: { skuId: 'ticket-box', name: '春节礼盒' } });
    const allotments = (created.prize as { allotments: Array<{ quantity: number }> }).allotments;
    expect(allotments.reduce((sum, allotment) => sum + allotment.quantity, 0)).toBe(UNITS);
    expect(await stock()).toMatchObject({ available: STOCKED - UNITS, reserved: UNITS, sold: 0 });
  });

  it('makes a grant recorded twice at once (a retry racing reconciliation after a crash) one claim and one order', async () => {
    nowMs = OPENS + 1000;
    // The gate admitted the first member, and the request died before recording it (a crash).
    const gate = new ClaimGate(app.runtime.redis!, (app.ledger as unknown as { redisKeyPrefix: string }).redisKeyPrefix);
    const first = members[0]!;
    expect((await gate.admit('spring-boxes', first, nowMs)).kind).toBe('admitted');
    const [retried] = await Promise.all([claim(first), app.ledger.claims.reconcileCampaign('spring-boxes', Number.MAX_SAFE_INTEGER)]);
    const granted = expectOk(retried, 201);
    expect(granted).toMatchObject({ status: 'granted', seq: 1, voucherId: null, orderId: expect.any(String) });
    const orderId = String(granted.orderId);
    const events = await app.ledger.store.readStream(orderStream(orderId));
    expect(events.map((event) => event.type)).toEqual(['OrderPlaced', 'OrderReserved', 'OrderConfirmed', 'OrderSettled']);
    expectCode(await claim(first), 409, 'CLAIM.ALREADY_CLAIMED');
    expect((await app.ledger.store.readStream(orderStream(orderId))).length).toBe(4);
  });

  it('grants exactly N of a burst, each an order of one unit for its member, without touching the stock', async () => {
    const answers = await Promise.all(members.slice(1).map(async (memberId) => ({ memberId, answer: await claim(memberId) })));
    const granted = answers.filter(({ answer }) => answer.status === 201);
    expect(granted).toHaveLength(UNITS - 1);
    for (const { answer } of answers.filter(({ answer }) => answer.status !== 201)) expect(answer.body.code).toBe('CLAIM.SOLD_OUT');
    for (const { memberId, answer } of granted) {
      const order = expectOk(await app.call('GET', `/v1/mall/orders/${String(answer.body.orderId)}`, { token: tokens.get(memberId)! }));
      expect(order).toMatchObject({ memberId, skuId: 'ticket-box', quantity: 1, status: 'confirmed', pending: null, totalPoints: 0, totalAmount: '0.00', pickupCode: expect.stringMatching(/^[0-9]{8}$/) });
    }
    // The units were reserved at creation: the claims wrote nothing on the stock's shards.
    expect(await stock()).toMatchObject({ available: STOCKED - UNITS, reserved: UNITS, sold: 0 });
    for (let shard = 0; shard < 3; shard += 1) {
      const types = (await app.ledger.store.readStream(stockStream('ticket-box', shard))).map((event) => event.type);
      expect(types.filter((type) => type !== 'StockAdded' && type !== 'StockReserved')).toEqual([]);
    }
  });

  it('is collected at the member’s unit with its pickup code, like any order', async () => {
    const winner = members[0]!;
    const mine = expectOk(await app.call('GET', '/v1/me/claim-campaigns/spring-boxes/claim', { token: tokens.get(winner)! }));
    const order = expectOk(await app.call('GET', `/v1/mall/orders/${String(mine.orderId)}`, { token: tokens.get(winner)! }));
    await waitForFeedEnd(app.ledger.db);
    await app.ledger.catchUpReadModels();
    const pickups = expectOk(await app.call('GET', '/v1/admin/mall/units/u-1/pickups', { token: unitAdmin }));
    expect((pickups.orders as Array<Record<string, unknown>>).map((row) => row.orderId)).toContain(order.orderId);
    const wrong = order.pickupCode === '00000000' ? '11111111' : '00000000';
    expectCode(await app.call('POST', `/v1/admin/mall/orders/${String(order.orderId)}/collect`, { token: unitAdmin, key: key(), body: { pickupCode: wrong } }), 422, 'MALL.PICKUP_CODE_INVALID');
    const collected = expectOk(await app.call('POST', `/v1/admin/mall/orders/${String(order.orderId)}/collect`, { token: unitAdmin, key: key(), body: { pickupCode: order.pickupCode } }));
    expect(collected).toMatchObject({ status: 'collected' });
  });

  it('sells the granted units at the close and puts the unclaimed ones back on sale, once', async () => {
    // Two of the units go unclaimed: the campaign's second run, with fewer members than units.
    nowMs = Date.parse('2027-01-11T02:00:00Z');
    const small = { ...campaign, campaignId: 'late-boxes', units: 3, opensAt: new Date(nowMs + 1000).toISOString(), closesAt: new Date(nowMs + HOUR).toISOString() };
    expectOk(await app.call('POST', '/v1/admin/claim-campaigns', { token: adminToken, key: key(), body: small }), 201);
    expect(await stock()).toMatchObject({ available: 0, reserved: UNITS + 3, sold: 0 });
    nowMs += 2000;
    expectOk(await app.call('POST', '/v1/me/claim-campaigns/late-boxes/claim', { token: tokens.get(members[0]!)!, key: key() }), 201);
    nowMs += 2 * HOUR;
    await waitForFeedEnd(app.ledger.db);
    const [closed, again] = await Promise.all([app.ledger.claims.closeCampaign('late-boxes'), app.ledger.claims.closeCampaign('late-boxes')]);
    expect([closed.closedNow, again.closedNow].sort()).toEqual([false, true]);
    expect(closed).toMatchObject({ granted: 1, unclaimed: 2, returnedFen: 0 });
    expect(await stock()).toMatchObject({ available: 2, reserved: UNITS, sold: 1 });
    expect((await app.ledger.claims.closeCampaign('spring-boxes')).closedNow).toBe(true);
    expect(await stock()).toMatchObject({ available: 2, reserved: 0, sold: UNITS + 1 });
    await waitForFeedEnd(app.ledger.db);
    await app.ledger.catchUpReadModels();
    const report = await checkTrialBalance(app.ledger.db);
    expect({ ok: report.ok, negative: report.negativeAccounts }).toEqual({ ok: true, negative: [] });
  });
});
