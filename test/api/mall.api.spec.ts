import { walletCredit, walletStream } from '../../src/domain/benefits';
import { dumpTables, rebuildProjection } from '../../src/projections';
import { checkTrialBalance } from '../../src/projections/ledger';
import { mallProjection } from '../../src/projections/mall';
import { waitForFeedEnd } from '../support/feed';
import { startLedgerApp, testNationalId, type Answer, type LedgerApp } from '../support/ledger-app';
import { testTimeout } from '../support/wait-for';

/**
 * The welfare mall over HTTP on real PostgreSQL: a union admin lists and stocks a SKU for its
 * subtree; a member orders it (stock reserved, points held, yuan authorised on the wallet),
 * confirms (captured) and collects it at the unit with the pickup code; confirm and cancel racing
 * on one order (exactly one wins); an unpaid order expiring; the last unit wanted twice; a
 * return refunding points and yuan; a delivery address kept sealed; and the ledger balanced.
 */

const MINUTE_MS = 60_000;
let nowMs = Date.parse('2026-12-20T02:00:00Z'); // 10:00 in Shanghai
let app: LedgerApp;
let keyCounter = 0;
const key = (): string => `mk-${(keyCounter += 1)}`;
const system = { type: 'system', id: 'test-setup' };
const tokens: Record<string, string> = {};
const members: string[] = [];

function expectError(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status, code });
}

function expectOk(answer: Answer, status = 200): Record<string, unknown> {
  expect({ status: answer.status, body: answer.status === status ? {} : answer.body }).toEqual({ status, body: {} });
  return answer.body;
}

async function enrolActive(serial: number, orgId: string): Promise<string> {
  const nationalId = testNationalId(serial);
  const idHmac = app.ledger.vault.idHmac(nationalId);
  const memberId = app.ledger.vault.memberIdFor(idHmac);
  const piiCipher = await app.ledger.vault.seal(memberId, { idNumber: nationalId, phone: `1390000${String(serial).padStart(4, '0')}` });
  const name = `会员${serial}`;
  await app.ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId, name, idHmac, piiCipher }, { commandId: `enrol:${serial}`, actor: system });
  // Activation grants 100 points (the default rules).
  await app.ledger.members.execute(memberId, { type: 'ActivateMember', name }, { commandId: `activate:${serial}`, actor: system });
  return memberId;
}

/** Welfare money in the member's wallet, as a disbursement chunk would credit it (the benefits API spec covers how it gets there). */
async function fundWallet(memberId: string, amountFen: number): Promise<void> {
  await app.ledger.benefits.handlers.wallets.handle(
    walletStream(memberId),
    () => [walletCredit(memberId, { batchId: `mall-test-${memberId.slice(0, 8)}`, programmeId: 'mall-test', orgId: 'hn' }, amountFen)],
    { commandId: `fund:${memberId}`, actor: system },
  );
}

async function points(memberId: string): Promise<{ available: number; held: number }> {
  const { state } = await app.ledger.members.load(memberId);
  return { available: state.available, held: state.held };
}

async function wallet(token: string): Promise<Record<string, unknown>> {
  return expectOk(await app.call('GET', '/v1/me/wallet', { token }));
}

async function catchUp(): Promise<void> {
  await waitForFeedEnd(app.ledger.db);
  await app.ledger.catchUpReadModels();
}

async function listSku(skuId: string, body: Partial<Record<string, unknown>> = {}): Promise<void> {
  expectOk(
    await app.call('POST', '/v1/admin/mall/skus', {
      token: tokens.adminCity,
      key: key(),
      body: { skuId, productId: 'rice', productName: '五常大米', name: `五常大米 ${skuId}`, orgId: 'hn-jz', pricePoints: 30, price: '12.50', shards: 4, ...body },
    }),
    201,
  );
}

async function restock(skuId: string, quantity: number): Promise<void> {
  expectOk(await app.call('POST', `/v1/admin/mall/skus/${skuId}/stock`, { token: tokens.adminCity, key: key(), body: { quantity } }));
}

