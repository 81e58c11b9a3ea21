import { walletCredit, walletStream } from '../../src/domain/benefits';
import { checkTrialBalance } from '../../src/projections/ledger';
import { waitForFeedEnd } from '../support/feed';
import { startLedgerApp, testNationalId, type Answer, type LedgerApp } from '../support/ledger-app';
import { testTimeout } from '../support/wait-for';

/**
 * Welfare combinations over HTTP on real PostgreSQL: a unit offers SKUs within a value per
 * member; a member picks once (a second pick, even racing the first, is refused with a stable
 * code and takes no stock); the pick becomes pickup orders paid by the combination, nothing from
 * the member's points or wallet; an over-budget pick and a pick of a SKU out of stock are refused
 * and hold nothing; a member of another tree does not find the combination; the unit admin hands
 * the goods over on the pickup codes.
 */

let app: LedgerApp;
let keyCounter = 0;
const key = (): string => `ck-${(keyCounter += 1)}`;
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
  const piiCipher = await app.ledger.vault.seal(memberId, { idNumber: nationalId, phone: `1391000${String(serial).padStart(4, '0')}` });
  const name = `会员${serial}`;
  await app.ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId, name, idHmac, piiCipher }, { commandId: `enrol:${serial}`, actor: system });
  await app.ledger.members.execute(memberId, { type: 'ActivateMember', name }, { commandId: `activate:${serial}`, actor: system });
  await app.ledger.benefits.handlers.wallets.handle(
    walletStream(memberId),
    () => [walletCredit(memberId, { batchId: `combo-test-${serial}`, programmeId: 'combo-test', orgId: 'hn' }, 10_000)],
    { commandId: `fund:${serial}`, actor: system },
  );
  return memberId;
}

async function stock(skuId: string): Promise<Record<string, unknown>> {
  return expectOk(await app.call('GET', `/v1/mall/skus/${skuId}/stock`, { token: tokens.adminCity }));
}

async function memberPurse(index: number): Promise<{ points: number; held: number; wallet: unknown }> {
  const { state } = await app.ledger.members.load(members[index]!);
  const wallet = expectOk(await app.call('GET', '/v1/me/wallet', { token: tokens[`m${index + 1}`] }));
  return { points: state.available, held: state.held, wallet: { available: wallet.available, held: wallet.held } };
}

const pick = (token: string, items: Array<{ skuId: string; quantity: number }>, idempotencyKey = key(), comboId = 'spring') =>
  app.call('POST', `/v1/me/mall/combos/${comboId}/pick`, { token, key: idempotencyKey, body: { items } });

beforeAll(async () => {
  app = await startLedgerApp();
  for (const [orgId, parentId, level] of [
    ['hn', null, 'province'],
    ['hn-jz', 'hn', 'city'],
    ['u-1', 'hn-jz', 'grassroots'],
    ['u-2', 'hn-jz', 'grassroots'],
    ['other', null, 'province'],
  ] as const) {
    await app.ledger.orgs.registerOrganisation({ orgId, name: `Union ${orgId}`, parentId, level }, { commandId: `org:${orgId}`, actor: system });
  }
  for (let serial = 1; serial <= 5; serial += 1) members.push(await enrolActive(900 + serial, serial <= 4 ? 'u-1' : 'other'));
  tokens.adminCity = await app.token('admin-city', 'admin', 'hn-jz');
  tokens.adminUnit = await app.token('admin-u1', 'admin', 'u-1');
  tokens.adminUnit2 = await app.token('admin-u2', 'admin', 'u-2');
  for (const [index, memberId] of members.entries()) tokens[`m${index + 1}`] = await app.token(memberId, 'member', index < 4 ? 'u-1' : 'other');
  for (const [skuId, name, price, quantity] of [
    ['rice', '五常大米 5kg', '60.00', 10],
    ['oil', '花生油 5L', '90.00', 10],
    ['towel', '毛巾', '15.00', 1],
  ] as const) {
    expectOk(
      await app.call('POST', '/v1/admin/mall/skus', {
        token: tokens.adminCity,
        key: key(),
        body: { skuId, productId: skuId, productName: name, name, orgId: 'hn-jz', pricePoints: 20, price, shards: 2 },
      }),
      201,
    );
    expectOk(await app.call('POST', `/v1/admin/mall/skus/${skuId}/stock`, { token: tokens.adminCity, key: key(), body: { quantity } }));
  }
}, testTimeout());
afterAll(async () => {
  await app?.close();
});

