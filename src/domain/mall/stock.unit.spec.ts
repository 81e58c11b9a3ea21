import { commandSpec } from '../../../test/support/given-when-then';
import { addStock, commitStock, evolveStock, initialStockState, releaseStock, reserveStock, type StockEvent } from '.';

const stock = commandSpec(initialStockState, evolveStock);
const SKU = 'rice-5kg';
const added = (quantity: number, restockId = 'r-1'): StockEvent => ({ type: 'StockAdded', data: { skuId: SKU, shard: 2, restockId, quantity } });
const reserved = (orderId: string, quantity: number): StockEvent => ({ type: 'StockReserved', data: { skuId: SKU, shard: 2, orderId, quantity } });
const committed = (orderId: string, quantity: number): StockEvent => ({ type: 'StockCommitted', data: { skuId: SKU, shard: 2, orderId, quantity } });
const released = (orderId: string, quantity: number): StockEvent => ({ type: 'StockReleased', data: { skuId: SKU, shard: 2, orderId, quantity } });
const order = (orderId: string, quantity: number) => ({ skuId: SKU, shard: 2, orderId, quantity });

describe('a stock shard', () => {
  it('adds units once per restock id', () => {
    stock.given([]).when((state) => addStock(state, { skuId: SKU, shard: 2, restockId: 'r-1', quantity: 5 })).then([added(5)]);
    stock.given([added(5)]).when((state) => addStock(state, { skuId: SKU, shard: 2, restockId: 'r-1', quantity: 5 })).then([]);
    stock.given([]).when((state) => addStock(state, { skuId: SKU, shard: 2, restockId: 'r-2', quantity: 0 })).thenFails('MALL.QUANTITY_INVALID');
  });

  it('reserves from what is available, and never more (MALL.OUT_OF_STOCK)', () => {
    const { state } = stock.given([added(3)]).when((s) => reserveStock(s, order('o-1', 2))).result();
    expect(state).toMatchObject({ available: 1, reserved: 2, sold: 0 });
    stock.given([added(3), reserved('o-1', 2)]).when((s) => reserveStock(s, order('o-2', 2))).thenFails('MALL.OUT_OF_STOCK', { availableInShard: 1, requested: 2 });
    stock.given([]).when((s) => reserveStock(s, order('o-1', 1))).thenFails('MALL.OUT_OF_STOCK');
  });

  it('reserves once per order: a retried reservation changes nothing', () => {
    stock.given([added(3), reserved('o-1', 2)]).when((s) => reserveStock(s, order('o-1', 2))).then([]);
  });

  it('commits a paid reservation into a sale, once', () => {
    const given = [added(3), reserved('o-1', 2)];
    const { events, state } = stock.given(given).when((s) => commitStock(s, { skuId: SKU, shard: 2, orderId: 'o-1' })).result();
    expect(events).toEqual([committed('o-1', 2)]);
    expect(state).toMatchObject({ available: 1, reserved: 0, sold: 2 });
    stock.given([...given, committed('o-1', 2)]).when((s) => commitStock(s, { skuId: SKU, shard: 2, orderId: 'o-1' })).then([]);
    stock.given(given).when((s) => commitStock(s, { skuId: SKU, shard: 2, orderId: 'o-9' })).thenFails('MALL.RESERVATION_NOT_FOUND');
    stock.given([...given, released('o-1', 2)]).when((s) => commitStock(s, { skuId: SKU, shard: 2, orderId: 'o-1' })).thenFails('MALL.RESERVATION_RELEASED');
  });

  it('releases a reservation once; an order with none here releases nothing', () => {
    const given = [added(3), reserved('o-1', 2)];
    const { events, state } = stock.given(given).when((s) => releaseStock(s, { skuId: SKU, shard: 2, orderId: 'o-1' })).result();
    expect(events).toEqual([released('o-1', 2)]);
    expect(state).toMatchObject({ available: 3, reserved: 0 });
    stock.given([...given, released('o-1', 2)]).when((s) => releaseStock(s, { skuId: SKU, shard: 2, orderId: 'o-1' })).then([]);
    stock.given(given).when((s) => releaseStock(s, { skuId: SKU, shard: 2, orderId: 'o-9' })).then([]);
  });

  it('crashes rather than release units already sold (a programmer error)', () => {
    expect(() => stock.given([added(3), reserved('o-1', 2), committed('o-1', 2)]).when((s) => releaseStock(s, { skuId: SKU, shard: 2, orderId: 'o-1' })).result()).toThrow(
      /invariant violated/,
    );
  });
});
