import { commandSpec } from '../../../test/support/given-when-then';
import {
  cancelOrder,
  collectOrder,
  confirmOrder,
  dispatchOrder,
  dueOrder,
  evolveOrder,
  initialOrderState,
  listSku,
  initialSkuState,
  evolveSku,
  placeOrder,
  recordRejected,
  recordReserved,
  recordSettled,
  returnOrder,
  withdrawSku,
  type OrderEvent,
  type OrderPlacedData,
  type SkuListing,
} from '.';

const order = commandSpec(initialOrderState, evolveOrder);
const sku = commandSpec(initialSkuState, evolveSku);
const NOW = new Date('2026-12-20T02:00:00Z');
const listing: SkuListing = { skuId: 'rice-5kg', productId: 'rice', productName: '五常大米', name: '五常大米 5kg', orgId: 'hn-jz', pricePoints: 30, priceFen: 1250, shards: 4, listedBy: 'admin-city' };
const placement = {
  orderId: 'o-1',
  memberId: 'm-1',
  orgId: 'u-1',
  sku: listing,
  quantity: 2,
  fulfilment: 'pickup' as const,
  addressSealed: null,
  pickupCodeHash: 'hash-1',
  pickupCodeSealed: 'sealed-1',
  ttlMs: 15 * 60_000,
};
const placedData: OrderPlacedData = {
  orderId: 'o-1',
  memberId: 'm-1',
  orgId: 'u-1',
  skuId: 'rice-5kg',
  productId: 'rice',
  name: '五常大米 5kg',
  listingOrgId: 'hn-jz',
  quantity: 2,
  totalPoints: 60,
  totalFen: 2500,
  fulfilment: 'pickup',
  addressSealed: null,
  pickupCodeHash: 'hash-1',
  pickupCodeSealed: 'sealed-1',
  placedAtMs: NOW.getTime(),
  expiresAtMs: NOW.getTime() + 15 * 60_000,
};
const placed: OrderEvent = { type: 'OrderPlaced', data: placedData };
const reserved: OrderEvent = { type: 'OrderReserved', data: { orderId: 'o-1', shard: 3, holdId: 'mall:o-1', paymentId: 'mall-o-1' } };
const confirmed: OrderEvent = { type: 'OrderConfirmed', data: { orderId: 'o-1', memberId: 'm-1' } };
const cancelled: OrderEvent = { type: 'OrderCancelled', data: { orderId: 'o-1', reason: 'cancelled', by: 'm-1' } };
const expired: OrderEvent = { type: 'OrderCancelled', data: { orderId: 'o-1', reason: 'expired', by: null } };
const settled = (settlement: 'captured' | 'released' | 'refunded'): OrderEvent => ({ type: 'OrderSettled', data: { orderId: 'o-1', settlement } });
const paid = [placed, reserved, confirmed, settled('captured')];

describe('the catalogue', () => {
  it('lists a SKU priced in points, money or both, and refuses one that costs nothing', () => {
    sku.given([]).when((state) => listSku(state, listing)).then([{ type: 'SkuListed', data: listing }]);
    sku.given([]).when((state) => listSku(state, { ...listing, pricePoints: 0, priceFen: 0 })).thenFails('MALL.PRICE_INVALID');
    sku.given([]).when((state) => listSku(state, { ...listing, shards: 0 })).thenFails('MALL.SHARDS_INVALID');
    sku.given([]).when((state) => listSku(state, { ...listing, skuId: 'a b' })).thenFails('MALL.ID_INVALID');
  });

  it('lists the same SKU again as a no-op, but not with other terms', () => {
    const listed = [{ type: 'SkuListed', data: listing } as const];
    sku.given(listed).when((state) => listSku(state, { ...listing, listedBy: 'someone-else' })).then([]);
    sku.given(listed).when((state) => listSku(state, { ...listing, priceFen: 1 })).thenFails('MALL.SKU_EXISTS');
    sku.given(listed).when((state) => withdrawSku(state, { withdrawnBy: 'admin-city' })).then([{ type: 'SkuWithdrawn', data: { skuId: 'rice-5kg', withdrawnBy: 'admin-city' } }]);
  });
});

describe('placing an order', () => {
  it('fixes the prices from the listing and sets the deadline', () => {
    order.given([]).when((state) => placeOrder(state, placement, NOW)).then([placed]);
  });

  it('refuses a quantity out of bounds, a delivery without an address, and a second placement', () => {
    order.given([]).when((state) => placeOrder(state, { ...placement, quantity: 11 }, NOW)).thenFails('MALL.QUANTITY_INVALID');
    order.given([]).when((state) => placeOrder(state, { ...placement, quantity: 0 }, NOW)).thenFails('MALL.QUANTITY_INVALID');
    order.given([]).when((state) => placeOrder(state, { ...placement, fulfilment: 'delivery', pickupCodeHash: null, pickupCodeSealed: null }, NOW)).thenFails('MALL.ADDRESS_REQUIRED');
    order.given([placed]).when((state) => placeOrder(state, placement, NOW)).thenFails('MALL.ORDER_EXISTS');
  });

  it('records the placement steps once, or the refusal of one of them (which owes a release)', () => {
    order.given([placed]).when((state) => recordReserved(state, { shard: 3, holdId: 'mall:o-1', paymentId: 'mall-o-1' })).then([reserved]);
    order.given([placed, reserved]).when((state) => recordReserved(state, { shard: 3, holdId: 'mall:o-1', paymentId: 'mall-o-1' })).then([]);
    const { state } = order.given([placed]).when((s) => recordRejected(s, { code: 'POINTS.INSUFFICIENT' })).result();
    expect(state).toMatchObject({ status: 'rejected', pending: 'released', rejectedCode: 'POINTS.INSUFFICIENT' });
  });
});