describe('offering a combination', () => {
  it('lets the unit’s admin offer SKUs its members can buy, at their prices now, and refuses what does not fit', async () => {
    const body = { comboId: 'spring', orgId: 'u-1', name: '2027 春节福利', skuIds: ['rice', 'oil', 'towel'], budget: '200.00' };
    expectError(await app.call('POST', '/v1/admin/mall/combos', { token: tokens.adminUnit2, key: key(), body }), 403, 'ORG.FORBIDDEN');
    expectError(await app.call('POST', '/v1/admin/mall/combos', { token: tokens.m1, key: key(), body }), 403, 'AUTH.FORBIDDEN');
    expectError(await app.call('POST', '/v1/admin/mall/combos', { token: tokens.adminUnit, key: key(), body: { ...body, skuIds: ['rice', 'tea'] } }), 404, 'MALL.SKU_NOT_FOUND');
    expectError(await app.call('POST', '/v1/admin/mall/combos', { token: tokens.adminUnit, key: key(), body: { ...body, budget: '10.00' } }), 400, 'MALL.BUDGET_INVALID');
    expectError(await app.call('POST', '/v1/admin/mall/combos', { token: tokens.adminUnit, body }), 400, 'IDEMPOTENCY.KEY_REQUIRED');
    const offered = expectOk(await app.call('POST', '/v1/admin/mall/combos', { token: tokens.adminUnit, key: key(), body }), 201);
    expect(offered).toMatchObject({
      comboId: 'spring',
      orgId: 'u-1',
      budget: '200.00',
      status: 'offered',
      skus: [
        { skuId: 'rice', unitValue: '60.00' },
        { skuId: 'oil', unitValue: '90.00' },
        { skuId: 'towel', unitValue: '15.00' },
      ],
    });
    expectError(await app.call('POST', '/v1/admin/mall/combos', { token: tokens.adminUnit, key: key(), body }), 409, 'MALL.COMBO_EXISTS');
    // Members of the unit see it; a member of another tree does not find it, nor can pick from it.
    expect(expectOk(await app.call('GET', '/v1/mall/combos/spring', { token: tokens.m1 }))).toMatchObject({ comboId: 'spring', budget: '200.00' });
    expectError(await app.call('GET', '/v1/mall/combos/spring', { token: tokens.m5 }), 404, 'MALL.COMBO_NOT_FOUND');
    expectError(await pick(tokens.m5!, [{ skuId: 'rice', quantity: 1 }]), 404, 'MALL.COMBO_NOT_FOUND');
  });
});