async function stock(skuId: string): Promise<Record<string, unknown>> {
  return expectOk(await app.call('GET', `/v1/mall/skus/${skuId}/stock`, { token: tokens.adminCity }));
}

async function place(token: string, body: Record<string, unknown>, idempotencyKey = key()): Promise<Answer> {
  return app.call('POST', '/v1/me/mall/orders', { token, key: idempotencyKey, body: { quantity: 1, fulfilment: 'pickup', ...body } });
}

beforeAll(async () => {
  app = await startLedgerApp({ clock: () => new Date(nowMs) });
  for (const [orgId, parentId, level] of [
    ['hn', null, 'province'],
    ['hn-jz', 'hn', 'city'],
    ['u-1', 'hn-jz', 'grassroots'],
    ['u-2', 'hn-jz', 'grassroots'],
    ['other', null, 'province'],
  ] as const) {
    await app.ledger.orgs.registerOrganisation({ orgId, name: `Union ${orgId}`, parentId, level }, { commandId: `org:${orgId}`, actor: system });
  }
  for (let serial = 1; serial <= 4; serial += 1) members.push(await enrolActive(serial, serial <= 3 ? 'u-1' : 'other'));
  for (const memberId of members) await fundWallet(memberId, 10_000); // ¥100.00 each
  tokens.adminCity = await app.token('admin-city', 'admin', 'hn-jz');
  tokens.adminUnit = await app.token('admin-u1', 'admin', 'u-1');
  tokens.adminUnit2 = await app.token('admin-u2', 'admin', 'u-2');
  for (const [index, memberId] of members.entries()) tokens[`m${index + 1}`] = await app.token(memberId, 'member', index < 3 ? 'u-1' : 'other');
  await listSku('rice-5kg');
  await restock('rice-5kg', 10);
  await catchUp();
}, testTimeout());
afterAll(async () => {
  await app?.close();
});

describe('the catalogue', () => {
  it('shows a SKU to members of the listing union’s subtree only, with its stock split over the shards', async () => {
    const page = expectOk(await app.call('GET', '/v1/mall/skus', { token: tokens.m1 }));
    expect(page.skus).toEqual([
      expect.objectContaining({ skuId: 'rice-5kg', productId: 'rice', orgId: 'hn-jz', pricePoints: 30, price: '12.50', shards: 4, available: 10, reserved: 0, sold: 0 }),
    ]);
    expect(await stock('rice-5kg')).toMatchObject({ available: 10, shards: [{ shard: 0, available: 3 }, { shard: 1, available: 3 }, { shard: 2, available: 2 }, { shard: 3, available: 2 }] });
    // A member of another province sees nothing and cannot order it.
    expect(expectOk(await app.call('GET', '/v1/mall/skus', { token: tokens.m4 })).skus).toEqual([]);
    expectError(await app.call('GET', '/v1/mall/skus/rice-5kg', { token: tokens.m4 }), 404, 'MALL.SKU_NOT_FOUND');
    expectError(await place(tokens.m4!, { skuId: 'rice-5kg' }), 404, 'MALL.SKU_NOT_FOUND');
  });

  it('lets an admin list only for their own subtree, and refuses bad input with stable codes', async () => {
    const body = { skuId: 'oil-1', productId: 'oil', productName: '花生油', name: '花生油 5L', orgId: 'hn-jz', pricePoints: 0, price: '60.00' };
    expectError(await app.call('POST', '/v1/admin/mall/skus', { token: tokens.adminUnit, key: key(), body }), 403, 'ORG.FORBIDDEN');
    expectError(await app.call('POST', '/v1/admin/mall/skus', { token: tokens.m1, key: key(), body }), 403, 'AUTH.FORBIDDEN');
    expectError(await app.call('POST', '/v1/admin/mall/skus', { token: tokens.adminCity, key: key(), body: { ...body, price: '0' } }), 400, 'MALL.PRICE_INVALID');
    expectError(await app.call('POST', '/v1/admin/mall/skus', { token: tokens.adminCity, key: key(), body: { ...body, shards: 99 } }), 400, 'VALIDATION.FAILED');
    expectError(await app.call('POST', '/v1/admin/mall/skus', { token: tokens.adminCity, body }), 400, 'IDEMPOTENCY.KEY_REQUIRED');
  });
});