describe('confirm and cancel: one decision per order', () => {
  it('confirms a reserved order, which then owes a capture', () => {
    const { events, state } = order.given([placed, reserved]).when((s) => confirmOrder(s, { memberId: 'm-1' })).result();
    expect(events).toEqual([confirmed]);
    expect(state).toMatchObject({ status: 'confirmed', pending: 'captured' });
  });

  it('refuses whichever of confirm and cancel comes second', () => {
    order.given([placed, reserved, confirmed]).when((s) => cancelOrder(s, { by: 'm-1' })).thenFails('MALL.ORDER_ALREADY_CONFIRMED');
    order.given([placed, reserved, cancelled]).when((s) => confirmOrder(s, { memberId: 'm-1' })).thenFails('MALL.ORDER_CANCELLED');
    order.given([placed, reserved, confirmed]).when((s) => confirmOrder(s, { memberId: 'm-1' })).thenFails('MALL.ORDER_ALREADY_CONFIRMED');
    order.given([placed, reserved, cancelled]).when((s) => cancelOrder(s, { by: 'm-1' })).thenFails('MALL.ORDER_CANCELLED');
  });

  it('does not confirm an order still being placed, or someone else’s', () => {
    order.given([placed]).when((s) => confirmOrder(s, { memberId: 'm-1' })).thenFails('MALL.ORDER_NOT_RESERVED');
    order.given([placed, reserved]).when((s) => confirmOrder(s, { memberId: 'm-2' })).thenFails('MALL.ORDER_NOT_FOUND');
    order.given([]).when((s) => confirmOrder(s, { memberId: 'm-1' })).thenFails('MALL.ORDER_NOT_FOUND');
  });

  it('expires an unpaid order at its deadline, once; a paid one never', () => {
    const deadline = new Date(placedData.expiresAtMs);
    expect(dueOrder(order.given([placed, reserved]).state(), new Date(deadline.getTime() - 1))).toEqual([]);
    expect(dueOrder(order.given([placed, reserved]).state(), deadline)).toEqual([expired]);
    expect(dueOrder(order.given([placed]).state(), deadline)).toEqual([expired]);
    expect(dueOrder(order.given([placed, reserved, expired]).state(), deadline)).toEqual([]);
    expect(dueOrder(order.given([placed, reserved, confirmed]).state(), deadline)).toEqual([]);
    order.given([placed, reserved, expired]).when((s) => confirmOrder(s, { memberId: 'm-1' })).thenFails('MALL.ORDER_EXPIRED');
  });

  it('records a settlement once, and only the one owed', () => {
    order.given([placed, reserved, confirmed]).when((s) => recordSettled(s, { settlement: 'captured' })).then([settled('captured')]);
    order.given(paid).when((s) => recordSettled(s, { settlement: 'captured' })).then([]);
    expect(() => order.given([placed, reserved, confirmed]).when((s) => recordSettled(s, { settlement: 'released' })).result()).toThrow(/invariant violated/);
  });
});

describe('handing over and returns', () => {
  it('collects a paid pickup order on the right code, once', () => {
    const collected: OrderEvent = { type: 'OrderCollected', data: { orderId: 'o-1', orgId: 'u-1', collectedBy: 'admin-u1' } };
    order.given(paid).when((s) => collectOrder(s, { pickupCodeHash: 'hash-1', collectedBy: 'admin-u1' })).then([collected]);
    order.given(paid).when((s) => collectOrder(s, { pickupCodeHash: 'hash-2', collectedBy: 'admin-u1' })).thenFails('MALL.PICKUP_CODE_INVALID');
    order.given([...paid, collected]).when((s) => collectOrder(s, { pickupCodeHash: 'hash-1', collectedBy: 'admin-u1' })).thenFails('MALL.ORDER_ALREADY_FULFILLED');
    order.given([placed, reserved, confirmed]).when((s) => collectOrder(s, { pickupCodeHash: 'hash-1', collectedBy: 'admin-u1' })).thenFails('MALL.ORDER_NOT_SETTLED');
    order.given([placed, reserved]).when((s) => collectOrder(s, { pickupCodeHash: 'hash-1', collectedBy: 'admin-u1' })).thenFails('MALL.ORDER_NOT_RESERVED');
    order.given(paid).when((s) => dispatchOrder(s, { dispatchedBy: 'admin-u1' })).thenFails('MALL.FULFILMENT_MISMATCH');
  });

  it('returns a paid order once: it then owes a refund', () => {
    const { events, state } = order.given(paid).when((s) => returnOrder(s, { returnedBy: 'admin-u1', reason: '破损' })).result();
    expect(events).toEqual([{ type: 'OrderReturned', data: { orderId: 'o-1', returnedBy: 'admin-u1', reason: '破损' } }]);
    expect(state).toMatchObject({ status: 'returned', pending: 'refunded' });
    order.given([...paid, ...events]).when((s) => returnOrder(s, { returnedBy: 'admin-u1', reason: '再退' })).thenFails('MALL.ORDER_ALREADY_RETURNED');
    order.given([placed, reserved, cancelled]).when((s) => returnOrder(s, { returnedBy: 'admin-u1', reason: '破损' })).thenFails('MALL.ORDER_CANCELLED');
    order.given(paid).when((s) => returnOrder(s, { returnedBy: 'admin-u1', reason: ' ' })).thenFails('MALL.REASON_INVALID');
  });
});