describe('a member picking', () => {
  it('picks once: the pick becomes orders paid by the combination, and a second pick is refused with MALL.COMBO_ALREADY_PICKED', async () => {
    const before = await memberPurse(0);
    const firstKey = key();
    const picked = expectOk(await pick(tokens.m1!, [{ skuId: 'rice', quantity: 1 }, { skuId: 'oil', quantity: 1 }], firstKey), 201);
    expect(picked).toMatchObject({ comboId: 'spring', memberId: members[0], totalValue: '150.00', budget: '200.00' });
    const orders = picked.orders as Array<Record<string, unknown>>;
    expect(orders).toEqual([
      expect.objectContaining({ skuId: 'rice', quantity: 1, status: 'confirmed', pending: null, totalPoints: 0, totalAmount: '0.00', comboId: 'spring', fulfilment: 'pickup', pickupCode: expect.stringMatching(/^[0-9]{8}$/) }),
      expect.objectContaining({ skuId: 'oil', quantity: 1, status: 'confirmed', pending: null, totalPoints: 0, totalAmount: '0.00', comboId: 'spring' }),
    ]);
    // Nothing from the member's points or wallet; the stock is sold.
    expect(await memberPurse(0)).toEqual(before);
    expect(await stock('rice')).toMatchObject({ available: 9, reserved: 0, sold: 1 });
    expect(await stock('oil')).toMatchObject({ available: 9, reserved: 0, sold: 1 });

    // The same request again is the same answer; another pick (another key, anything) is refused and takes nothing.
    const again = expectOk(await pick(tokens.m1!, [{ skuId: 'rice', quantity: 1 }, { skuId: 'oil', quantity: 1 }], firstKey), 201);
    expect((again.orders as Array<Record<string, unknown>>).map((order) => order.orderId)).toEqual(orders.map((order) => order.orderId));
    expectError(await pick(tokens.m1!, [{ skuId: 'towel', quantity: 1 }]), 409, 'MALL.COMBO_ALREADY_PICKED');
    expectError(await pick(tokens.m1!, [{ skuId: 'rice', quantity: 1 }, { skuId: 'oil', quantity: 1 }]), 409, 'MALL.COMBO_ALREADY_PICKED');
    expect(await stock('towel')).toMatchObject({ available: 1, reserved: 0, sold: 0 });
    expect(await stock('rice')).toMatchObject({ available: 9, reserved: 0, sold: 1 });

    const mine = expectOk(await app.call('GET', '/v1/me/mall/combos/spring/pick', { token: tokens.m1 }));
    expect(mine).toMatchObject({ totalValue: '150.00', orders: [expect.objectContaining({ orderId: orders[0]!.orderId }), expect.objectContaining({ orderId: orders[1]!.orderId })] });
    expectError(await app.call('GET', '/v1/me/mall/combos/spring/pick', { token: tokens.m2 }), 404, 'MALL.COMBO_NOT_PICKED');

    // Collected at the unit on its pickup code, like any order.
    const rice = orders[0]!;
    expectError(await app.call('POST', `/v1/admin/mall/orders/${String(rice.orderId)}/collect`, { token: tokens.adminUnit2, key: key(), body: { pickupCode: rice.pickupCode } }), 404, 'MALL.ORDER_NOT_FOUND');
    const collected = expectOk(await app.call('POST', `/v1/admin/mall/orders/${String(rice.orderId)}/collect`, { token: tokens.adminUnit, key: key(), body: { pickupCode: rice.pickupCode } }));
    expect(collected).toMatchObject({ orderId: rice.orderId, status: 'collected', comboId: 'spring' });
    await waitForFeedEnd(app.ledger.db);
    await app.ledger.catchUpReadModels();
    const waiting = expectOk(await app.call('GET', '/v1/admin/mall/units/u-1/pickups', { token: tokens.adminUnit }));
    expect((waiting.orders as Array<Record<string, unknown>>).map((order) => order.orderId)).toEqual([orders[1]!.orderId]);
  });

  it('refuses a pick worth more than the budget, and holds nothing for it', async () => {
    expectError(await pick(tokens.m2!, [{ skuId: 'oil', quantity: 2 }, { skuId: 'rice', quantity: 1 }]), 422, 'MALL.COMBO_OVER_BUDGET');
    expectError(await pick(tokens.m2!, [{ skuId: 'tea', quantity: 1 }]), 400, 'MALL.COMBO_PICK_INVALID');
    expect(await stock('oil')).toMatchObject({ available: 9, reserved: 0, sold: 1 });
  });

  it('of two picks of one member racing (two devices, two keys), records exactly one; the loser’s stock goes back', async () => {
    const answers = await Promise.all([pick(tokens.m2!, [{ skuId: 'rice', quantity: 2 }]), pick(tokens.m2!, [{ skuId: 'oil', quantity: 2 }])]);
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([201, 409]);
    expect(answers.find((answer) => answer.status === 409)!.body.code).toBe('MALL.COMBO_ALREADY_PICKED');
    const won = answers.find((answer) => answer.status === 201)!.body;
    const wonSku = (won.orders as Array<Record<string, unknown>>)[0]!.skuId;
    expect(await stock('rice')).toMatchObject({ reserved: 0, sold: wonSku === 'rice' ? 3 : 1 });
    expect(await stock('oil')).toMatchObject({ reserved: 0, sold: wonSku === 'oil' ? 3 : 1 });
  });

  it('refuses a pick when a SKU is out of stock, releases the rest, and lets the member pick again', async () => {
    // m3 takes the last towel; m4 then wants a towel and rice: refused, the rice goes back, nothing is picked.
    expectOk(await pick(tokens.m3!, [{ skuId: 'towel', quantity: 1 }]), 201);
    const riceBefore = await stock('rice');
    expectError(await pick(tokens.m4!, [{ skuId: 'rice', quantity: 1 }, { skuId: 'towel', quantity: 1 }]), 422, 'MALL.OUT_OF_STOCK');
    expect(await stock('rice')).toMatchObject({ available: riceBefore.available, reserved: 0, sold: riceBefore.sold });
    expectError(await app.call('GET', '/v1/me/mall/combos/spring/pick', { token: tokens.m4 }), 404, 'MALL.COMBO_NOT_PICKED');
    expect(expectOk(await pick(tokens.m4!, [{ skuId: 'rice', quantity: 1 }]), 201)).toMatchObject({ totalValue: '60.00' });
  });

  it('stops picks once withdrawn, and keeps the ledger balanced', async () => {
    expectError(await app.call('POST', '/v1/admin/mall/combos/spring/withdraw', { token: tokens.adminUnit2, key: key() }), 404, 'MALL.COMBO_NOT_FOUND');
    expect(expectOk(await app.call('POST', '/v1/admin/mall/combos/spring/withdraw', { token: tokens.adminUnit, key: key() }))).toMatchObject({ status: 'withdrawn' });
    const lateMember = await enrolActive(910, 'u-1');
    const lateToken = await app.token(lateMember, 'member', 'u-1');
    expectError(await pick(lateToken, [{ skuId: 'rice', quantity: 1 }]), 409, 'MALL.COMBO_WITHDRAWN');
    await waitForFeedEnd(app.ledger.db);
    await app.ledger.catchUpReadModels();
    const report = await checkTrialBalance(app.ledger.db);
    expect({ ok: report.ok, negative: report.negativeAccounts, mismatches: report.journalMismatches }).toEqual({ ok: true, negative: [], mismatches: [] });
  });
});