describe('an order from placing to collection at the unit', () => {
  it('holds points and yuan, captures them on confirm, and hands the goods over on the member’s pickup code', async () => {
    const m1 = members[0]!;
    const placeKey = key();
    const placed = expectOk(await place(tokens.m1!, { skuId: 'rice-5kg', quantity: 2 }, placeKey), 201);
    expect(placed).toMatchObject({ status: 'reserved', quantity: 2, totalPoints: 60, totalAmount: '25.00', fulfilment: 'pickup', orgId: 'u-1' });
    expect(placed.pickupCode).toMatch(/^[0-9]{8}$/);
    const orderId = String(placed.orderId);
    expect(await points(m1)).toEqual({ available: 40, held: 60 });
    expect(await wallet(tokens.m1!)).toMatchObject({ available: '75.00', held: '25.00' });
    expect(await stock('rice-5kg')).toMatchObject({ available: 8, reserved: 2, sold: 0 });

    // The same request again answers the same order; the same key with another body is a conflict.
    expect(expectOk(await place(tokens.m1!, { skuId: 'rice-5kg', quantity: 2 }, placeKey), 201).orderId).toBe(orderId);
    expect((await place(tokens.m1!, { skuId: 'rice-5kg', quantity: 3 }, placeKey)).status).toBe(409);
    expect(await points(m1)).toEqual({ available: 40, held: 60 });

    // Nobody else pays it, or collects it before it is paid.
    expectError(await app.call('POST', `/v1/me/mall/orders/${orderId}/confirm`, { token: tokens.m2, key: key() }), 404, 'MALL.ORDER_NOT_FOUND');
    expectError(await app.call('POST', `/v1/admin/mall/orders/${orderId}/collect`, { token: tokens.adminUnit, key: key(), body: { pickupCode: placed.pickupCode } }), 409, 'MALL.ORDER_NOT_RESERVED');

    const confirmed = expectOk(await app.call('POST', `/v1/me/mall/orders/${orderId}/confirm`, { token: tokens.m1, key: key() }));
    expect(confirmed).toMatchObject({ status: 'confirmed', pending: null });
    expect(await points(m1)).toEqual({ available: 40, held: 0 });
    expect(await wallet(tokens.m1!)).toMatchObject({ available: '75.00', held: '0.00' });
    expect(await stock('rice-5kg')).toMatchObject({ available: 8, reserved: 0, sold: 2 });

    await catchUp();
    const pickups = expectOk(await app.call('GET', '/v1/admin/mall/units/u-1/pickups', { token: tokens.adminUnit }));
    expect(pickups.orders).toEqual([expect.objectContaining({ orderId, status: 'confirmed', quantity: 2, totalAmount: '25.00' })]);
    expectError(await app.call('GET', '/v1/admin/mall/units/u-1/pickups', { token: tokens.adminUnit2 }), 403, 'ORG.FORBIDDEN');
    const mine = expectOk(await app.call('GET', '/v1/me/mall/orders', { token: tokens.m1 }));
    expect(mine.orders).toEqual([expect.objectContaining({ orderId, status: 'confirmed' })]);

    // The unit admin scans the member's code: a wrong code is refused, an admin of another unit does not find the order.
    const wrong = String(placed.pickupCode) === '00000000' ? '11111111' : '00000000';
    expectError(await app.call('POST', `/v1/admin/mall/orders/${orderId}/collect`, { token: tokens.adminUnit, key: key(), body: { pickupCode: wrong } }), 422, 'MALL.PICKUP_CODE_INVALID');
    expectError(await app.call('POST', `/v1/admin/mall/orders/${orderId}/collect`, { token: tokens.adminUnit2, key: key(), body: { pickupCode: placed.pickupCode } }), 404, 'MALL.ORDER_NOT_FOUND');
    const collected = expectOk(await app.call('POST', `/v1/admin/mall/orders/${orderId}/collect`, { token: tokens.adminUnit, key: key(), body: { pickupCode: placed.pickupCode } }));
    expect(collected).toMatchObject({ orderId, status: 'collected' });
    expect(collected.pickupCode).toBeUndefined(); // The admin never sees the code.
    expectError(await app.call('POST', `/v1/admin/mall/orders/${orderId}/collect`, { token: tokens.adminUnit, key: key(), body: { pickupCode: placed.pickupCode } }), 409, 'MALL.ORDER_ALREADY_FULFILLED');
    await catchUp();
    expect(expectOk(await app.call('GET', '/v1/admin/mall/units/u-1/pickups?status=collected', { token: tokens.adminUnit })).orders).toEqual([
      expect.objectContaining({ orderId, status: 'collected' }),
    ]);
  });
});

