import type { DbTask } from '../../infra/database';
import type { RecordedEvent } from '../../eventstore/event-store';
import type { OrderEvent, SkuEvent, StockEvent } from '../../domain/mall';
import type { Projection } from '../runner';

/** The mall's catalogue, stock and orders (ul_mall_skus, ul_mall_stock, ul_mall_orders). */
export const MALL_PROJECTION = 'mall';

type MallEvent = SkuEvent | StockEvent | OrderEvent;

/** Every event type this projection reads; the `satisfies` check fails to compile when one is left out. */
const EVENT_TYPES = {
  SkuListed: true,
  SkuWithdrawn: true,
  StockAdded: true,
  StockReserved: true,
  StockCommitted: true,
  StockReleased: true,
  OrderPlaced: true,
  OrderReserved: true,
  OrderRejected: true,
  OrderConfirmed: true,
  OrderCancelled: true,
  OrderSettled: true,
  OrderCollected: true,
  OrderDispatched: true,
  OrderReturned: true,
} as const satisfies Record<MallEvent['type'], true>;

/** How a stock event moves a shard's three counts. */
function stockDelta(event: StockEvent): [available: number, reserved: number, sold: number] {
  const q = event.data.quantity;
  switch (event.type) {
    case 'StockAdded':
      return [q, 0, 0];
    case 'StockReserved':
      return [-q, q, 0];
    case 'StockCommitted':
      return [0, -q, q];
    case 'StockReleased':
      return [q, -q, 0];
    default: {
      const unknown: never = event;
      throw new Error(`unknown stock event ${(unknown as { type: string }).type}`);
    }
  }
}

/** The order status and pending settlement each order event leads to (null: unchanged). */
function orderChange(event: Exclude<OrderEvent, { type: 'OrderPlaced' }>): { status: string | null; pending: string | null | undefined; rejectedCode?: string } {
  switch (event.type) {
    case 'OrderReserved':
      return { status: 'reserved', pending: undefined };
    case 'OrderRejected':
      return { status: 'rejected', pending: 'released', rejectedCode: event.data.code };
    case 'OrderConfirmed':
      return { status: 'confirmed', pending: 'captured' };
    case 'OrderCancelled':
      return { status: event.data.reason === 'expired' ? 'expired' : 'cancelled', pending: 'released' };
    case 'OrderSettled':
      return { status: null, pending: null };
    case 'OrderCollected':
      return { status: 'collected', pending: undefined };
    case 'OrderDispatched':
      return { status: 'dispatched', pending: undefined };
    case 'OrderReturned':
      return { status: 'returned', pending: 'refunded' };
    default: {
      const unknown: never = event;
      throw new Error(`unknown order event ${(unknown as { type: string }).type}`);
    }
  }
}

export function mallProjection(): Projection {
  return {
    name: MALL_PROJECTION,
    tables: ['ul_mall_skus', 'ul_mall_stock', 'ul_mall_orders'],
    streamPrefixes: ['mall-'],
    eventTypes: Object.keys(EVENT_TYPES),
    async apply(tx: DbTask, events: RecordedEvent[]) {
      // Stock events of a hot SKU come by the thousand: summed per shard, one upsert each per batch.
      const stock = new Map<string, { skuId: string; shard: number; delta: [number, number, number] }>();
      for (const recorded of events) {
        const event = { type: recorded.type, data: recorded.data } as unknown as MallEvent;
        const at = recorded.metadata.occurredAt;
        switch (event.type) {
          case 'SkuListed': {
            const d = event.data;
            await tx.none(
              `INSERT INTO ul_mall_skus (sku_id, product_id, product_name, name, org_id, price_points, price_fen, shards, status, listed_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'listed', $9)`,
              [d.skuId, d.productId, d.productName, d.name, d.orgId, d.pricePoints, d.priceFen, d.shards, at],
            );
            break;
          }
          case 'SkuWithdrawn':
            await tx.none(`UPDATE ul_mall_skus SET status = 'withdrawn' WHERE sku_id = $1`, [event.data.skuId]);
            break;
          case 'StockAdded':
          case 'StockReserved':
          case 'StockCommitted':
          case 'StockReleased': {
            const key = `${event.data.skuId}\u0000${event.data.shard}`;
            const entry = stock.get(key) ?? { skuId: event.data.skuId, shard: event.data.shard, delta: [0, 0, 0] };
            const delta = stockDelta(event);
            entry.delta = [entry.delta[0] + delta[0], entry.delta[1] + delta[1], entry.delta[2] + delta[2]];
            stock.set(key, entry);
            break;
          }
          case 'OrderPlaced': {
            const d = event.data;
            await tx.none(
              `INSERT INTO ul_mall_orders (order_id, member_id, org_id, sku_id, product_id, name, quantity, total_points, total_fen, fulfilment,
                                           status, pending, placed_at, expires_at, updated_at, position)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'placed', NULL, $11, $12, $13, $14)`,
              [
                d.orderId,
                d.memberId,
                d.orgId,
                d.skuId,
                d.productId,
                d.name,
                d.quantity,
                d.totalPoints,
                d.totalFen,
                d.fulfilment,
                new Date(d.placedAtMs),
                new Date(d.expiresAtMs),
                at,
                recorded.globalPosition.toString(),
              ],
            );
            break;
          }
          default: {
            const change = orderChange(event);
            await tx.none(
              `UPDATE ul_mall_orders SET status = COALESCE($2, status),
                      pending = CASE WHEN $3 THEN $4 ELSE pending END,
                      rejected_code = COALESCE($5, rejected_code), updated_at = $6
                WHERE order_id = $1`,
              [event.data.orderId, change.status, change.pending !== undefined, change.pending ?? null, change.rejectedCode ?? null, at],
            );
          }
        }
      }
      for (const { skuId, shard, delta } of stock.values()) {
        await tx.none(
          `INSERT INTO ul_mall_stock (sku_id, shard, available, reserved, sold) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (sku_id, shard) DO UPDATE SET available = ul_mall_stock.available + EXCLUDED.available,
             reserved = ul_mall_stock.reserved + EXCLUDED.reserved, sold = ul_mall_stock.sold + EXCLUDED.sold`,
          [skuId, shard, ...delta],
        );
      }
    },
  };
}