describe('racing decisions on one order', () => {
  it('of a confirm and a cancel sent together, exactly one wins, and the other is refused with 409', async () => {
    const m2 = members[1]!;
    const outcomes: string[] = [];
    // Three rounds: the member's 100 points pay for three confirmed orders at most.
    for (let round = 0; round < 3; round += 1) {
      const before = await points(m2);
      const placed = expectOk(await place(tokens.m2!, { skuId: 'rice-5kg' }), 201);
      const orderId = String(placed.orderId);
      const [confirm, cancel] = await Promise.all([
        app.call('POST', `/v1/me/mall/orders/${orderId}/confirm`, { token: tokens.m2, key: key() }),
        app.call('POST', `/v1/mall/orders/${orderId}/cancel`, { token: tokens.m2, key: key() }),
      ]);
      expect([confirm.status, cancel.status].sort()).toEqual([200, 409]);
      const winner = confirm.status === 200 ? 'confirmed' : 'cancelled';
      outcomes.push(winner);
      const loser = confirm.status === 200 ? cancel : confirm;
      expect(loser.body.code).toBe(winner === 'confirmed' ? 'MALL.ORDER_ALREADY_CONFIRMED' : 'MALL.ORDER_CANCELLED');
      const order = expectOk(await app.call('GET', `/v1/mall/orders/${orderId}`, { token: tokens.m2 }));
      expect(order).toMatchObject({ status: winner, pending: null });
      // The points moved exactly as the winner says: spent once, or not at all.
      expect(await points(m2)).toEqual({ available: before.available - (winner === 'confirmed' ? 30 : 0), held: 0 });
    }
    expect(outcomes.length).toBe(3);
    expect(await wallet(tokens.m2!)).toMatchObject({ held: '0.00' });
  });
});

describe('time limits, stock and returns', () => {
  it('expires an order not paid in time: the sweep releases stock, points and yuan exactly once', async () => {
    const m3 = members[2]!;
    const before = await stock('rice-5kg');
    const placed = expectOk(await place(tokens.m3!, { skuId: 'rice-5kg' }), 201);
    expect(await points(m3)).toEqual({ available: 70, held: 30 });
    nowMs += 16 * MINUTE_MS;
    await catchUp();
    expect(await app.ledger.mall.sweep()).toEqual({ expired: 1, settled: 1 });
    expect(await app.ledger.mall.sweep()).toEqual({ expired: 0, settled: 0 });
    expect(expectOk(await app.call('GET', `/v1/mall/orders/${String(placed.orderId)}`, { token: tokens.m3 }))).toMatchObject({ status: 'expired', pending: null });
    expect(await points(m3)).toEqual({ available: 100, held: 0 });
    expect(await wallet(tokens.m3!)).toMatchObject({ available: '100.00', held: '0.00' });
    expect(await stock('rice-5kg')).toMatchObject({ available: before.available, reserved: 0 });
    expectError(await app.call('POST', `/v1/me/mall/orders/${String(placed.orderId)}/confirm`, { token: tokens.m3, key: key() }), 409, 'MALL.ORDER_EXPIRED');
  });

  it('sells the last unit once: the second order is refused MALL.OUT_OF_STOCK and holds nothing', async () => {
    await listSku('tea-1', { productId: 'tea', productName: '信阳毛尖', shards: 1, pricePoints: 10, price: '0' });
    await restock('tea-1', 1);
    const first = place(tokens.m3!, { skuId: 'tea-1' });
    const second = place(tokens.m3!, { skuId: 'tea-1' });
    const answers = await Promise.all([first, second]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 422]);
    expect(answers.find((answer) => answer.status === 422)!.body.code).toBe('MALL.OUT_OF_STOCK');
    expect(await points(members[2]!)).toEqual({ available: 90, held: 10 });
    expect(await stock('tea-1')).toMatchObject({ available: 0, reserved: 1, sold: 0 });
  });

  it('refunds a returned order’s points and yuan once', async () => {
    const m1 = members[0]!;
    const before = await points(m1);
    const placed = expectOk(await place(tokens.m1!, { skuId: 'rice-5kg' }), 201);
    const orderId = String(placed.orderId);
    expectOk(await app.call('POST', `/v1/me/mall/orders/${orderId}/confirm`, { token: tokens.m1, key: key() }));
    expect(await wallet(tokens.m1!)).toMatchObject({ available: '62.50' });
    expectError(await app.call('POST', `/v1/admin/mall/orders/${orderId}/return`, { token: tokens.m1, key: key(), body: { reason: '破损' } }), 403, 'AUTH.FORBIDDEN');
    const returned = expectOk(await app.call('POST', `/v1/admin/mall/orders/${orderId}/return`, { token: tokens.adminUnit, key: key(), body: { reason: '包装破损' } }));
    expect(returned).toMatchObject({ status: 'returned', pending: null });
    expect(await points(m1)).toEqual(before);
    expect(await wallet(tokens.m1!)).toMatchObject({ available: '75.00', held: '0.00' });
    expectError(await app.call('POST', `/v1/admin/mall/orders/${orderId}/return`, { token: tokens.adminUnit, key: key(), body: { reason: '再退' } }), 409, 'MALL.ORDER_ALREADY_RETURNED');
  });

  it('keeps a delivery address sealed: never in the stored events, shown to the member', async () => {
    const address = '河南省焦作市解放区民主路 88 号 3 单元';
    expectError(await place(tokens.m1!, { skuId: 'rice-5kg', fulfilment: 'delivery' }), 400, 'MALL.ADDRESS_REQUIRED');
    const placed = expectOk(await place(tokens.m1!, { skuId: 'rice-5kg', fulfilment: 'delivery', address }), 201);
    expect(placed).toMatchObject({ fulfilment: 'delivery', address });
    expect(placed.pickupCode).toBeUndefined();
    const stored = await app.ledger.db.one<{ count: number }>(`SELECT count(*)::int AS count FROM ul_events WHERE data::text LIKE $1`, [`%民主路%`]);
    expect(stored.count).toBe(0);
    const orderId = String(placed.orderId);
    expectOk(await app.call('POST', `/v1/me/mall/orders/${orderId}/confirm`, { token: tokens.m1, key: key() }));
    expectError(await app.call('POST', `/v1/admin/mall/orders/${orderId}/collect`, { token: tokens.adminUnit, key: key(), body: { pickupCode: '12345678' } }), 409, 'MALL.FULFILMENT_MISMATCH');
    expect(expectOk(await app.call('POST', `/v1/admin/mall/orders/${orderId}/dispatch`, { token: tokens.adminUnit, key: key() }))).toMatchObject({ status: 'dispatched', address });
  });

  it('keeps the ledger balanced: trial balance zero per asset, nothing negative at any position', async () => {
    await catchUp();
    const report = await checkTrialBalance(app.ledger.db);
    expect({ ok: report.ok, negative: report.negativeAccounts, mismatches: report.journalMismatches }).toEqual({ ok: true, negative: [], mismatches: [] });
  });

  it('rebuilds the mall read models from event zero into identical tables', async () => {
    await catchUp();
    const tables = mallProjection().tables;
    const live = await dumpTables(app.ledger.db, tables);
    expect(live.ul_mall_orders?.length).toBeGreaterThan(5);
    await rebuildProjection(app.ledger.store, app.ledger.db, mallProjection());
    expect(await dumpTables(app.ledger.db, tables)).toEqual(live);
  });
});
